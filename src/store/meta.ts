// The `meta` table's small operations beyond readMeta/writeMeta (db.ts): a reader for
// pollers and probes that ask the same key again and again, and a counter other
// processes on the same database can watch move.
import type { Db } from './db.ts'

/** Reads one meta value through a statement prepared once (a poller asks every few seconds). */
export function metaReader(db: Db): (key: string) => string | undefined {
  const read = db.$client.prepare(`SELECT value FROM meta WHERE key = ?`).pluck()
  return (key) => read.get(key) as string | undefined
}

/** Adds one to a counter kept as text ('1' when new); call inside the caller's transaction. */
export function bumpMeta(db: Db, key: string): void {
  db.$client
    .prepare(
      `INSERT INTO meta(key, value) VALUES (?, '1')
       ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
    )
    .run(key)
}
