// Outgoing webhooks (issue 16), built for app.ts: the endpoints' repository, the delivery
// workers, and the admin-facing service over them.
import type { Config } from '../../config.ts'
import type { Clock, EventLog } from '../../events/event-log.ts'
import type { Db } from '../../store/db.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import { WebhookEndpointsRepo } from '../../store/webhook-endpoints.ts'
import type { AuditLog } from '../audit/audit-log.ts'
import { WebhookDispatcher, type DispatcherOptions } from './dispatcher.ts'
import { Webhooks } from './webhooks.ts'

export function createWebhooks(d: {
  config: Readonly<Config>
  db: Db
  events: EventLog
  secrets: SecretBox
  audit: AuditLog
  clock: Clock
  log: DispatcherOptions['log']
}): Webhooks {
  const repo = new WebhookEndpointsRepo(d.db)
  const c = d.config.webhooks
  const dispatcher = new WebhookDispatcher({
    repo,
    events: d.events,
    secrets: d.secrets,
    clock: d.clock,
    retryBaseMs: c.retryBaseMs,
    retryCapMs: c.retryCapMs,
    retryForMs: c.retryForMs,
    timeoutMs: c.timeoutMs,
    allowPrivate: c.allowPrivate,
    log: d.log,
  })
  return new Webhooks({
    repo,
    events: d.events,
    secrets: d.secrets,
    audit: d.audit,
    dispatcher,
    allowPrivate: c.allowPrivate,
    now: d.clock.now,
  })
}
