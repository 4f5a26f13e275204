// The same code on both databases (issue 17): a test body gets a unit runner on a fresh,
// migrated SQLite database, then on a fresh, migrated PostgreSQL database (when there is a
// server, see pg.ts), and the test compares what each returned. Both hold workspace 1
// ('W') and 2 ('Other') — ids from PostgreSQL's identity, so later inserts do not collide.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import Database from 'better-sqlite3'
import pg from 'pg'
import { EventLog, type GroupLog, type UnitLog } from '../../src/events/event-log.ts'
import { PgEventLog } from '../../src/events/pg-event-log.ts'
import { openDatabase } from '../../src/store/db.ts'
import { migratePg, openPgPool } from '../../src/store/pg/db.ts'
import { numberPlaceholders } from '../../src/store/conn.ts'
import { PgRunner, SqliteRunner, type UnitRunner } from '../../src/store/runner.ts'
import { get } from '../../src/store/unit.ts'
import { freshPgDatabase } from './pg.ts'

export interface DialectDb {
  runner: UnitRunner
  /** Writing units with events; `published` collects what the log published, in order. */
  log: UnitLog
  published: { type: string; data: string; channelId: number | null; userId: number | null }[]
  /** Raw SQL for a test's set-up (`?` placeholders): runs as one unit. */
  exec(sql: string, params?: unknown[]): Promise<void>
  /** The same log's group commit (the ingest queue's). */
  group: GroupLog
  /** Rows read through another connection than the log's and the runner's (`?` placeholders). */
  readOther<T>(sql: string, params?: unknown[]): Promise<T[]>
}

export async function sqliteDb(t: Test, now: () => number = Date.now): Promise<DialectDb> {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-dialect-'))
  const db = openDatabase(path.join(dir, 'p.db'), { busyTimeoutMs: 1000 })
  let other: Database.Database | undefined
  t.teardown(() => {
    other?.close()
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  db.$client.exec(`INSERT INTO workspaces (name) VALUES ('W'), ('Other')`)
  const events = new EventLog(db, { now })
  const published: DialectDb['published'] = []
  events.onCommitted((e) => published.push(...e))
  const runner = new SqliteRunner(db.$client)
  return {
    runner,
    log: events.unitLog(),
    published,
    exec: async (sql, params = []) =>
      void runner.transactSync(function* () {
        yield (c) => c.run(sql, params)
      }),
    group: events,
    readOther: async <T>(sql: string, params: unknown[] = []) => {
      other ??= new Database(path.join(dir, 'p.db'), { readonly: true })
      return other.prepare(sql).all(...params) as T[]
    },
  }
}

export async function pgDb(t: Test, now: () => number = Date.now): Promise<DialectDb | undefined> {
  const url = await freshPgDatabase(t)
  if (!url) return undefined
  await migratePg(url, 'dialect-test')
  const pool = openPgPool(url, { nodeId: 'dialect-test', max: 4 })
  await pool.query(`INSERT INTO workspaces (name) VALUES ('W'), ('Other')`)
  const log = new PgEventLog(pool, { url, nodeId: 'dialect-test', pollMs: 50, clock: { now }, onError: () => {} })
  let other: pg.Client | undefined
  let otherReady: Promise<pg.Client> | undefined
  const published: DialectDb['published'] = []
  // The committing process's own events, in commit order (the tailer's are the same, later).
  log.onCommitted((e) => published.push(...e))
  await log.start()
  t.teardown(async () => {
    await log.stop()
    await other?.end()
    await pool.end()
  })
  const runner = new PgRunner(pool)
  return {
    runner,
    log,
    published,
    exec: async (sql, params = []) =>
      void (await runner.transact(function* () {
        yield (c) => c.run(sql, params)
      })),
    group: log,
    readOther: async <T>(sql: string, params: unknown[] = []) => {
      // One connection, opened once however many reads start together.
      otherReady ??= (async () => {
        other = new pg.Client({ connectionString: url })
        other.on('error', () => {})
        await other.connect()
        return other
      })()
      return (await (await otherReady).query(numberPlaceholders(sql), params)).rows as T[]
    },
  }
}

/** Runs `body` on SQLite, then on PostgreSQL (undefined without a server). */
export async function onBoth<T>(t: Test, body: (db: DialectDb) => Promise<T>): Promise<{ sqlite: T; pg: T | undefined }> {
  const sqlite = await body(await sqliteDb(t))
  const p = await pgDb(t)
  return { sqlite, pg: p ? await body(p) : undefined }
}

/** A set-up row inserted with plain SQL (`INSERT …` without RETURNING): its id. */
export async function insertId(db: { runner: UnitRunner }, sql: string, params: unknown[]): Promise<number> {
  return db.runner.transact(function* () {
    return (yield* get<{ id: number }>(`${sql} RETURNING id`, params))!.id
  })
}
