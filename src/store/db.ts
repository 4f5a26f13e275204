// Opens the SQLite database with the pragmas an inbox needs and applies migrations.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import * as schema from './schema.ts'
import { SearchIndexWriter } from './search-index.ts'

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database }

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations/sqlite')

export interface OpenOptions {
  busyTimeoutMs: number
}

export function openDatabase(file: string, opts: OpenOptions): Db {
  const sqlite = new Database(file)
  // WAL: readers never block the writer. synchronous=FULL: better-sqlite3's WAL default
  // (NORMAL) can lose the last commits on power loss, and an acknowledged webhook is
  // never retried by Meta — FULL is the price of "200 means stored".
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs)}`)
  sqlite.pragma('foreign_keys = ON')
  const db = drizzle(sqlite, { schema }) as Db
  migrate(db, { migrationsFolder: MIGRATIONS_DIR })
  ensureEpoch(sqlite)
  // Messages a hand-written tool stored without indexing them (migration 0019).
  sqlite.transaction(() => new SearchIndexWriter(sqlite).flush()).immediate()
  return db
}

// The stream epoch identifies this database's event id space. A cursor from another
// database (a restored backup, a fresh install) carries another epoch and is reset.
function ensureEpoch(sqlite: Database.Database): void {
  sqlite.prepare(`INSERT INTO meta(key, value) VALUES ('epoch', ?) ON CONFLICT(key) DO NOTHING`).run(randomBytes(6).toString('base64url'))
}

export function readMeta(db: Db, key: string): string | undefined {
  const row = db.$client.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined
  return row?.value
}

export function writeMeta(db: Db, key: string, value: string): void {
  db.$client.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value)
}

/** SQLite errors that mean "the store cannot take writes now": the caller answers 503. */
export function isStorageFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('SQLITE_') && !code.startsWith('SQLITE_CONSTRAINT')
}
