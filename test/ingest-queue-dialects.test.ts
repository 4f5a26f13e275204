// The ingest queue's group commit on both databases (issue 17), with generic units of work
// (plain INSERTs into a real table, emitted events) on fresh SQLite and PostgreSQL databases
// from their real migrations: jobs submitted together commit as one group with dense event
// ids in submit order; a job that throws is rolled back alone (rows and events) and its
// fallback kept; a job is answered only once another connection sees its rows. PostgreSQL
// only: a failed statement inside a job's savepoint does not abort the group; the group's
// connection killed mid-group fails every job of it with 503 and the queue goes on; two
// processes' queues on one database give dense ids in commit order, published once each.
import t from 'tap'
import pg from 'pg'
import { IngestQueue, type IngestJob } from '../src/domain/inbox/ingest-queue.ts'
import { AppError } from '../src/errors.ts'
import type { CommittedEvent } from '../src/events/event-log.ts'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import type { StoredEvent } from '../src/store/events.ts'
import { get, run } from '../src/store/unit.ts'
import { type DialectDb, onBoth, pgDb } from './helpers/dialects.ts'
import { freshPgDatabase, pgAdminUrl, withDatabase } from './helpers/pg.ts'

const WS = 1

interface JobSpec {
  /** Throws this after its INSERT and its event. */
  throws?: unknown
}

/** One INSERT into `meta` and one event; its fallback writes `job:<n>:raw`. */
function job(n: number, spec: JobSpec = {}): IngestJob {
  return {
    run: function* (batch) {
      yield* run('INSERT INTO meta (key, value) VALUES (?, ?)', [`job:${n}`, 'run'])
      batch.emit(WS, 'contacts.imported', { listId: n, created: 0, updated: 0 })
      if (spec.throws !== undefined) throw spec.throws
    },
    // Keeps the payload raw: a row and no event, as keepRaw.
    fallback: function* () {
      yield* run('INSERT INTO meta (key, value) VALUES (?, ?)', [`job:${n}:raw`, 'fallback'])
    },
  }
}

const keys = async (db: DialectDb) =>
  (await db.readOther<{ key: string }>(`SELECT key FROM meta WHERE key LIKE 'job:%'`)).map((r) => r.key).sort()

/** What the log published after its commits, in order: id and the job number. */
const published = (db: DialectDb) =>
  (db.published as unknown as CommittedEvent[])
    .filter((e) => e.type === 'contacts.imported')
    .map((e) => ({ id: e.id, n: (JSON.parse(e.data) as { listId: number }).listId }))

function queueOn(db: DialectDb) {
  const commits: number[] = []
  const errors: unknown[] = []
  const queue = new IngestQueue(db.group, { onCommitted: (s) => commits.push(s), onJobError: (e) => errors.push(e) })
  return { queue, commits, errors }
}

t.test('50 jobs submitted in one tick commit as one group; their events have dense ids in submit order', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { queue, commits } = queueOn(db)
    const N = 50
    await Promise.all(Array.from({ length: N }, (_, i) => queue.submit(job(i))))
    const events = published(db)
    const ids = events.map((e) => e.id)
    const stored = await db.readOther<{ id: number }>(`SELECT id FROM events WHERE type = 'contacts.imported' ORDER BY id`)
    return {
      groups: commits.length,
      rows: (await keys(db)).length,
      order: events.map((e) => e.n),
      dense: ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1),
      storedIds: stored.map((r) => Number(r.id)).join() === ids.join(),
    }
  })
  const expected = { groups: 1, rows: 50, order: Array.from({ length: 50 }, (_, i) => i), dense: true, storedIds: true }
  t.same(sqlite, expected, 'SQLite: one group, every row, ids dense in submit order')
  if (pg) t.same(pg, expected, 'PostgreSQL: the same')
})

t.test('100 jobs at once: one group on SQLite; on PostgreSQL groups of at most 64 savepoints, in submit order', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { queue, commits } = queueOn(db)
    await Promise.all(Array.from({ length: 100 }, (_, i) => queue.submit(job(i))))
    const events = published(db)
    const ids = events.map((e) => e.id)
    return {
      groups: commits.length,
      rows: (await keys(db)).length,
      inOrder: events.every((e, i) => e.n === i),
      dense: ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1),
    }
  })
  t.same(sqlite, { groups: 1, rows: 100, inOrder: true, dense: true }, 'SQLite: one group (no subtransaction cache to overflow)')
  // 64 parts fill PostgreSQL's per-backend subtransaction cache; a 65th would overflow it.
  if (pg) t.same(pg, { groups: 2, rows: 100, inOrder: true, dense: true }, 'PostgreSQL: 64 + 36')
})

t.test('a job that throws is rolled back alone (its rows and events), its fallback kept; the others commit', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { queue, commits, errors } = queueOn(db)
    const results = await Promise.allSettled([
      queue.submit(job(0)),
      queue.submit(job(1, { throws: new TypeError('a bug in the ingest') })),
      queue.submit(job(2)),
      queue.submit(job(3, { throws: new RangeError('another') })),
      queue.submit(job(4)),
    ])
    const events = published(db)
    const ids = events.map((e) => e.id)
    return {
      statuses: results.map((r) => r.status),
      groups: commits.length,
      rows: await keys(db),
      events: events.map((e) => e.n),
      dense: ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1),
      errors: errors.map(String),
    }
  })
  const expected = {
    statuses: ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    groups: 1,
    rows: ['job:0', 'job:1:raw', 'job:2', 'job:3:raw', 'job:4'],
    events: [0, 2, 4],
    dense: true,
    errors: ['TypeError: a bug in the ingest', 'RangeError: another'],
  }
  t.same(sqlite, expected, 'SQLite')
  if (pg) t.same(pg, expected, 'PostgreSQL')
})

t.test("a job's promise resolves only once another connection sees its rows", async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { queue } = queueOn(db)
    const seen = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        queue.submit(job(i)).then(async () => (await db.readOther(`SELECT key FROM meta WHERE key = ?`, [`job:${i}`])).length),
      ),
    )
    return seen
  })
  t.same(sqlite, Array(20).fill(1), 'SQLite: every row visible from the other connection when its job resolves')
  if (pg) t.same(pg, Array(20).fill(1), 'PostgreSQL: the same')
})

t.test('PostgreSQL: a failed statement inside a job (unique violation) does not abort the group', async (t) => {
  const db = await pgDb(t)
  if (!db) return
  await db.exec(`INSERT INTO meta (key, value) VALUES ('job:dup', 'there')`)
  const { queue, commits, errors } = queueOn(db)
  const duplicate = (n: number, swallow: boolean): IngestJob => ({
    run: function* (batch) {
      yield* run('INSERT INTO meta (key, value) VALUES (?, ?)', [`job:${n}`, 'run'])
      batch.emit(WS, 'contacts.imported', { listId: n, created: 0, updated: 0 })
      try {
        yield* run(`INSERT INTO meta (key, value) VALUES ('job:dup', 'again')`)
      } catch (err) {
        // Not portable (the transaction is aborted): caught here to prove the savepoint's
        // RELEASE refuses it and this job, not the group, pays.
        if (!swallow) throw err
      }
    },
    fallback: job(n).fallback,
  })
  const results = await Promise.allSettled([
    queue.submit(job(0)),
    queue.submit(duplicate(1, false)),
    queue.submit(job(2)),
    queue.submit(duplicate(3, true)),
    queue.submit(job(4)),
  ])
  t.same(
    results.map((r) => r.status),
    Array(5).fill('fulfilled'),
  )
  t.equal(commits.length, 1, 'one group')
  t.same(
    await keys(db),
    ['job:0', 'job:1:raw', 'job:2', 'job:3:raw', 'job:4', 'job:dup'],
    'the failing jobs rolled back, their fallbacks kept',
  )
  t.same(
    published(db).map((e) => e.n),
    [0, 2, 4],
    "the failing jobs' events dropped",
  )
  t.equal((errors[0] as { code?: string }).code, '23505', 'the unique violation reported')
  t.equal((errors[1] as { code?: string }).code, '25P02', 'the swallowed one: its savepoint refused to release')
})

t.test(
  "PostgreSQL: the group's connection killed while a job waits on a lock: every job fails with 503, nothing commits, the next group commits",
  async (t) => {
    const db = await pgDb(t)
    if (!db) return
    await db.exec(`INSERT INTO meta (key, value) VALUES ('locked', 'x')`)
    const name = (await db.readOther<{ name: string }>('SELECT current_database() AS name'))[0]!.name
    const locker = new pg.Client({ connectionString: withDatabase(pgAdminUrl()!, name) })
    await locker.connect()
    t.teardown(() => locker.end())
    await locker.query('BEGIN')
    await locker.query(`SELECT * FROM meta WHERE key = 'locked' FOR UPDATE`)

    const { queue, commits } = queueOn(db)
    let pid = 0
    const waiter: IngestJob = {
      run: function* () {
        pid = (yield* get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!.pid
        yield* run(`UPDATE meta SET value = 'y' WHERE key = 'locked'`)
      },
      fallback: job(99).fallback,
    }
    const group = [queue.submit(job(0)), queue.submit(job(1)), queue.submit(waiter), queue.submit(job(2))].map((p) =>
      p.then(
        () => 'committed',
        (e: unknown) => e,
      ),
    )
    // Until the group's connection waits on the lock (a read of the server's own state each turn).
    for (;;) {
      const waiting = pid
        ? await db.readOther<{ n: string }>('SELECT count(*) AS n FROM pg_locks WHERE pid = ? AND NOT granted', [pid])
        : [{ n: '0' }]
      if (Number(waiting[0]!.n) > 0) break
      await new Promise((r) => setImmediate(r))
    }
    await db.readOther('SELECT pg_terminate_backend(?)', [pid])
    const outcomes = await Promise.all(group)
    for (const o of outcomes) {
      t.ok(o instanceof AppError, 'rejected with a named error')
      t.equal((o as AppError).code, 'STORAGE_UNAVAILABLE')
      t.equal((o as AppError).statusCode, 503)
    }
    t.equal(queue.storageFailure, '57P01', 'the health check sees the failure')
    t.same(await keys(db), [], 'nothing of the group committed')
    t.same(published(db), [], 'no event published')
    t.equal(commits.length, 0)
    await locker.query('ROLLBACK')

    await Promise.all([queue.submit(job(10)), queue.submit(job(11))])
    t.same(await keys(db), ['job:10', 'job:11'], 'the next group commits')
    t.equal(queue.storageFailure, null, 'and clears the failure')
    t.same(
      published(db).map((e) => e.n),
      [10, 11],
    )
  },
)

t.test(
  'PostgreSQL: two queues on two event logs of one database: ids dense and increasing in commit order, each tailer publishes every event once',
  async (t) => {
    const url = await freshPgDatabase(t)
    if (!url) return
    await migratePg(url, 'queues')
    const setup = await openPgPool(url, { nodeId: 'setup', max: 1 })
    await setup.query(`INSERT INTO workspaces (name) VALUES ('W')`)
    await setup.end()
    const ROUNDS = 10
    const PER_ROUND = 25
    const TOTAL = 2 * ROUNDS * PER_ROUND
    const nodes = await Promise.all(
      ['a', 'b'].map(async (nodeId) => {
        const pool = openPgPool(url, { nodeId, max: 4 })
        const log = new PgEventLog(pool, { url, nodeId, pollMs: 50, clock: { now: Date.now }, onError: () => {} })
        const committed: number[][] = []
        log.onCommitted((events) => committed.push(events.map((e) => e.id)))
        const received: StoredEvent[] = []
        let allReceived: () => void = () => {}
        const done = new Promise<void>((resolve) => {
          allReceived = resolve
        })
        log.onPublished((events) => {
          received.push(...events)
          if (received.length >= TOTAL) allReceived()
        })
        await log.start()
        t.teardown(async () => {
          await log.stop()
          await pool.end()
        })
        return { nodeId, log, committed, received, done, queue: new IngestQueue(log) }
      }),
    )
    // Both queues at once, each round a group of jobs submitted in one tick.
    await Promise.all(
      nodes.map(async (node, k) => {
        for (let r = 0; r < ROUNDS; r++) {
          await Promise.all(Array.from({ length: PER_ROUND }, (_, i) => node.queue.submit(job(k * 10_000 + r * 100 + i))))
        }
      }),
    )
    const all = nodes.flatMap((n) => n.committed.flat()).sort((a, b) => a - b)
    t.equal(all.length, TOTAL, 'every event committed')
    t.ok(
      all.every((id, i) => i === 0 || id === all[i - 1]! + 1),
      'ids dense across both processes',
    )
    for (const n of nodes) {
      const own = n.committed.flat()
      t.ok(
        own.every((id, i) => i === 0 || id > own[i - 1]!),
        `${n.nodeId}: its own commits' ids strictly increasing in commit order`,
      )
      t.ok(
        n.committed.every((group) => group.every((id, i) => i === 0 || id === group[i - 1]! + 1)),
        `${n.nodeId}: each group's ids dense`,
      )
    }
    for (const n of nodes) {
      await n.done
      const ids = n.received.map((e) => e.id)
      t.equal(ids.length, TOTAL, `${n.nodeId}'s tailer: every event`)
      t.ok(
        ids.every((id, i) => i === 0 || id > ids[i - 1]!),
        `${n.nodeId}'s tailer: once each, strictly increasing`,
      )
      t.same(ids, all, `${n.nodeId}'s tailer: exactly the committed ids`)
    }
  },
)
