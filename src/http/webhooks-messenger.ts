// /webhooks/messenger: a Facebook Page's Messenger events.
import type { FastifyInstance } from 'fastify'
import { parseMessenger } from '../channels/messenger/parse.ts'
import { ingestMessenger } from '../domain/inbox/messenger-ingest.ts'
import { registerMetaWebhook } from './meta-webhook.ts'
import type { Services } from '../services.ts'

export async function messengerWebhookRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { db, store, channels, clock, sending } = opts.services
  registerMetaWebhook(app, opts.services, {
    kind: 'messenger',
    ingest: (body, secret) => {
      const parsed = parseMessenger(body, clock.now())
      return (events) => ingestMessenger({ db, store, channels, now: clock.now, hooks: sending.messengerHooks }, events, parsed, secret)
    },
  })
}
