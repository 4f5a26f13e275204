// PostgreSQL (issue 17): the connection pool every process opens, and the migrations, run
// by exactly one of several processes starting together.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { isStorageFailure } from '../db.ts'

export const PG_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations/pg')

// Every session: a lock wait longer than this fails (and its transaction rolls back) instead of
// queueing forever behind a stuck writer; a session idle inside a transaction is ended. The event
// counter is locked by every writing transaction until its commit, so one stuck session would
// otherwise freeze every writer of every process (scale-out.md §1; pg-boss does the same).
export const LOCK_TIMEOUT_MS = 5000
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000
const SESSION_OPTIONS = `-c lock_timeout=${LOCK_TIMEOUT_MS} -c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`

// drizzle's migrate() takes no lock (drizzle-orm #874): held on one dedicated connection around
// it, so of three processes starting on an empty database one migrates and two wait, then find
// nothing to do. The key is Parley's own (any constant other software is unlikely to pick).
const MIGRATION_LOCK_KEY = 0x5061_726c_6579 // "Parley"

// int8 (ids, Unix ms) as numbers, not strings (node-postgres #1618): Parley's stay below 2^53.
const INT8_OID = 20
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

export interface PgOptions {
  /** This process's name (PARLEY_NODE_ID): its connections show it in pg_stat_activity. */
  nodeId: string
  /** Connections in the pool. */
  max?: number
  /** An idle pooled connection was ended by the server (logged by the caller). */
  onIdleError?: (err: Error) => void
}

export function openPgPool(url: string, opts: PgOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: `parley:${opts.nodeId}`.slice(0, 63),
    options: SESSION_OPTIONS,
    types,
  })
  // An idle connection the server ended (a restart, pg_terminate_backend, a dropped network) is
  // an 'error' on the pool: without a listener Node would end the process. The pool has already
  // dropped that connection; the next query opens a new one.
  pool.on('error', (err) => opts.onIdleError?.(err))
  return pool
}

/** One connection outside the pool (the listener, the migrator): same session settings and types. */
export function pgClient(url: string, applicationName: string): pg.Client {
  return new pg.Client({ connectionString: url, application_name: applicationName.slice(0, 63), options: SESSION_OPTIONS, types })
}

/**
 * Applies the pending migrations under the advisory lock and makes sure the event counter's
 * row exists (with a new epoch on a new database). Returns how many migrations this call applied.
 */
export async function migratePg(url: string, nodeId: string): Promise<{ applied: number }> {
  const client = pgClient(url, `parley-migrate:${nodeId}`)
  // A connection lost mid-way fails the awaited query below; the 'error' event must not end the process.
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    const before = await appliedMigrations(client)
    await migrate(drizzle(client), { migrationsFolder: PG_MIGRATIONS_DIR })
    await client.query(`INSERT INTO event_seq (one, epoch, last) VALUES (true, $1, 0) ON CONFLICT (one) DO NOTHING`, [
      randomBytes(6).toString('base64url'),
    ])
    return { applied: (await appliedMigrations(client)) - before }
  } finally {
    // Ending the session releases the lock too; unlocking first lets a waiter go at once.
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {})
    await client.end()
  }
}

async function appliedMigrations(client: pg.Client): Promise<number> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('drizzle.__drizzle_migrations')::text AS t`)
  if (!exists.rows[0]?.t) return 0
  const r = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')
  return r.rows[0]!.n
}

/** PostgreSQL errors that mean "the store cannot take writes now" (the caller answers 503). */
export function isPgStorageFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  if (typeof code !== 'string') return (err as Error)?.message?.includes('Connection terminated') ?? false
  // 08: connection exception; 53: insufficient resources; 57P: operator intervention; 55P03: lock timeout.
  return code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '55P03'
}

// PostgreSQL error classes meaning the server cannot serve (not a bug in the query):
// 08 connection exception, 53 insufficient resources (disk full, too many connections),
// 57P operator intervention (shutting down), 58 system error (I/O).
const PG_UNAVAILABLE = /^(08|53|57P|58)/
// The driver's own: the server unreachable (ENOENT: its Unix socket is gone), or the pool
// found no connection in time.
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE'])

/** Whether the database cannot be read for a reason of the server, its disk or the network (the health probe's 503). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (isStorageFailure(err)) return true
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && (PG_UNAVAILABLE.test(code) || NET_UNAVAILABLE.has(code))) return true
  const message = (err as { message?: unknown })?.message
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect/.test(message)
}
