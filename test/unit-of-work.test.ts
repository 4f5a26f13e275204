// Units of work (issue 17): the same generator code runs synchronously inside a SQLite
// transaction and awaited on a PostgreSQL connection, with the same results — shown on a
// real repository (the audit log) against both real databases from their real migrations.
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { numberPlaceholders } from '../src/store/conn.ts'
import { openDatabase } from '../src/store/db.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { AbortedTransactionError, PgRunner, type SqliteRunner, type UnitRunner } from '../src/store/runner.ts'
import { all, dialect, get, type Q, run, step } from '../src/store/unit.ts'
import { AuditLogRepo } from '../src/store/audit-log.ts'
import { insertRow, TableCodec, updateRowById } from '../src/store/prepared.ts'
import { users, workspaces } from '../src/store/schema.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { onBoth as onBothDbs, pgDb, sqliteDb } from './helpers/dialects.ts'
import { type Emitter, EventLog, type UnitLog } from '../src/events/event-log.ts'
import { PgEventLog } from '../src/events/pg-event-log.ts'

t.test('placeholders are numbered for PostgreSQL outside quotes and comments', async (t) => {
  t.equal(numberPlaceholders('SELECT a FROM t WHERE b = ? AND c = ?'), 'SELECT a FROM t WHERE b = $1 AND c = $2')
  t.equal(
    numberPlaceholders(`SELECT '?' AS "q?", x FROM t WHERE y = ? -- is it?\n AND z = ?`),
    `SELECT '?' AS "q?", x FROM t WHERE y = $1 -- is it?\n AND z = $2`,
  )
})

type Tap = Test

async function sqliteRunner(t: Tap): Promise<SqliteRunner> {
  return (await sqliteDb(t)).runner as SqliteRunner
}

async function pgRunner(t: Tap): Promise<PgRunner | undefined> {
  return (await pgDb(t))?.runner as PgRunner | undefined
}

/** The same unit on both databases: what each returns. */
function onBoth<T>(t: Tap, body: (r: UnitRunner) => Promise<T>): Promise<{ sqlite: T; pg: T | undefined }> {
  return onBothDbs(t, (db) => body(db.runner))
}

t.test('the audit log repository: the same entries on SQLite and PostgreSQL', async (t) => {
  const repo = new AuditLogRepo()
  const entry = (i: number) => ({
    workspaceId: 1,
    at: 1_780_000_000_000 + i,
    actorUserId: null,
    actorLabel: i % 2 ? 'npm run admin' : null,
    action: `test.${i}`,
    targetType: 'user',
    targetId: String(i),
    detail: i % 3 ? { field: 'name', n: i } : null,
    ip: i % 2 ? null : '203.0.113.9',
  })
  const { sqlite, pg } = await onBoth(t, async (r) => {
    const ids = await r.transact(function* () {
      const out: number[] = []
      for (let i = 0; i < 5; i++) out.push(yield* repo.insert(entry(i)))
      yield* repo.insert({ ...entry(9), workspaceId: 2 })
      return out
    })
    const first = await r.read(() => repo.page(1, Number.MAX_SAFE_INTEGER, 3))
    const second = await r.read(() => repo.page(1, first[first.length - 1]!.id, 3))
    return { ids, pages: [first, second] }
  })
  t.same(
    sqlite.pages[0]!.map((e) => e.action),
    ['test.4', 'test.3', 'test.2'],
    'newest first, this workspace only',
  )
  t.same(
    sqlite.pages[1]!.map((e) => e.action),
    ['test.1', 'test.0'],
  )
  const { workspaceId: _, ...one } = entry(1)
  t.same(sqlite.pages[1]![0], { id: sqlite.ids[1], ...one }, 'decoded: detail parsed, nulls kept')
  if (pg) t.same(pg, sqlite, 'PostgreSQL returns exactly what SQLite does')
})

t.test('a unit: errors thrown at the yield, all or nothing, and a caught database error is loud on PostgreSQL', async (t) => {
  const insert = (id: number | null, name: string) =>
    id === null
      ? run(`INSERT INTO labels (workspace_id, name, color, created_at) VALUES (?, ?, ?, ?)`, [1, name, '#ff0000', 1])
      : run(`INSERT INTO labels (id, workspace_id, name, color, created_at) VALUES (?, ?, ?, ?, ?)`, [id, 1, name, '#ff0000', 1])
  const { sqlite, pg } = await onBoth(t, async (r) => {
    await r.transact(() => insert(1000, 'Urgent'))
    // A database error inside the unit is thrown at its yield: the unit may catch it...
    const caught = await r
      .transact(function* () {
        try {
          yield* insert(1000, 'Same id')
          return 'no error'
        } catch {
          yield* insert(null, 'After the error')
          return 'caught and went on'
        }
      })
      .catch((e: Error) => e)
    // ...and return at once: on PostgreSQL the commit is refused all the same.
    const returned = await r
      .transact(function* () {
        try {
          yield* insert(1000, 'Same id again')
        } catch {
          return 'caught'
        }
        return 'no error'
      })
      .catch((e: Error) => e)
    const failed = await r
      .transact(function* () {
        yield* insert(null, 'Never')
        throw new Error('changed my mind')
      })
      .catch((e: Error) => e.message)
    const names = await r.read(function* () {
      return (yield* all<{ name: string }>(`SELECT name FROM labels WHERE workspace_id = ? ORDER BY name`, [1])).map((x) => x.name)
    })
    const flag = await r.read(() => get<{ b: unknown }>(`SELECT CAST(? AS BOOLEAN) AS "b"`, [true]))
    return { caught, returned, failed, names, d: await r.read(() => dialect()), flag: flag?.b === true || flag?.b === 1 }
  })
  t.equal(sqlite.caught, 'caught and went on', 'SQLite undoes only the failed statement')
  t.equal(sqlite.returned, 'caught')
  t.same(sqlite.names, ['After the error', 'Urgent'])
  t.equal(sqlite.failed, 'changed my mind')
  t.equal(sqlite.d, 'sqlite')
  t.ok(sqlite.flag, 'booleans bind on SQLite (as 1)')
  if (pg) {
    t.match(String(pg.caught), /current transaction is aborted/, 'PostgreSQL: a statement after the error fails')
    t.ok(
      pg.returned instanceof AbortedTransactionError,
      'PostgreSQL: the COMMIT of an aborted transaction is an error, not a silent rollback',
    )
    t.same(pg.names, ['Urgent'], 'nothing of the aborted unit, nothing of the one that threw')
    t.equal(pg.failed, 'changed my mind')
    t.equal(pg.d, 'postgres')
    t.ok(pg.flag, 'booleans bind on PostgreSQL')
  }
})

t.test('SQLite refuses an asynchronous step: it would commit half a transaction', async (t) => {
  const r = await sqliteRunner(t)
  t.throws(
    () =>
      r.transactSync(function* () {
        yield* step(() => Promise.resolve(1))
      }),
    /asynchronous step in a synchronous \(SQLite\) unit/,
  )
  t.equal(
    r.readSync(() => dialect()),
    'sqlite',
  )
})

t.test('a unit reads many statements in one snapshot on PostgreSQL', async (t) => {
  const r = await pgRunner(t)
  if (!r) return
  // Two reads of one unit see the same rows even when another transaction commits between them.
  const seen = await r.read(function* (): Q<number[]> {
    const before = (yield* get<{ n: number }>('SELECT count(*)::int AS n FROM workspaces'))!.n
    yield* step(() => r.transact(() => run(`INSERT INTO workspaces (name) VALUES ('Third')`)))
    const after = (yield* get<{ n: number }>('SELECT count(*)::int AS n FROM workspaces'))!.n
    return [before, after]
  })
  t.same(seen, [2, 2], 'REPEATABLE READ: the commit in between is not seen')
  t.equal((await r.read(() => get<{ n: number }>('SELECT count(*)::int AS n FROM workspaces')))!.n, 3)
})

t.test('rows by the schema: inserted and updated alike on both databases (JSON parsed, booleans as booleans)', async (t) => {
  const ws = new TableCodec<{ id: number; name: string; businessHours: unknown; assignmentCap: number }>(workspaces)
  const people = new TableCodec<{ id: number; email: string; streaming: boolean; seenAt: number | null }>(users)
  const { sqlite, pg } = await onBoth(t, (r) =>
    r.transact(function* () {
      const w = (yield* insertRow(ws, { name: 'Shop', businessHours: { mon: [[540, 1080]] }, createdAt: 5 }))!
      const u = (yield* insertRow(people, {
        workspaceId: w.id,
        email: 'ana@example.com',
        name: 'Ana',
        passwordHash: 'x',
        role: 'agent',
        streaming: true,
        createdAt: 5,
      }))!
      const again = yield* insertRow(
        people,
        { workspaceId: w.id, email: 'ana@example.com', name: 'A', passwordHash: 'x', role: 'agent', createdAt: 6 },
        '(email) DO NOTHING',
      )
      const off = (yield* updateRowById(people, u.id, { streaming: false, seenAt: 42 }))!
      const capped = (yield* updateRowById(ws, w.id, { assignmentCap: 3, businessHours: null }))!
      return {
        w: { name: w.name, businessHours: w.businessHours, cap: w.assignmentCap },
        u: { email: u.email, streaming: u.streaming, seenAt: u.seenAt },
        again: again ?? null,
        off: { streaming: off.streaming, seenAt: off.seenAt },
        capped: { cap: capped.assignmentCap, businessHours: capped.businessHours },
      }
    }),
  )
  t.same(sqlite, {
    w: { name: 'Shop', businessHours: { mon: [[540, 1080]] }, cap: 10 },
    u: { email: 'ana@example.com', streaming: true, seenAt: null },
    again: null,
    off: { streaming: false, seenAt: 42 },
    capped: { cap: 3, businessHours: null },
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL: the same rows')
})

t.test('a unit with events: the same events committed and published on either log', async (t) => {
  const labels = function* (batch: Emitter, name: string): Q<number> {
    const row = yield* get<{ id: number }>(`INSERT INTO labels (workspace_id, name, color, created_at) VALUES (?, ?, ?, ?) RETURNING id`, [
      1,
      name,
      '#123456',
      7,
    ])
    const list = yield* all<{ id: number; name: string; color: string }>(
      `SELECT id, name, color FROM labels WHERE workspace_id = ? ORDER BY name, id`,
      [1],
    )
    batch.emit(1, 'labels.changed', { labels: list })
    return row!.id
  }
  const shape = (events: { type: string; data: string; channelId: number | null; userId: number | null }[]) =>
    events.map((e) => ({ type: e.type, data: JSON.parse(e.data), channelId: e.channelId, userId: e.userId }))

  // SQLite: EventLog's unit log, published after the commit.
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-unit-log-'))
  const db = openDatabase(path.join(dir, 'p.db'), { busyTimeoutMs: 1000 })
  t.teardown(() => {
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  db.$client.exec(`INSERT INTO workspaces (id, name) VALUES (1, 'W')`)
  const sqliteLog = new EventLog(db, { now: () => 7 })
  const onSqlite: { type: string; data: string; channelId: number | null; userId: number | null }[] = []
  sqliteLog.onCommitted((events) => onSqlite.push(...events))
  const log: UnitLog = sqliteLog.unitLog()
  const ids = [await log.transact((b) => labels(b, 'Urgent')), await log.transact((b) => labels(b, 'Beta'))]
  await log
    .transact(function* (b) {
      yield* labels(b, 'Never')
      throw new Error('no')
    })
    .catch(() => {})
  t.equal(onSqlite.length, 2, 'the unit that threw published nothing')

  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'unit-log')
  const pool = openPgPool(url, { nodeId: 'unit-log', max: 3 })
  await pool.query(`INSERT INTO workspaces (name) VALUES ('W')`)
  const pgLog = new PgEventLog(pool, { url, nodeId: 'unit-log', pollMs: 100, clock: { now: () => 7 }, onError: () => {} })
  t.teardown(async () => {
    await pgLog.stop()
    await pool.end()
  })
  const onPg: typeof onSqlite = []
  pgLog.onPublished((events) => onPg.push(...events))
  await pgLog.start()
  const pgIds = [await pgLog.transact((b) => labels(b, 'Urgent')), await pgLog.transact((b) => labels(b, 'Beta'))]
  await pgLog
    .transact(function* (b) {
      yield* labels(b, 'Never')
      throw new Error('no')
    })
    .catch(() => {})
  for (let i = 0; i < 500 && onPg.length < 2; i++) await new Promise((r) => setTimeout(r, 10))
  t.same(pgIds, ids, 'the same rows')
  t.same(shape(onPg), shape(onSqlite), 'the same events, in the same order, with the same audience')
})

t.test('an idle pooled connection ended by the server does not end the process; the next unit reconnects', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'idle')
  const errors: Error[] = []
  const pool = openPgPool(url, { nodeId: 'idle-test', max: 2, onIdleError: (e) => errors.push(e) })
  t.teardown(() => pool.end())
  const r = new PgRunner(pool)
  t.equal((await r.read(() => get<{ n: number }>('SELECT 1 AS "n"')))!.n, 1)
  const admin = openPgPool(url, { nodeId: 'admin', max: 1 })
  t.teardown(() => admin.end())
  await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'parley:idle-test'`)
  for (let i = 0; i < 500 && errors.length === 0; i++) await new Promise((res) => setTimeout(res, 10))
  t.equal(errors.length, 1, 'reported, not thrown')
  t.equal((await r.read(() => get<{ n: number }>('SELECT 2 AS "n"')))!.n, 2, 'a new connection serves the next unit')
})

t.test(
  'a read and its event cursor in one snapshot: the page shows exactly the events up to its eventId, even while others write',
  async (t) => {
    // Each write adds one label and one event, so in any consistent snapshot the number of
    // labels equals the number of events, and the cursor names the newest of them.
    const write = (log: UnitLog, i: number) =>
      log.transact(function* (b) {
        yield* run(`INSERT INTO labels (workspace_id, name, color, created_at) VALUES (?, ?, ?, ?)`, [1, `L${i}`, '#123456', 7])
        b.emit(1, 'labels.changed', { labels: [] })
      })
    const page = () => get<{ n: number }>('SELECT count(*) AS n FROM labels WHERE workspace_id = ?', [1])
    const results = await onBothDbs(t, async (db) => {
      const before = await db.log.snapshot(page)
      const [epoch, base] = before.eventId.split(':')
      const mismatches: string[] = []
      let seen = 0
      // Writers and readers at once: on PostgreSQL the reads run on other connections while
      // commits land between their statements.
      const writers = Array.from({ length: 40 }, (_, i) => write(db.log, i))
      const readers = Array.from({ length: 40 }, async () => {
        const s = await db.log.snapshot(page)
        const [e, id] = s.eventId.split(':')
        if (e !== epoch) mismatches.push(`epoch ${e}`)
        const events = Number(id) - Number(base)
        if (events !== s.result!.n - before.result!.n) mismatches.push(`${s.result!.n - before.result!.n} labels at ${events} events`)
        seen = Math.max(seen, events)
      })
      await Promise.all([...writers, ...readers])
      const after = await db.log.snapshot(page)
      return { mismatches, final: Number(after.eventId.split(':')[1]) - Number(base), labels: after.result!.n - before.result!.n }
    })
    t.same(results.sqlite, { mismatches: [], final: 40, labels: 40 }, 'SQLite: every snapshot consistent')
    if (results.pg) t.same(results.pg, { mismatches: [], final: 40, labels: 40 }, 'PostgreSQL: every snapshot consistent')
  },
)
