// Outgoing webhook endpoints (issue 16), for admins: register a URL with the event types it
// wants (its secret is shown once, in the answer, and kept sealed), list them with how their
// deliveries go, delete one, read its recent attempts. Delivery itself: dispatcher.ts.
// Written as units of work (issue 17): the routes run them (`services.units`), then tell this
// service what committed (`created`, `removed`) so the delivery workers follow.
import { Errors } from '../../errors.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import type { Q } from '../../store/unit.ts'
import type { DeliveryRow, EndpointRow, WebhookEndpointsRepo } from '../../store/webhook-endpoints.ts'
import type { AuditActor, AuditLog } from '../audit/audit-log.ts'
import { checkWebhookUrl } from './address-guard.ts'
import type { LogHead, WebhookDispatcher } from './dispatcher.ts'
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

export interface CreatedEndpoint {
  /** The answer: the endpoint with its secret, shown this once. */
  endpoint: WebhookEndpointDTO & { secret: string }
  /** For `created`, once committed. */
  row: EndpointRow
}

export class Webhooks {
  constructor(
    private readonly d: {
      repo: WebhookEndpointsRepo
      events: LogHead
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

  /** The endpoint with its secret: the only time the secret is shown. Then `created(row)`. */
  *createUnit(workspaceId: number, actor: AuditActor, input: { url: string; events: string[] }): Q<CreatedEndpoint> {
    const { repo } = this.d
    const url = checkWebhookUrl(input.url, this.d.allowPrivate)
    const events = checkEventTypes(input.events)
    if ((yield* repo.count(workspaceId)) >= MAX_ENDPOINTS) throw Errors.webhookEndpointLimit(MAX_ENDPOINTS)
    const secret = newWebhookSecret()
    const row = yield* repo.insert({
      workspaceId,
      url,
      events,
      secret: this.d.secrets.seal(secret),
      // From now on: the events already in the log happened before it existed.
      cursor: this.d.events.head,
      now: this.d.now(),
      createdBy: actor.userId,
    })
    yield* this.d.audit.recordUnit({
      workspaceId,
      actor,
      action: 'webhook_endpoint.created',
      target: { type: 'webhook_endpoint', id: row.id },
      detail: { url: withoutQuery(url), events },
    })
    return { endpoint: { ...(yield* this.dto(row)), secret }, row }
  }

  /** After createUnit committed: the endpoint's worker starts at once (from its cursor). */
  created(row: EndpointRow): void {
    this.d.dispatcher.add(row)
  }

  *listUnit(workspaceId: number): Q<WebhookEndpointDTO[]> {
    const out: WebhookEndpointDTO[] = []
    for (const r of yield* this.d.repo.list(workspaceId)) out.push(yield* this.dto(r))
    return out
  }

  /** NOT_FOUND when it is not in this workspace. Then `removed(id)`. */
  *removeUnit(workspaceId: number, actor: AuditActor, id: number): Q<void> {
    const row = yield* this.d.repo.get(workspaceId, id)
    if (!row || !(yield* this.d.repo.delete(workspaceId, id))) throw Errors.notFound('Webhook endpoint')
    yield* this.d.audit.recordUnit({
      workspaceId,
      actor,
      action: 'webhook_endpoint.deleted',
      target: { type: 'webhook_endpoint', id },
      detail: { url: withoutQuery(row.url) },
    })
  }

  /** After removeUnit committed: its worker stops (a request in flight is cut off). */
  removed(id: number): void {
    this.d.dispatcher.remove(id)
  }

  /** Newest first. */
  *deliveriesUnit(workspaceId: number, id: number, limit: number): Q<WebhookDeliveryDTO[]> {
    if (!(yield* this.d.repo.get(workspaceId, id))) throw Errors.notFound('Webhook endpoint')
    return (yield* this.d.repo.deliveries(id, limit)).map((r) => this.deliveryDTO(r))
  }

  private *dto(r: EndpointRow): Q<WebhookEndpointDTO> {
    const last = yield* this.d.repo.last(r.id)
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
