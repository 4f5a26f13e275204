// `npm run db:copy` (issue 17): moves a SQLite database into an empty PostgreSQL one. The
// tables, their order and their column types all come from the two drizzle schemas (which
// test/schema-parity.test.ts keeps in step), so a table added to both is copied without
// touching this file. Tables that are not drizzle tables (the FTS5 search index and its
// queue, drizzle's own journal, sqlite_sequence) are SQLite's alone and are not copied.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { is } from 'drizzle-orm'
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core'
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type pg from 'pg'
import { MIGRATIONS_DIR } from '../db.ts'
import * as sqliteSchema from '../schema.ts'
import { migratePg, pgClient } from './db.ts'
import * as pgSchema from './schema.ts'

/** A refusal or a failure the operator can act on; the message never holds the URL's password. */
export class DbCopyError extends Error {
  override name = 'DbCopyError'
}

/** One table to copy: its SQL name, its columns with their PostgreSQL types, its identity column. */
export interface CopyTable {
  name: string
  columns: { name: string; pgType: string }[]
  /** The column PostgreSQL numbers by itself (an identity), whose sequence is moved past the copied ids. */
  identity: string | undefined
}

export interface CopyOptions {
  /** The SQLite database file (a Parley data dir's parley.db). */
  from: string
  /** The PostgreSQL URL. */
  to: string
  /** Shown in pg_stat_activity and taken by the migration lock. */
  nodeId: string
  /** Rows per INSERT. */
  batchSize?: number
}

export interface CopyResult {
  tables: { name: string; rows: number }[]
  /** The last event id SQLite handed out, now event_seq.last: the next event gets this + 1. */
  lastEventId: number
  /** The new stream epoch: every client's cursor is from the old one, so each reloads its state. */
  epoch: string
  ms: number
}

// The stream epoch stays the target's own (a new one): it is the point of the copy's epoch bump.
const SKIPPED_META_KEYS = ['epoch']
const DEFAULT_BATCH = 1000

/**
 * Every drizzle table of the SQLite schema, parents before children (derived from the
 * foreign keys), each with its PostgreSQL column types. Ties keep the schema's order.
 */
export function copyOrder(): CopyTable[] {
  const pgByName = new Map<string, PgTable>()
  for (const v of Object.values(pgSchema) as unknown[]) if (is(v, PgTable)) pgByName.set(pgTableConfig(v).name, v)
  const tables = (Object.values(sqliteSchema) as unknown[]).filter((v): v is SQLiteTable => is(v, SQLiteTable))
  const configs = new Map(tables.map((t) => [sqliteTableConfig(t).name, sqliteTableConfig(t)]))

  const parents = new Map<string, Set<string>>()
  for (const [name, c] of configs) {
    const ps = new Set<string>()
    for (const fk of c.foreignKeys) {
      const parent = sqliteTableConfig(fk.reference().foreignTable as SQLiteTable).name
      // A self-reference is satisfied row by row only in id order; none exists today.
      if (parent === name) throw new DbCopyError(`${name} references itself: db:copy cannot order its rows yet`)
      ps.add(parent)
    }
    parents.set(name, ps)
  }
  const ordered: string[] = []
  const done = new Set<string>()
  while (ordered.length < configs.size) {
    const ready = [...configs.keys()].filter((n) => !done.has(n) && [...parents.get(n)!].every((p) => done.has(p)))
    if (ready.length === 0) {
      const left = [...configs.keys()].filter((n) => !done.has(n))
      throw new DbCopyError(`the foreign keys of ${left.join(', ')} form a cycle: db:copy cannot order them`)
    }
    for (const n of ready) {
      ordered.push(n)
      done.add(n)
    }
  }

  return ordered.map((name) => {
    const s = configs.get(name)!
    const p = pgByName.get(name)
    if (!p) throw new DbCopyError(`${name} is in the SQLite schema but not in the PostgreSQL one`)
    const pc = pgTableConfig(p)
    const columns = s.columns.map((col) => {
      const pcol = pc.columns.find((c) => c.name === col.name)
      if (!pcol) throw new DbCopyError(`${name}.${col.name} is in the SQLite schema but not in the PostgreSQL one`)
      return { name: col.name, pgType: pcol.getSQLType() }
    })
    const identity = pc.columns.find((c) => (c as unknown as { generatedIdentity?: unknown }).generatedIdentity !== undefined)
    return { name, columns, identity: identity?.name }
  })
}

/** The URL as it may be shown: no password (neither user:password@ nor ?password=). */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url)
    u.password = ''
    u.searchParams.delete('password')
    return u.toString()
  } catch {
    return 'the PostgreSQL database (its URL does not parse)'
  }
}

/** `text` with the URL's password replaced, for messages that may quote a connection string. */
export function withoutPassword(text: string, url: string): string {
  let out = text
  try {
    const u = new URL(url)
    for (const secret of [u.password, decodeURIComponent(u.password), u.searchParams.get('password') ?? '']) {
      if (secret) out = out.split(secret).join('***')
    }
  } catch {}
  return out
}

/**
 * Copies the SQLite database `from` into the PostgreSQL database `to`, which must hold no
 * data: the source read in one read transaction (a consistent snapshot even while a Parley
 * still writes to it), the target written in one transaction (all or nothing).
 */
export async function copySqliteToPg(opts: CopyOptions): Promise<CopyResult> {
  const started = performance.now()
  const batchSize = opts.batchSize ?? DEFAULT_BATCH
  const plan = copyOrder()
  if (!existsSync(opts.from)) throw new DbCopyError(`No SQLite database at ${opts.from} (set DATA_DIR, or give --from <file>)`)

  // readonly: the copy can never change the source, whatever happens.
  const sqlite = new Database(opts.from, { readonly: true, fileMustExist: true })
  try {
    sqlite.pragma('busy_timeout = 5000')
    checkSourceSchema(sqlite, opts.from)
    // One read transaction for every read below: in WAL mode its snapshot is taken at the
    // first SELECT and holds until COMMIT, so rows written meanwhile by a running Parley are
    // all in the copy or all out of it — never a message without its conversation.
    sqlite.exec('BEGIN')
    try {
      const seqs = new Map(
        (sqlite.prepare('SELECT name, seq FROM sqlite_sequence').all() as { name: string; seq: number }[]).map((r) => [r.name, r.seq]),
      )
      const sourceEpoch = (sqlite.prepare(`SELECT value FROM meta WHERE key = 'epoch'`).pluck().get() as string | undefined) ?? ''

      const client = pgClient(opts.to, `parley-db-copy:${opts.nodeId}`)
      try {
        await migratePg(opts.to, opts.nodeId)
        await client.connect()
      } catch (err) {
        throw new DbCopyError(`could not connect to and migrate ${describePgUrl(opts.to)}: ${(err as Error).message}`)
      }
      try {
        await client.query('BEGIN')
        try {
          const r = await copyInto(client, sqlite, plan, seqs, sourceEpoch, batchSize)
          await client.query('COMMIT')
          return { ...r, ms: Math.round(performance.now() - started) }
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {})
          throw err
        }
      } finally {
        await client.end()
      }
    } finally {
      if (sqlite.inTransaction) sqlite.exec('COMMIT')
    }
  } finally {
    sqlite.close()
  }
}

// The source must have exactly this Parley's migrations: the columns read are this schema's.
function checkSourceSchema(sqlite: Database.Database, file: string): void {
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
  const hasJournal = sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'`).get()
  if (!hasJournal) throw new DbCopyError(`${file} is not a Parley database (no migrations table)`)
  const applied = sqlite.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get() as number
  if (applied < journal.entries.length)
    throw new DbCopyError(
      `${file} was last opened by an older Parley (${applied} of ${journal.entries.length} migrations): start this version of Parley on it once, stop it, then copy`,
    )
  if (applied > journal.entries.length)
    throw new DbCopyError(
      `${file} was written by a newer Parley (${applied} migrations, this one knows ${journal.entries.length}): copy with that version`,
    )
}

async function copyInto(
  client: pg.Client,
  sqlite: Database.Database,
  plan: CopyTable[],
  seqs: Map<string, number>,
  sourceEpoch: string,
  batchSize: number,
): Promise<Omit<CopyResult, 'ms'>> {
  // Every writing transaction of a PostgreSQL Parley ends by updating this row, so holding it
  // keeps any running process from writing until the copy has committed or rolled back (and
  // two copies started together run one after the other: the second then finds data).
  const head = await client.query<{ epoch: string; last: number }>('SELECT epoch, last FROM event_seq WHERE one FOR UPDATE')
  if (!head.rows[0]) throw new DbCopyError('the target has no event_seq row after migrating: not a database Parley migrated')
  const busy: string[] = []
  for (const t of plan) {
    const r = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${q(t.name)}) AS any`)
    if (r.rows[0]!.any) busy.push(t.name)
  }
  if (head.rows[0].last > 0) busy.push('event_seq (events were written)')
  // The table an operator recognizes first: a Parley that ever started on this database made one.
  busy.sort((a, b) => Number(b === 'workspaces') - Number(a === 'workspaces'))
  if (busy.length > 0)
    throw new DbCopyError(
      `The target database already holds data (${busy.slice(0, 5).join(', ')}${busy.length > 5 ? ', …' : ''}): db:copy copies only into an empty database and never merges. Create a new database and copy into it.`,
    )

  // The report facts come along as SQLite kept them: the triggers must not make them again (issue 15, migration report_triggers).
  await client.query(`SET LOCAL parley.copying = 'on'`)
  const tables: CopyResult['tables'] = []
  for (const t of plan) {
    tables.push({ name: t.name, rows: await copyTable(client, sqlite, t, batchSize) })
  }

  // Identities continue past every id SQLite handed out (sqlite_sequence, which remembers
  // deleted rows too), so no id is ever reused: an old id in a browser or in an event's
  // payload keeps meaning the row it meant.
  for (const t of plan) {
    if (!t.identity) continue
    const max = await client.query<{ m: number | null }>(`SELECT max(${q(t.identity)}) AS m FROM ${q(t.name)}`)
    const past = Math.max(max.rows[0]!.m ?? 0, seqs.get(t.name) ?? 0)
    if (past > 0) await client.query('SELECT setval(pg_get_serial_sequence($1, $2), $3, true)', [q(t.name), t.identity, past])
  }

  // The event counter: the last id SQLite handed out (sqlite_sequence survives pruning), so
  // the next event id follows it; and a new epoch, different from the source's, so every
  // browser and API client holding a cursor gets a reset and reloads its state.
  const maxEvent = await client.query<{ m: number | null }>('SELECT max(id) AS m FROM events')
  const lastEventId = Math.max(seqs.get('events') ?? 0, maxEvent.rows[0]!.m ?? 0)
  let epoch = newEpoch()
  while (epoch === sourceEpoch || epoch === head.rows[0].epoch) epoch = newEpoch()
  await client.query('UPDATE event_seq SET last = $1, epoch = $2 WHERE one', [lastEventId, epoch])
  return { tables, lastEventId, epoch }
}

async function copyTable(client: pg.Client, sqlite: Database.Database, t: CopyTable, batchSize: number): Promise<number> {
  const cols = t.columns.map((c) => q(c.name)).join(', ')
  const where = t.name === 'meta' ? ` WHERE key NOT IN (${SKIPPED_META_KEYS.map(() => '?').join(', ')})` : ''
  const params = t.name === 'meta' ? SKIPPED_META_KEYS : []
  // Exact integers (BigInt) whatever their size: a number past 2^53 fails loudly below
  // instead of arriving rounded.
  const rows = sqlite
    .prepare(`SELECT ${cols} FROM ${q(t.name)}${where}`)
    .raw(true)
    .safeIntegers(true)
    .iterate(...params) as IterableIterator<unknown[]>
  // One array per column, sent with unnest: one parameter per column whatever the batch size.
  const insert = `INSERT INTO ${q(t.name)} (${cols}) SELECT * FROM unnest(${t.columns.map((c, i) => `$${i + 1}::${c.pgType}[]`).join(', ')})`
  let n = 0
  let batch: unknown[][] = t.columns.map(() => [])
  let size = 0
  const flush = async () => {
    if (size === 0) return
    try {
      await client.query(insert, batch)
    } catch (err) {
      throw new DbCopyError(`copying ${t.name} failed: ${(err as Error).message}`)
    }
    batch = t.columns.map(() => [])
    size = 0
  }
  for (const row of rows) {
    for (let i = 0; i < t.columns.length; i++) batch[i]!.push(toPg(t.name, t.columns[i]!, row[i]))
    size++
    n++
    if (size >= batchSize) await flush()
  }
  await flush()
  return n
}

// SQLite values as PostgreSQL takes them: booleans stored 0/1 become true/false, integers go
// as exact decimal text, text (JSON included) as it is. Anything else is refused by name.
function toPg(table: string, col: { name: string; pgType: string }, v: unknown): unknown {
  if (v === null) return null
  const where = `${table}.${col.name}`
  switch (col.pgType) {
    case 'boolean':
      if (v === 0n || v === 1n) return v === 1n
      throw new DbCopyError(`${where} holds ${String(v)}, not a boolean (0 or 1)`)
    case 'bigint':
    case 'integer':
      if (typeof v === 'bigint') {
        if (col.pgType === 'integer' ? v < -(2n ** 31n) || v >= 2n ** 31n : v < -(2n ** 63n) || v >= 2n ** 63n)
          throw new DbCopyError(`${where} holds ${v}, out of range for a PostgreSQL ${col.pgType}`)
        return v.toString()
      }
      if (typeof v === 'number' && Number.isInteger(v)) return String(v)
      throw new DbCopyError(`${where} holds ${JSON.stringify(String(v)).slice(0, 60)}, not an integer`)
    case 'text':
      if (typeof v === 'string') {
        // PostgreSQL text cannot hold NUL; SQLite's can.
        if (v.includes('\0')) throw new DbCopyError(`${where} holds a NUL character, which PostgreSQL text cannot store`)
        return v
      }
      if (typeof v === 'bigint' || typeof v === 'number') return String(v)
      throw new DbCopyError(`${where} holds a blob, not text`)
    default:
      throw new DbCopyError(`${where}: db:copy has no rule for the PostgreSQL type ${col.pgType}`)
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url')
}

// Every name comes from the schemas, never from input; quoted anyway (some are keywords).
function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}
