// /webhooks/whatsapp: Meta's GET handshake and signed POST deliveries.
// Order of checks: content type (415) → signature over the raw bytes (401, nothing
// stored) → JSON (400, kept raw) → ingest in a group commit → 200 only after commit.
import type { FastifyInstance } from 'fastify'
import sjson from 'secure-json-parse'
import { verifySignature } from '../channels/meta-signature.ts'
import { parseWhatsApp } from '../channels/whatsapp/parse.ts'
import { ingestWhatsApp, keepRaw } from '../domain/whatsapp-ingest.ts'
import { Errors } from '../errors.ts'
import type { Services } from '../app.ts'

// Meta's payloads reach 3 MB; Fastify's 1 MiB default would refuse real deliveries,
// and Meta would retry them for a week.
export const WEBHOOK_BODY_LIMIT = 4 * 1024 * 1024

export async function whatsappWebhookRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { config, ingest, db, store, clock } = opts.services

  // Encapsulated: only this plugin sees JSON as raw bytes.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    ['application/json'],
    { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  )

  app.get('/webhooks/whatsapp', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>
    if (q['hub.mode'] === 'subscribe' && q['hub.verify_token'] === config.metaVerifyToken && q['hub.challenge']) {
      return reply.type('text/plain').send(q['hub.challenge'])
    }
    throw Errors.verifyFailed()
  })

  app.post('/webhooks/whatsapp', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req, reply) => {
    const raw = req.body as Buffer
    const signature = req.headers['x-hub-signature-256']
    if (!verifySignature(config.metaAppSecret, raw, typeof signature === 'string' ? signature : undefined)) {
      req.log.warn('webhook refused: bad or missing signature')
      throw Errors.invalidSignature()
    }
    let body: unknown
    try {
      body = sjson.parse(raw.toString('utf8'), null, { protoAction: 'remove', constructorAction: 'remove' })
    } catch {
      // Signed but not JSON: keep the bytes for the operator, tell the sender.
      await ingest.submit({
        run: () => keepRaw(db, 'whatsapp', 'malformed_json', raw.toString('utf8')),
        fallback: () => undefined,
      })
      throw Errors.malformedJson()
    }
    const parsed = parseWhatsApp(body, clock.now())
    await ingest.submit({
      run: (events) => ingestWhatsApp({ db, store, now: clock.now, hooks: opts.services.sending.ingestHooks }, events, parsed),
      // A signed payload that trips the ingest is kept whole and acknowledged:
      // Meta would otherwise retry it for a week to the same end.
      fallback: () => keepRaw(db, 'whatsapp', 'ingest_error', raw.toString('utf8')),
    })
    return reply.status(200).send('EVENT_RECEIVED')
  })
}
