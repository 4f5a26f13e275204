// The shape every Meta webhook route shares (WhatsApp and Messenger): the GET
// verification handshake, and a signed POST checked in this order — content type (415)
// → signature over the raw bytes (401, nothing stored) → JSON (400, kept raw) →
// ingest in a group commit → 200 only after the commit.
import type { FastifyInstance } from 'fastify'
import sjson from 'secure-json-parse'
import { verifyWithAny } from '../channels/meta-signature.ts'
import { keepRawUnit } from '../domain/inbox/whatsapp-ingest.ts'
import type { ChannelKind } from '../domain/channels/channels.ts'
import type { Emitter } from '../events/event-log.ts'
import type { Q } from '../store/unit.ts'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'

// Meta's payloads reach 3 MB; Fastify's 1 MiB default would refuse real deliveries,
// and Meta would retry them for a week.
export const META_WEBHOOK_BODY_LIMIT = 4 * 1024 * 1024

export interface MetaWebhookSpec {
  kind: ChannelKind
  /** The state change for a verified, parsed body; `secret` is the app secret that signed it. */
  ingest(body: unknown, secret: string): (events: Emitter) => Q<void>
}

/** Registers GET/POST /webhooks/<kind>. Call inside an encapsulated plugin. */
export function registerMetaWebhook(app: FastifyInstance, services: Services, spec: MetaWebhookSpec): void {
  const { ingest, channels } = services
  const tracker = services.health.tracker
  const kept = { keptRaw: tracker.keptRaw.bind(tracker) }
  const path = `/webhooks/${spec.kind}`

  // Encapsulated: only this plugin sees JSON as raw bytes.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json'], { parseAs: 'buffer', bodyLimit: META_WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  )

  app.get(path, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    const token = q['hub.verify_token']
    if (q['hub.mode'] === 'subscribe' && token && q['hub.challenge'] && channels.verifyTokens(spec.kind).includes(token)) {
      return reply.type('text/plain').send(q['hub.challenge'])
    }
    throw Errors.verifyFailed()
  })

  // One info line per delivery, its answer (request-log.ts), and no more: Meta sends up
  // to three status webhooks per message sent plus every inbound one.
  // No helmet: its browser-facing headers mean nothing to Meta (2.5% of the
  // route's CPU in the bench profile).
  app.post(path, { bodyLimit: META_WEBHOOK_BODY_LIMIT, helmet: false }, async (req, reply) => {
    const raw = req.body as Buffer
    const header = req.headers['x-hub-signature-256']
    const secret = verifyWithAny(channels.appSecrets(spec.kind), raw, typeof header === 'string' ? header : undefined)
    if (!secret) {
      tracker.webhookRefused(spec.kind, raw, typeof header === 'string' ? header : undefined)
      req.log.warn({ provider: spec.kind }, 'webhook refused: bad or missing signature')
      throw Errors.invalidSignature()
    }
    let body: unknown
    try {
      body = sjson.parse(raw.toString('utf8'), null, { protoAction: 'remove', constructorAction: 'remove' })
    } catch {
      // Signed but not JSON: keep the bytes for the operator, tell the sender.
      await ingest.submit({
        run: () => keepRawUnit(kept, spec.kind, 'malformed_json', raw.toString('utf8')),
        fallback: function* () {},
      })
      throw Errors.malformedJson()
    }
    // A unit of work in the queue's group commit, on either database (issue 17).
    await ingest.submit({
      run: spec.ingest(body, secret),
      // A signed payload that trips the ingest is kept whole and acknowledged:
      // Meta would otherwise retry it for a week to the same end.
      fallback: () => keepRawUnit(kept, spec.kind, 'ingest_error', raw.toString('utf8')),
    })
    tracker.webhookAccepted(spec.kind)
    return reply.status(200).send('EVENT_RECEIVED')
  })
}
