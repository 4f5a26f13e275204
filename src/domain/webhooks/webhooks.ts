// Outgoing webhook endpoints (issue 16), for admins: register a URL with the event types it
// wants (its secret is shown once, in the answer, and kept sealed), list them with how their
// deliveries go, delete one, read its recent attempts. Delivery itself: dispatcher.ts.
import { Errors } from '../../errors.ts'
import type { EventLog } from '../../events/event-log.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import type { DeliveryRow, EndpointRow, WebhookEndpointsRepo } from '../../store/webhook-endpoints.ts'
import type { AuditActor, AuditLog } from '../audit/audit-log.ts'
import { checkWebhookUrl } from './address-guard.ts'
import type { WebhookDispatcher } from './dispatcher.ts'
import { checkEventTypes } from './event-types.ts'
import { newWebhookSecret, webhookEventId } from './signature.ts'

export const MAX_ENDPOINTS = 20

export interface WebhookDeliveryDTO {
  id: number
  /** The event's `webhook-id`, the same on every attempt. */
  eventId: string
  eventType: string
  /** 1 for the first try of the event. */
  attempt: number
  /** delivered (2xx), retrying (failed; `nextRetryAt` says when), skipped (failed for a day; given up). */
  result: DeliveryRow['result']
  statusCode: number | null
  /** What went wrong, in words ("connection refused", "answered 500"); null when delivered. */
  error: string | null
  durationMs: number
  at: number
  nextRetryAt: number | null
}

export interface WebhookEndpointDTO {
  id: number
  url: string
  events: string[]
  createdAt: number
  /** Failed attempts at the event it is stuck on (0: nothing waiting), and when it is tried next. */
  attempts: number
  nextAttemptAt: number | null
  lastDelivery: WebhookDeliveryDTO | null
}

export class Webhooks {
  constructor(
    private readonly d: {
      repo: WebhookEndpointsRepo
      events: EventLog
      secrets: SecretBox
      audit: AuditLog
      dispatcher: WebhookDispatcher
      allowPrivate: boolean
      now: () => number
    },
  ) {}

  /** At app ready: every endpoint's worker, from its cursor. */
  start(): void {
    this.d.dispatcher.start()
  }

  /** At close: requests in flight get `graceMs` to finish and be recorded. */
  stop(graceMs: number): Promise<void> {
    return this.d.dispatcher.stop(graceMs)
  }

  /** After every commit (app.ts): wakes the endpoints that want one of its events. */
  get observe() {
    return this.d.dispatcher.observe
  }

  /** The endpoint with its secret: the only time the secret is shown. */
  create(workspaceId: number, actor: AuditActor, input: { url: string; events: string[] }): WebhookEndpointDTO & { secret: string } {
    const url = checkWebhookUrl(input.url, this.d.allowPrivate)
    const events = checkEventTypes(input.events)
    if (this.d.repo.count(workspaceId) >= MAX_ENDPOINTS) throw Errors.webhookEndpointLimit(MAX_ENDPOINTS)
    const secret = newWebhookSecret()
    const row = this.d.repo.insert({
      workspaceId,
      url,
      events,
      secret: this.d.secrets.seal(secret),
      // From now on: the events already in the log happened before it existed.
      cursor: this.d.events.head,
      now: this.d.now(),
      createdBy: actor.userId,
    })
    this.d.audit.record({
      workspaceId,
      actor,
      action: 'webhook_endpoint.created',
      target: { type: 'webhook_endpoint', id: row.id },
      detail: { url: withoutQuery(url), events },
    })
    this.d.dispatcher.add(row)
    return { ...this.dto(row), secret }
  }

  list(workspaceId: number): WebhookEndpointDTO[] {
    return this.d.repo.list(workspaceId).map((r) => this.dto(r))
  }

  remove(workspaceId: number, actor: AuditActor, id: number): void {
    const row = this.d.repo.get(workspaceId, id)
    if (!row || !this.d.repo.delete(workspaceId, id)) throw Errors.notFound('Webhook endpoint')
    this.d.dispatcher.remove(id)
    this.d.audit.record({
      workspaceId,
      actor,
      action: 'webhook_endpoint.deleted',
      target: { type: 'webhook_endpoint', id },
      detail: { url: withoutQuery(row.url) },
    })
  }

  /** Newest first. */
  deliveries(workspaceId: number, id: number, limit: number): WebhookDeliveryDTO[] {
    if (!this.d.repo.get(workspaceId, id)) throw Errors.notFound('Webhook endpoint')
    return this.d.repo.deliveries(id, limit).map((r) => this.deliveryDTO(r))
  }

  private dto(r: EndpointRow): WebhookEndpointDTO {
    const last = this.d.repo.last(r.id)
    return {
      id: r.id,
      url: r.url,
      events: JSON.parse(r.events) as string[],
      createdAt: r.createdAt,
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt,
      lastDelivery: last ? this.deliveryDTO(last) : null,
    }
  }

  private deliveryDTO(r: DeliveryRow): WebhookDeliveryDTO {
    return { ...r, eventId: webhookEventId(this.d.events.epoch, r.eventId) }
  }
}

/** The audit log names the address without its query, which may carry a receiver's token. */
function withoutQuery(url: string): string {
  const u = new URL(url)
  return u.origin + u.pathname
}
