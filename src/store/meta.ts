// The `meta` table's small operations beyond readMeta/writeMeta (db.ts), as units of work
// (store/unit.ts, issue 17) for both databases: a value by key, and a counter other
// processes on the same database can watch move. `value` is text in both schemas.
import { dialect, get, type Q, run } from './unit.ts'

const VALUE = 'SELECT value FROM meta WHERE key = ?'
const SET = 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'
// `meta.value`: the row being updated (PostgreSQL finds a bare `value` ambiguous with EXCLUDED's).
const BUMP = `INSERT INTO meta (key, value) VALUES (?, '1')
  ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)`

/** One meta value, or undefined. */
export function* metaValue(key: string): Q<string | undefined> {
  return (yield* get<{ value: string }>(VALUE, [key]))?.value
}

/** Sets a meta value; inside the caller's transaction. */
export function* setMeta(key: string, value: string): Q<void> {
  yield* run(SET, [key, value])
}

/** Adds one to a counter kept as text ('1' when new); inside the caller's transaction. */
export function* bumpMeta(key: string): Q<void> {
  yield* run(BUMP, [key])
}

// Another key than the migrations' (store/pg/db.ts): start-up's check-then-create steps.
const START_LOCK_KEY = 0x5061_726c_6573 // "Parles"

/**
 * Start-up's first step in its transaction (issue 17): on PostgreSQL, processes starting
 * together take turns until it commits, so each check-then-create (the first workspace, the
 * first admin, the environment's number) sees the one before it. SQLite: one process, nothing.
 */
export function* startLock(): Q<void> {
  if ((yield* dialect()) === 'postgres') yield* get('SELECT pg_advisory_xact_lock(?) AS locked', [START_LOCK_KEY])
}
