// Outgoing webhooks (issue 16): the endpoints, their cursors on the event log, and their
// recent delivery attempts. Every read that serves a person takes the workspace id, which
// comes from the session; the delivery workers read by endpoint id.
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.ts'

export interface EndpointRow {
  id: number
  workspaceId: number
  url: string
  /** Event types, as stored (a JSON array). */
  events: string
  /** Sealed (store/secret-box.ts). */
  secret: string
  /** Every event of the workspace at or below this id was delivered, skipped, or is not for this endpoint. */
  cursor: number
  /** Failed attempts at the first event after the cursor. */
  attempts: number
  nextAttemptAt: number | null
  createdAt: number
}

/** An event the endpoint is to receive: its row in the event log. */
export interface PendingEvent {
  id: number
  type: string
  /** The payload's JSON text, as stored. */
  data: string
  createdAt: number
}

export type DeliveryResult = 'delivered' | 'retrying' | 'skipped'

export interface DeliveryRow {
  id: number
  eventId: number
  eventType: string
  attempt: number
  result: DeliveryResult
  statusCode: number | null
  error: string | null
  durationMs: number
  at: number
  nextRetryAt: number | null
}

export type NewDelivery = Omit<DeliveryRow, 'id'>

// Attempts kept per endpoint: the settings screen's list, and enough to see a day of retries.
export const DELIVERIES_KEPT = 200

export class WebhookEndpointsRepo {
  private readonly insertStmt: Statement
  private readonly listStmt: Statement
  private readonly allStmt: Statement
  private readonly byIdStmt: Statement
  private readonly countStmt: Statement
  private readonly deleteStmt: Statement
  private readonly nextEventStmt: Statement
  private readonly advanceStmt: Statement
  private readonly retryStmt: Statement
  private readonly insertDeliveryStmt: Statement
  private readonly pruneDeliveriesStmt: Statement
  private readonly deliveriesStmt: Statement
  private readonly lastDeliveryStmt: Statement
  private readonly tx: (fn: () => boolean) => boolean

  constructor(db: Db) {
    const c = db.$client
    const cols = `id, workspace_id AS workspaceId, url, events, secret, cursor, attempts, next_attempt_at AS nextAttemptAt,
      created_at AS createdAt`
    this.insertStmt = c.prepare(
      `INSERT INTO webhook_endpoints (workspace_id, url, events, secret, cursor, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${cols}`,
    )
    this.listStmt = c.prepare(`SELECT ${cols} FROM webhook_endpoints WHERE workspace_id = ? ORDER BY id`)
    this.allStmt = c.prepare(`SELECT ${cols} FROM webhook_endpoints ORDER BY id`)
    this.byIdStmt = c.prepare(`SELECT ${cols} FROM webhook_endpoints WHERE id = ?`)
    this.countStmt = c.prepare('SELECT count(*) FROM webhook_endpoints WHERE workspace_id = ?').pluck()
    this.deleteStmt = c.prepare('DELETE FROM webhook_endpoints WHERE workspace_id = ? AND id = ?')
    // The workspace's next event of these types after the cursor. Events addressed to one
    // person (user_id: their read position, their mentions) are theirs alone: never sent out.
    this.nextEventStmt = c.prepare(
      `SELECT id, type, payload AS data, created_at AS createdAt FROM events
        WHERE workspace_id = ? AND id > ? AND id <= ? AND user_id IS NULL AND type IN (SELECT value FROM json_each(?))
        ORDER BY id LIMIT 1`,
    )
    this.advanceStmt = c.prepare('UPDATE webhook_endpoints SET cursor = ?, attempts = 0, next_attempt_at = NULL WHERE id = ?')
    this.retryStmt = c.prepare('UPDATE webhook_endpoints SET attempts = ?, next_attempt_at = ? WHERE id = ?')
    this.insertDeliveryStmt = c.prepare(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, attempt, result, status_code, error, duration_ms, at, next_retry_at)
       VALUES (@endpointId, @eventId, @eventType, @attempt, @result, @statusCode, @error, @durationMs, @at, @nextRetryAt)`,
    )
    // Keeps the newest DELIVERIES_KEPT of the endpoint (one indexed range delete).
    this.pruneDeliveriesStmt = c.prepare(
      `DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND id <= (
         SELECT id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1 OFFSET ${DELIVERIES_KEPT})`,
    )
    const deliveryCols = `id, event_id AS eventId, event_type AS eventType, attempt, result, status_code AS statusCode, error,
      duration_ms AS durationMs, at, next_retry_at AS nextRetryAt`
    this.deliveriesStmt = c.prepare(`SELECT ${deliveryCols} FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?`)
    this.lastDeliveryStmt = c.prepare(`SELECT ${deliveryCols} FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1`)
    this.tx = c.transaction((fn: () => boolean) => fn())
  }

  insert(e: { workspaceId: number; url: string; events: string[]; secret: string; cursor: number; now: number; createdBy: number | null }) {
    return this.insertStmt.get(e.workspaceId, e.url, JSON.stringify(e.events), e.secret, e.cursor, e.now, e.createdBy) as EndpointRow
  }

  list(workspaceId: number): EndpointRow[] {
    return this.listStmt.all(workspaceId) as EndpointRow[]
  }

  /** Every workspace's endpoints: the workers started with the app. */
  all(): EndpointRow[] {
    return this.allStmt.all() as EndpointRow[]
  }

  byId(id: number): EndpointRow | undefined {
    return this.byIdStmt.get(id) as EndpointRow | undefined
  }

  /** Undefined when it is not in this workspace. */
  get(workspaceId: number, id: number): EndpointRow | undefined {
    const row = this.byId(id)
    return row?.workspaceId === workspaceId ? row : undefined
  }

  count(workspaceId: number): number {
    return this.countStmt.get(workspaceId) as number
  }

  /** Deletes the endpoint and (cascade) its attempts; false when it is not in this workspace. */
  delete(workspaceId: number, id: number): boolean {
    return this.deleteStmt.run(workspaceId, id).changes > 0
  }

  /** The next event of `types` with cursor < id <= upToId, or undefined. */
  nextEvent(workspaceId: number, cursor: number, upToId: number, types: string): PendingEvent | undefined {
    return this.nextEventStmt.get(workspaceId, cursor, upToId, types) as PendingEvent | undefined
  }

  /**
   * Records an attempt and moves the endpoint on: past the event (delivered or skipped), or
   * to its next retry. False when the endpoint was deleted meanwhile (nothing written).
   */
  record(endpointId: number, d: NewDelivery): boolean {
    return this.tx(() => {
      const moved =
        d.result === 'retrying' ? this.retryStmt.run(d.attempt, d.nextRetryAt, endpointId) : this.advanceStmt.run(d.eventId, endpointId)
      if (moved.changes === 0) return false
      this.insertDeliveryStmt.run({ endpointId, ...d })
      this.pruneDeliveriesStmt.run(endpointId, endpointId)
      return true
    })
  }

  /** Newest first. */
  deliveries(endpointId: number, limit: number): DeliveryRow[] {
    return this.deliveriesStmt.all(endpointId, limit) as DeliveryRow[]
  }

  last(endpointId: number): DeliveryRow | undefined {
    return this.lastDeliveryStmt.get(endpointId) as DeliveryRow | undefined
  }
}
