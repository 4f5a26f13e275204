// Outgoing webhooks (issue 16): the endpoints, their cursors on the event log, and their
// recent delivery attempts. Every read that serves a person takes the workspace id, which
// comes from the session; the delivery workers read by endpoint id.
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17),
// except where noted (a list of event types; claiming an endpoint for one attempt).
import { all, dialect, get, type Q, run } from './unit.ts'

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

/**
 * The endpoint as claimed for one attempt. `claim` is the fence of the claim (PostgreSQL: the
 * time, on the database's clock, until which no other process may try this endpoint; the
 * outcome is written only while it still holds), null on SQLite (one process: nothing to fence).
 */
export type ClaimedEndpoint = EndpointRow & { claim: number | null }

// Attempts kept per endpoint: the settings screen's list, and enough to see a day of retries.
export const DELIVERIES_KEPT = 200

const COLS = `id, workspace_id AS "workspaceId", url, events, secret, cursor, attempts, next_attempt_at AS "nextAttemptAt",
  created_at AS "createdAt"`
const INSERT = `INSERT INTO webhook_endpoints (workspace_id, url, events, secret, cursor, created_at, created_by)
  VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${COLS}`
const LIST = `SELECT ${COLS} FROM webhook_endpoints WHERE workspace_id = ? ORDER BY id`
const ALL = `SELECT ${COLS} FROM webhook_endpoints ORDER BY id`
const BY_ID = `SELECT ${COLS} FROM webhook_endpoints WHERE id = ?`
const IN_WORKSPACE = `SELECT ${COLS} FROM webhook_endpoints WHERE workspace_id = ? AND id = ?`
const COUNT = 'SELECT count(*) AS n FROM webhook_endpoints WHERE workspace_id = ?'
const DELETE = 'DELETE FROM webhook_endpoints WHERE workspace_id = ? AND id = ?'
// The workspace's next event of these types after the cursor. Events addressed to one
// person (user_id: their read position, their mentions) are theirs alone: never sent out.
const NEXT_EVENT_HEAD = `SELECT id, type, payload AS data, created_at AS "createdAt" FROM events
  WHERE workspace_id = ? AND id > ? AND id <= ? AND user_id IS NULL AND`
const NEXT_EVENT_SQLITE = `${NEXT_EVENT_HEAD} type IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1`
const NEXT_EVENT_PG = `${NEXT_EVENT_HEAD} type = ANY(?::text[]) ORDER BY id LIMIT 1`
const ADVANCE = 'UPDATE webhook_endpoints SET cursor = ?, attempts = 0, next_attempt_at = NULL WHERE id = ?'
const RETRY = 'UPDATE webhook_endpoints SET attempts = ?, next_attempt_at = ? WHERE id = ?'
// The same, only while this process's claim still holds (PostgreSQL): a process whose claim
// ran out (it hung past the claim's time) must not move a cursor another process now owns.
const ADVANCE_FENCED = `${ADVANCE} AND next_attempt_at = ?`
const RETRY_FENCED = `${RETRY} AND next_attempt_at = ?`
const INSERT_DELIVERY = `INSERT INTO webhook_deliveries
  (endpoint_id, event_id, event_type, attempt, result, status_code, error, duration_ms, at, next_retry_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
// Keeps the newest DELIVERIES_KEPT of the endpoint (one indexed range delete).
const PRUNE_DELIVERIES = `DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND id <= (
  SELECT id FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1 OFFSET ${DELIVERIES_KEPT})`
const DELIVERY_COLS = `id, event_id AS "eventId", event_type AS "eventType", attempt, result, status_code AS "statusCode", error,
  duration_ms AS "durationMs", at, next_retry_at AS "nextRetryAt"`
const DELIVERIES = `SELECT ${DELIVERY_COLS} FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?`
const LAST_DELIVERY = `SELECT ${DELIVERY_COLS} FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT 1`

// PostgreSQL's clock in Unix ms: claims are timed by the database, which every process shares,
// not by each process's own clock.
const PG_NOW_MS = 'CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS bigint)'
// Claims the endpoint for one attempt when no other process holds it and no retry is waiting:
// the claim is next_attempt_at pushed to now + the claim's length, so a process that dies
// mid-attempt lets another carry on once it runs out (the receiver may then get the event
// twice, with the same webhook-id: delivery is at least once). SKIP LOCKED: a process that
// finds another claiming this very row moves on at once instead of waiting for it. A new
// claim is always later than the one it replaces (it starts after that one ran out), so the
// value fences the outcome's write (ADVANCE_FENCED, RETRY_FENCED).
const CLAIM_PG = `UPDATE webhook_endpoints SET next_attempt_at = ${PG_NOW_MS} + ?
  WHERE id IN (
    SELECT id FROM webhook_endpoints
     WHERE id = ? AND (next_attempt_at IS NULL OR next_attempt_at <= ${PG_NOW_MS})
     FOR UPDATE SKIP LOCKED LIMIT 1)
  RETURNING ${COLS}`
// Gives back a claim that found nothing to send after all (another process delivered it).
const RELEASE_PG = 'UPDATE webhook_endpoints SET next_attempt_at = NULL WHERE id = ? AND next_attempt_at = ?'

export class WebhookEndpointsRepo {
  *insert(e: {
    workspaceId: number
    url: string
    events: string[]
    secret: string
    cursor: number
    now: number
    createdBy: number | null
  }): Q<EndpointRow> {
    const row = yield* get<EndpointRow>(INSERT, [e.workspaceId, e.url, JSON.stringify(e.events), e.secret, e.cursor, e.now, e.createdBy])
    return row!
  }

  list(workspaceId: number): Q<EndpointRow[]> {
    return all<EndpointRow>(LIST, [workspaceId])
  }

  /** Every workspace's endpoints: the workers started with the app. */
  all(): Q<EndpointRow[]> {
    return all<EndpointRow>(ALL)
  }

  byId(id: number): Q<EndpointRow | undefined> {
    return get<EndpointRow>(BY_ID, [id])
  }

  /** Undefined when it is not in this workspace. */
  get(workspaceId: number, id: number): Q<EndpointRow | undefined> {
    return get<EndpointRow>(IN_WORKSPACE, [workspaceId, id])
  }

  *count(workspaceId: number): Q<number> {
    return Number((yield* get<{ n: number }>(COUNT, [workspaceId]))!.n)
  }

  /** Deletes the endpoint and (cascade) its attempts; false when it is not in this workspace. */
  *delete(workspaceId: number, id: number): Q<boolean> {
    return (yield* run(DELETE, [workspaceId, id])).changes > 0
  }

  /** The next event of `types` with cursor < id <= upToId, or undefined. */
  *nextEvent(workspaceId: number, cursor: number, upToId: number, types: readonly string[]): Q<PendingEvent | undefined> {
    if ((yield* dialect()) === 'postgres') return yield* get<PendingEvent>(NEXT_EVENT_PG, [workspaceId, cursor, upToId, types])
    return yield* get<PendingEvent>(NEXT_EVENT_SQLITE, [workspaceId, cursor, upToId, JSON.stringify(types)])
  }

  /**
   * The endpoint, claimed for one attempt lasting at most `forMs`; undefined when it is gone or
   * (PostgreSQL) another process holds it or its retry is not due yet. SQLite has one process
   * (the data directory's lock file), so there the endpoint is simply read, as before.
   */
  *claim(id: number, forMs: number): Q<ClaimedEndpoint | undefined> {
    if ((yield* dialect()) === 'sqlite') {
      const row = yield* this.byId(id)
      return row && { ...row, claim: null }
    }
    const row = yield* get<EndpointRow>(CLAIM_PG, [forMs, id])
    return row && { ...row, claim: row.nextAttemptAt }
  }

  /** Gives a claim back untouched by an attempt (nothing was sent). */
  *release(id: number, claim: number | null): Q<void> {
    if (claim !== null) yield* run(RELEASE_PG, [id, claim])
  }

  /**
   * Records an attempt and moves the endpoint on: past the event (delivered or skipped), or
   * to its next retry. False when the endpoint was deleted meanwhile, or its claim (not null)
   * ran out and another process may hold it: nothing written.
   */
  *record(endpointId: number, d: NewDelivery, claim: number | null = null): Q<boolean> {
    const moved =
      d.result === 'retrying'
        ? claim === null
          ? yield* run(RETRY, [d.attempt, d.nextRetryAt, endpointId])
          : yield* run(RETRY_FENCED, [d.attempt, d.nextRetryAt, endpointId, claim])
        : claim === null
          ? yield* run(ADVANCE, [d.eventId, endpointId])
          : yield* run(ADVANCE_FENCED, [d.eventId, endpointId, claim])
    if (moved.changes === 0) return false
    yield* run(INSERT_DELIVERY, [
      endpointId,
      d.eventId,
      d.eventType,
      d.attempt,
      d.result,
      d.statusCode,
      d.error,
      d.durationMs,
      d.at,
      d.nextRetryAt,
    ])
    yield* run(PRUNE_DELIVERIES, [endpointId, endpointId])
    return true
  }

  /** Newest first. */
  deliveries(endpointId: number, limit: number): Q<DeliveryRow[]> {
    return all<DeliveryRow>(DELIVERIES, [endpointId, limit])
  }

  last(endpointId: number): Q<DeliveryRow | undefined> {
    return get<DeliveryRow>(LAST_DELIVERY, [endpointId])
  }
}
