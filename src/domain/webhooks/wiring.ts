// Outgoing webhooks (issue 16), built for app.ts: the endpoints' repository, the delivery
// workers, and the admin-facing service over them.
import type { Config } from '../../config.ts'
import type { Clock } from '../../events/event-log.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import { WebhookEndpointsRepo } from '../../store/webhook-endpoints.ts'
import type { AuditLog } from '../audit/audit-log.ts'
import { type DispatcherOptions, type LogHead, WebhookDispatcher } from './dispatcher.ts'
import { Webhooks } from './webhooks.ts'

export function createWebhooks(d: {
  config: Readonly<Config>
  /** The app's database (issue 17: SQLite or PostgreSQL). */
  units: UnitRunner
  events: LogHead
  secrets: SecretBox
  audit: AuditLog
  clock: Clock
  log: DispatcherOptions['log']
}): Webhooks {
  const repo = new WebhookEndpointsRepo()
  const c = d.config.webhooks
  const dispatcher = new WebhookDispatcher({
    repo,
    units: d.units,
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
