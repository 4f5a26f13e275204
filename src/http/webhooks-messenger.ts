// /webhooks/messenger: a Facebook Page's Messenger events.
import type { FastifyInstance } from 'fastify'
import { parseMessenger } from '../channels/messenger/parse.ts'
import { ingestMessenger } from '../domain/inbox/messenger-ingest.ts'
import { registerMetaWebhook } from './meta-webhook.ts'
import type { Services } from '../services.ts'

export async function messengerWebhookRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { store, writer, effects, channels, clock, health } = opts.services
  registerMetaWebhook(app, opts.services, {
    kind: 'messenger',
    ingest: (body, secret) => {
      const parsed = parseMessenger(body, clock.now())
      for (const ev of parsed.events) health.tracker.webhookSeen('messenger', ev.pageId)
      const keptRaw = health.tracker.keptRaw.bind(health.tracker)
      return (events) =>
        ingestMessenger({ store, writer, effects, secretOf: (c) => channels.secretOf(c), now: clock.now, keptRaw }, events, parsed, secret)
    },
  })
}
