// The event log's table on PostgreSQL (issue 17). Ids come from the one-row counter
// event_seq, updated by every writing transaction after its other statements: PostgreSQL
// marks a transaction committed before it releases its locks, so the next writer can only
// take ids after the previous one's are visible — ids become visible in id order and are
// dense (a rollback undoes the counter too). A reader of `id > tail` therefore never skips
// an event that commits later with a lower id (the bigserial trap: Eventuous #222, Hasura
// #8632, SQLStreamStore #121; scale-out.md §1).
import type pg from 'pg'
import type { ReplayAudience, StoredEvent } from '../events.ts'

/** An event written by a transaction, before the commit gives it an id. */
export interface PendingEvent {
  workspaceId: number
  type: string
  /** The JSON payload, serialized once. */
  data: string
  channelId: number | null
  userId: number | null
  createdAt: number
}

type Queryable = Pick<pg.ClientBase, 'query'>

// The same meta key as SQLite's log (store/events.ts): every id at or below it may be gone.
const PRUNED_THROUGH_KEY = 'events_pruned_through'
// One pruner at a time across processes (each process's hourly timer tries; the others skip).
const PRUNE_LOCK = 'parley:events-prune'
// Deleted in slices, each its own short transaction: a month of events in one DELETE would
// hold its row locks and bloat one transaction for as long as it takes.
const PRUNE_SLICE = 10_000

const COLUMNS = 'id, workspace_id AS "workspaceId", type, payload AS data, channel_id AS "channelId", user_id AS "userId"'

export class PgEventsRepo {
  /**
   * Inside the writing transaction, after everything else it writes: takes `events.length`
   * ids from the counter (the row stays locked until the commit) and inserts the rows.
   * Returns the first id; the others follow densely.
   */
  async append(tx: Queryable, events: readonly PendingEvent[]): Promise<number> {
    const n = events.length
    // One statement: the counter row is locked from here to COMMIT, so the insert rides in the
    // same round trip instead of holding the lock across another one (a data-modifying WITH
    // runs once, to completion, and its rows number from the counter's new value).
    const r = await tx.query<{ first: number }>(
      `WITH seq AS (UPDATE event_seq SET last = last + $1 WHERE one RETURNING last),
       ins AS (
         INSERT INTO events (id, workspace_id, type, payload, created_at, channel_id, user_id)
         SELECT seq.last - $1 + e.ord, e.w, e.t, e.p, e.c, e.ch, e.u
           FROM seq, unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
                WITH ORDINALITY AS e(w, t, p, c, ch, u, ord))
       SELECT last - $1 + 1 AS first FROM seq`,
      [
        n,
        events.map((e) => e.workspaceId),
        events.map((e) => e.type),
        events.map((e) => e.data),
        events.map((e) => e.createdAt),
        events.map((e) => e.channelId),
        events.map((e) => e.userId),
      ],
    )
    return r.rows[0]!.first
  }

  /** The epoch and the last id handed out (the counter survives pruning). */
  async head(q: Queryable): Promise<{ epoch: string; last: number }> {
    const r = await q.query<{ epoch: string; last: number }>('SELECT epoch, last FROM event_seq WHERE one')
    if (!r.rows[0]) throw new Error('event_seq has no row: the database was not migrated by Parley')
    return r.rows[0]
  }

  /** Every workspace's events after `afterId`, oldest first: what a process fans out. */
  async readAfter(q: Queryable, afterId: number, limit: number): Promise<StoredEvent[]> {
    const r = await q.query<StoredEvent>(`SELECT ${COLUMNS} FROM events WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit])
    return r.rows
  }

  /** One workspace's events with afterId < id <= upToId for a replay, only what the audience may see. */
  async readEventsPage(
    q: Queryable,
    workspaceId: number,
    afterId: number,
    upToId: number,
    limit: number,
    audience?: ReplayAudience,
  ): Promise<StoredEvent[]> {
    const base = `SELECT ${COLUMNS} FROM events WHERE workspace_id = $1 AND id > $2 AND id <= $3`
    if (!audience) {
      return (await q.query<StoredEvent>(`${base} ORDER BY id LIMIT $4`, [workspaceId, afterId, upToId, limit])).rows
    }
    if (audience.channelIds === null) {
      const sql = `${base} AND (user_id IS NULL OR user_id = $4) ORDER BY id LIMIT $5`
      return (await q.query<StoredEvent>(sql, [workspaceId, afterId, upToId, audience.userId, limit])).rows
    }
    const sql = `${base} AND (channel_id IS NULL OR channel_id = ANY($4::bigint[])) AND (user_id IS NULL OR user_id = $5) ORDER BY id LIMIT $6`
    return (await q.query<StoredEvent>(sql, [workspaceId, afterId, upToId, audience.channelIds, audience.userId, limit])).rows
  }

  /** Every id at or below this may have been pruned (0: none yet). */
  async prunedThrough(q: Queryable): Promise<number> {
    const r = await q.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [PRUNED_THROUGH_KEY])
    return Number(r.rows[0]?.value ?? 0)
  }

  /**
   * Deletes the events created before `olderThanMs`; returns the pruned-through mark after it.
   * The mark is committed first and only then are rows deleted: a replay that checks the
   * mark after reading its page (PgEventLog.read) therefore never passes over a row deleted
   * under it. When another process holds the prune lock, this one only reads the mark.
   */
  async pruneBefore(pool: pg.Pool, olderThanMs: number): Promise<number> {
    const client = await pool.connect()
    let locked = false
    try {
      locked = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [PRUNE_LOCK])).rows[0]!.ok
      if (!locked) return await this.prunedThrough(client)
      const range = await client.query<{ through: string | null }>('SELECT max(id) AS through FROM events WHERE created_at < $1', [
        olderThanMs,
      ])
      const previous = await this.prunedThrough(client)
      const through = Math.max(Number(range.rows[0]!.through ?? 0), previous)
      if (through > previous) {
        await client.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [
          PRUNED_THROUGH_KEY,
          String(through),
        ])
      }
      for (;;) {
        const r = await client.query('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= $1 ORDER BY id LIMIT $2)', [
          through,
          PRUNE_SLICE,
        ])
        if ((r.rowCount ?? 0) < PRUNE_SLICE) break
      }
      return through
    } finally {
      if (locked) await client.query('SELECT pg_advisory_unlock(hashtext($1))', [PRUNE_LOCK]).catch(() => undefined)
      client.release()
    }
  }
}
