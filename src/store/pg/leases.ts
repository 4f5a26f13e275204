// Leases on PostgreSQL (issue 17): one row per piece of work owned by one process at a time
// (a phone number, a Messenger page, a campaign; `node:<id>` rows are the processes'
// heartbeats). The SQL shape is River's leader election (`river_leader.sql`): INSERT … ON
// CONFLICT DO UPDATE … WHERE the lease is expired or already mine (scale-out.md §3).
//
// Every time here is the DATABASE's clock, never a process's: the processes' clocks may
// disagree, the database's is one clock for all of them. clock_timestamp(), not now(): now()
// is the start of the transaction, and it must be the moment the statement runs. floor(), not
// a cast's rounding: "now" is then never ahead of the real time, so a lease is never treated
// as expired early.
//
// `fence` grows by one at every change of owner (and when an owner takes back its own lease
// after it expired: it may have been taken and given back meanwhile, and the owner had to
// stop). A release keeps the row (expires it) instead of deleting it, so the fence never
// starts over at 1 and a former owner's fence is always lower than the current one.
import type pg from 'pg'

type Queryable = Pick<pg.ClientBase, 'query'>

/** Now in Unix ms on the database's clock. */
export const DB_NOW_MS = '(floor(extract(epoch from clock_timestamp()) * 1000))::bigint'

export interface LeaseRow {
  name: string
  owner: string
  fence: number
  expiresAt: number
  /** Not expired on the database's clock when read. */
  live: boolean
}

/**
 * Takes `name` for `owner` if it is free or expired (the fence grows), or keeps it if it is
 * already this owner's and live (same fence, new expiry). Returns the fence, or undefined when
 * another owner holds it.
 */
export async function acquireLease(q: Queryable, name: string, owner: string, ttlMs: number): Promise<number | undefined> {
  const r = await q.query<{ fence: number }>(
    `INSERT INTO leases AS l (name, owner, fence, expires_at) VALUES ($1, $2, 1, ${DB_NOW_MS} + $3)
     ON CONFLICT (name) DO UPDATE SET
       owner = excluded.owner,
       fence = CASE WHEN l.owner = excluded.owner AND l.expires_at > ${DB_NOW_MS} THEN l.fence ELSE l.fence + 1 END,
       expires_at = excluded.expires_at
     WHERE l.expires_at <= ${DB_NOW_MS} OR l.owner = excluded.owner
     RETURNING fence`,
    [name, owner, ttlMs],
  )
  return r.rows[0]?.fence
}

/** Extends the lease only if it is still `owner`'s, with that fence, and not expired. */
export async function renewLease(q: Queryable, name: string, owner: string, fence: number, ttlMs: number): Promise<boolean> {
  return (await renewLeases(q, owner, [{ name, fence }], ttlMs)).has(name)
}

/**
 * renewLease for many names in one statement (one round trip per renewal round, however many
 * numbers a process owns). Returns the names renewed; the others are lost.
 */
export async function renewLeases(
  q: Queryable,
  owner: string,
  held: ReadonlyArray<{ name: string; fence: number }>,
  ttlMs: number,
): Promise<Set<string>> {
  if (held.length === 0) return new Set()
  const r = await q.query<{ name: string }>(
    `UPDATE leases AS l SET expires_at = ${DB_NOW_MS} + $2
     FROM unnest($3::text[], $4::bigint[]) AS h(name, fence)
     WHERE l.name = h.name AND l.fence = h.fence AND l.owner = $1 AND l.expires_at > ${DB_NOW_MS}
     RETURNING l.name`,
    [owner, ttlMs, held.map((h) => h.name), held.map((h) => h.fence)],
  )
  return new Set(r.rows.map((row) => row.name))
}

/**
 * Gives the lease up at once (another owner may take it now) if it is still `owner`'s with
 * that fence. The row stays, expired, so the next owner's fence is higher. Returns whether
 * it was released (false: it was no longer ours).
 */
export async function releaseLease(q: Queryable, name: string, owner: string, fence: number): Promise<boolean> {
  const r = await q.query(
    `UPDATE leases SET expires_at = least(expires_at, ${DB_NOW_MS})
     WHERE name = $1 AND owner = $2 AND fence = $3 AND expires_at > ${DB_NOW_MS}`,
    [name, owner, fence],
  )
  return (r.rowCount ?? 0) > 0
}

/** The owners of the live leases whose names start with `prefix` (e.g. 'node:' → the live processes). */
export async function liveOwners(q: Queryable, prefix: string): Promise<string[]> {
  const r = await q.query<{ owner: string }>(
    `SELECT DISTINCT owner FROM leases WHERE starts_with(name, $1) AND expires_at > ${DB_NOW_MS} ORDER BY owner`,
    [prefix],
  )
  return r.rows.map((row) => row.owner)
}

/**
 * Of `names`, those nobody holds: no row, or expired for at least `freeForMs` (0: expired
 * now). A longer wait lets the processes under their fair share take a freed name first.
 */
export async function freeLeases(q: Queryable, names: readonly string[], freeForMs = 0): Promise<string[]> {
  if (names.length === 0) return []
  const r = await q.query<{ name: string }>(
    `SELECT n.name FROM unnest($1::text[]) AS n(name) LEFT JOIN leases l ON l.name = n.name
     WHERE l.name IS NULL OR l.expires_at <= ${DB_NOW_MS} - $2`,
    [names, freeForMs],
  )
  return r.rows.map((row) => row.name)
}

/** The lease rows whose names start with `prefix`, for an operator's view and the tests. */
export async function listLeases(q: Queryable, prefix = ''): Promise<LeaseRow[]> {
  const r = await q.query<LeaseRow>(
    `SELECT name, owner, fence, expires_at AS "expiresAt", expires_at > ${DB_NOW_MS} AS live
     FROM leases WHERE starts_with(name, $1) ORDER BY name`,
    [prefix],
  )
  return r.rows
}

/**
 * Deletes the rows under `prefix` expired for longer than `expiredForMs`. For the heartbeats
 * only: every process start has a new node id, so their rows would pile up; a deleted row's
 * fence starts over, which is harmless for a name never used again. Never for work names,
 * whose fences must keep growing.
 */
export async function pruneLeases(q: Queryable, prefix: string, expiredForMs: number): Promise<number> {
  const r = await q.query(`DELETE FROM leases WHERE starts_with(name, $1) AND expires_at < ${DB_NOW_MS} - $2`, [prefix, expiredForMs])
  return r.rowCount ?? 0
}
