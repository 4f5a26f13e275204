// /webhooks/whatsapp: a WhatsApp Business Account's messages and statuses. The checks
// every Meta webhook shares (handshake, signature, JSON, group commit) live in
// meta-webhook.ts.
import type { FastifyInstance } from 'fastify'
import { parseWhatsApp } from '../channels/whatsapp/parse.ts'
import { ingestWhatsApp } from '../domain/inbox/whatsapp-ingest.ts'
import { registerMetaWebhook } from './meta-webhook.ts'
import type { Services } from '../services.ts'

export async function whatsappWebhookRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { store, writer, effects, clock, channels, health } = opts.services
  const secretOf = channels.secretOf.bind(channels)
  registerMetaWebhook(app, opts.services, {
    kind: 'whatsapp',
    ingest: (body, secret) => {
      const parsed = parseWhatsApp(body, clock.now())
      for (const c of parsed.changes) health.tracker.webhookSeen('whatsapp', c.phoneNumberId)
      const keptRaw = health.tracker.keptRaw.bind(health.tracker)
      return (events) =>
        ingestWhatsApp({ store, writer, effects, now: clock.now, signedWith: { secret, secretOf }, keptRaw }, events, parsed)
    },
  })
}
