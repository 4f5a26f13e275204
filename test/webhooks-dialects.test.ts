// Outgoing webhooks written once for both databases (issue 17): the repository's and the
// domain's units give the same results on SQLite and PostgreSQL (another workspace's endpoint
// is absent on both), the delivery worker sends the same requests on both, and on PostgreSQL
// the claim (FOR UPDATE SKIP LOCKED, fenced, timed by the database) lets two delivery
// workers on one database send every event exactly once, in order.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import http from 'node:http'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { AuditLogRepo } from '../src/store/audit-log.ts'
import { AuditLog } from '../src/domain/audit/audit-log.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { all, get, type Q, step } from '../src/store/unit.ts'
import { type ClaimedEndpoint, DELIVERIES_KEPT, type NewDelivery, WebhookEndpointsRepo } from '../src/store/webhook-endpoints.ts'
import { WebhookDispatcher } from '../src/domain/webhooks/dispatcher.ts'
import { Webhooks } from '../src/domain/webhooks/webhooks.ts'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PgRunner } from '../src/store/runner.ts'
import { type DialectDb, onBoth, pgDb, sqliteDb } from './helpers/dialects.ts'
import { startChildNode } from './helpers/child-node.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const repo = new WebhookEndpointsRepo()
const secrets = new SecretBox(Buffer.alloc(32, 7))
const quietLog = { warn: () => {}, error: () => {} }

/** The log's highest id, read from the database (what a process's `events.head` follows). */
const headOf = async (db: DialectDb) => (await db.runner.read(() => get<{ n: number | null }>('SELECT max(id) AS n FROM events')))?.n ?? 0

/** Emits `n` contacts.imported events in workspace `ws` (one commit each). */
async function emitImports(db: DialectDb, ws: number, n: number, from = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    // biome-ignore lint/correctness/useYield: a unit whose only writes are its events
    await db.log.transact(function* (batch) {
      batch.emit(ws, 'contacts.imported', { listId: from + i, created: 1, updated: 0 })
    })
  }
}

const delivery = (eventId: number, result: NewDelivery['result'], attempt = 1, at = 1000): NewDelivery => ({
  eventId,
  eventType: 'contacts.imported',
  attempt,
  result,
  statusCode: result === 'delivered' ? 200 : 500,
  error: result === 'delivered' ? null : 'answered 500',
  durationMs: 12,
  at,
  nextRetryAt: result === 'retrying' ? at + 5000 : null,
})

t.test('the repository: the same rows on SQLite and PostgreSQL, scoped by workspace', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    await emitImports(db, 1, 2)
    // biome-ignore lint/correctness/useYield: a unit whose only writes are its events
    await db.log.transact(function* (batch) {
      batch.emit(2, 'contacts.imported', { listId: 9, created: 1, updated: 0 }) // another workspace's
      batch.emit(1, 'labels.changed', { labels: [] }) // a type not subscribed to
      batch.emit(1, 'user.updated', { user: { id: 1 } as never }, { userId: 1 }) // one person's: never sent out
    })
    await emitImports(db, 1, 1, 2)
    const ids = await db.runner.read(() =>
      all<{ id: number; ws: number; type: string }>('SELECT id, workspace_id AS "ws", type FROM events ORDER BY id'),
    )
    const base = ids[0]!.id - 1
    const head = await headOf(db)
    const made = await db.runner.transact(function* () {
      const a = yield* repo.insert({
        workspaceId: 1,
        url: 'https://a.example/h',
        events: ['contacts.imported', 'user.updated'],
        secret: 's1',
        cursor: base,
        now: 5,
        createdBy: null,
      })
      const b = yield* repo.insert({
        workspaceId: 1,
        url: 'https://b.example/h',
        events: ['labels.changed'],
        secret: 's2',
        cursor: head,
        now: 6,
        createdBy: null,
      })
      const c = yield* repo.insert({
        workspaceId: 2,
        url: 'https://c.example/h',
        events: ['contacts.imported'],
        secret: 's3',
        cursor: base,
        now: 7,
        createdBy: null,
      })
      return { a, b, c }
    })
    const { a, b, c } = made
    // Walk endpoint a's events the way the worker does: next after the cursor, then record.
    const walked = await db.runner.transact(function* (): Q<unknown[]> {
      const out: unknown[] = []
      let cursor = a.cursor
      for (;;) {
        const e = yield* repo.nextEvent(1, cursor, head, ['contacts.imported', 'user.updated'])
        if (!e) break
        out.push({ id: e.id - base, type: e.type, data: JSON.parse(e.data) as unknown })
        cursor = e.id
      }
      return out
    })
    const reads = await db.runner.read(function* () {
      return {
        list1: (yield* repo.list(1)).map((r) => r.url),
        list2: (yield* repo.list(2)).map((r) => r.url),
        all: (yield* repo.all()).map((r) => r.url),
        count1: yield* repo.count(1),
        count2: yield* repo.count(2),
        own: (yield* repo.get(1, a.id))?.url,
        others: yield* repo.get(2, a.id),
        byId: (yield* repo.byId(c.id))?.workspaceId,
        bNext: yield* repo.nextEvent(1, b.cursor, head, ['labels.changed']),
      }
    })
    // A failed attempt, its retry delivered, then the endpoint deleted meanwhile.
    const first = walked[0] as { id: number }
    const recorded = await db.runner.transact(function* () {
      const failed = yield* repo.record(a.id, delivery(base + first.id, 'retrying', 1, 1000))
      const afterFail = yield* repo.byId(a.id)
      const ok = yield* repo.record(a.id, delivery(base + first.id, 'delivered', 2, 7000))
      const afterOk = yield* repo.byId(a.id)
      const deliveries = yield* repo.deliveries(a.id, 10)
      const last = yield* repo.last(a.id)
      return { failed, afterFail, ok, afterOk, deliveries, last }
    })
    const deleting = await db.runner.transact(function* () {
      const wrongWorkspace = yield* repo.delete(2, a.id)
      const deleted = yield* repo.delete(1, a.id)
      const again = yield* repo.delete(1, a.id)
      const recordGone = yield* repo.record(a.id, delivery(base + 3, 'delivered'))
      return { wrongWorkspace, deleted, again, recordGone, left: (yield* repo.all()).length }
    })
    return {
      types: ids.map((e) => [e.id - base, e.ws, e.type]),
      made: { a: { ...a, id: 0, cursor: a.cursor - base }, c: { ...c, id: 0, cursor: c.cursor - base, workspaceId: c.workspaceId } },
      walked,
      reads: { ...reads, bNext: reads.bNext && { ...reads.bNext, id: reads.bNext.id - base } },
      recorded: {
        failed: recorded.failed,
        afterFail: {
          attempts: recorded.afterFail!.attempts,
          next: recorded.afterFail!.nextAttemptAt,
          cursor: recorded.afterFail!.cursor - base,
        },
        ok: recorded.ok,
        afterOk: { attempts: recorded.afterOk!.attempts, next: recorded.afterOk!.nextAttemptAt, cursor: recorded.afterOk!.cursor - base },
        deliveries: recorded.deliveries.map((d) => ({ ...d, id: 0, eventId: d.eventId - base })),
        last: recorded.last && { ...recorded.last, id: 0, eventId: recorded.last.eventId - base },
      },
      deleting,
    }
  })
  t.same(
    sqlite.walked,
    [
      { id: 1, type: 'contacts.imported', data: { listId: 0, created: 1, updated: 0 } },
      { id: 2, type: 'contacts.imported', data: { listId: 1, created: 1, updated: 0 } },
      { id: 6, type: 'contacts.imported', data: { listId: 2, created: 1, updated: 0 } },
    ],
    "its workspace's events of its types, in order; not another workspace's, not one person's",
  )
  t.same(sqlite.reads.list1, ['https://a.example/h', 'https://b.example/h'])
  t.same(sqlite.reads.list2, ['https://c.example/h'])
  t.equal(sqlite.reads.count1, 2)
  t.equal(sqlite.reads.count2, 1)
  t.equal(sqlite.reads.own, 'https://a.example/h')
  t.equal(sqlite.reads.others, undefined, "another workspace's endpoint is absent")
  t.equal(sqlite.reads.bNext, undefined, 'nothing after a cursor at the head')
  t.same(sqlite.recorded.afterFail, { attempts: 1, next: 6000, cursor: 0 }, 'a retry waits, the cursor stays')
  t.same(sqlite.recorded.afterOk, { attempts: 0, next: null, cursor: 1 }, 'delivered: past the event')
  t.same(
    sqlite.recorded.deliveries.map((d) => [d.attempt, d.result, d.statusCode]),
    [
      [2, 'delivered', 200],
      [1, 'retrying', 500],
    ],
    'newest first',
  )
  t.same(sqlite.deleting, { wrongWorkspace: false, deleted: true, again: false, recordGone: false, left: 2 })
  if (pg) t.same(pg, sqlite, 'PostgreSQL returns exactly what SQLite does')
})

t.test('the attempts kept per endpoint are bounded on both', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const e = await db.runner.transact(() =>
      repo.insert({
        workspaceId: 1,
        url: 'https://a.example/',
        events: ['contacts.imported'],
        secret: 's',
        cursor: 0,
        now: 1,
        createdBy: null,
      }),
    )
    await db.runner.transact(function* () {
      for (let i = 1; i <= DELIVERIES_KEPT + 5; i++) yield* repo.record(e.id, delivery(1, 'retrying', i, i))
    })
    const kept = await db.runner.read(() => repo.deliveries(e.id, 1000))
    return { n: kept.length, newest: kept[0]!.attempt, oldest: kept[kept.length - 1]!.attempt }
  })
  t.same(sqlite, { n: DELIVERIES_KEPT, newest: DELIVERIES_KEPT + 5, oldest: 6 })
  if (pg) t.same(pg, sqlite)
})

/** The domain over one database, with a real audit log and a dispatcher that is never started. */
function domain(db: DialectDb, head: () => number) {
  const events = {
    get head() {
      return head()
    },
    epoch: 'e1',
  }
  const audit = new AuditLog({
    repo: new AuditLogRepo(),
    now: () => 42,
  })
  const dispatcher = new WebhookDispatcher({
    repo,
    units: db.runner,
    events,
    secrets,
    clock: { now: () => 42 },
    retryBaseMs: 10,
    retryCapMs: 100,
    retryForMs: 60_000,
    timeoutMs: 1000,
    allowPrivate: true,
    log: quietLog,
  })
  return new Webhooks({ repo, events, secrets, audit, dispatcher, allowPrivate: false, now: () => 42 })
}

t.test("the domain's units: the same endpoints, errors and audit entries on both", async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const hooks = domain(db, () => 17)
    const actor = { userId: null, label: 'test', ip: '203.0.113.1' }
    const made = await db.runner.transact(() =>
      hooks.createUnit(1, actor, { url: 'https://hooks.example/in?token=x', events: ['contacts.imported', 'contacts.imported'] }),
    )
    const other = await db.runner.transact(() => hooks.createUnit(2, actor, { url: 'https://other.example/', events: ['user.updated'] }))
    const refused = await db.runner
      .transact(() => hooks.createUnit(1, actor, { url: 'http://127.0.0.1/', events: ['contacts.imported'] }))
      .catch((e: { code?: string }) => e.code)
    const list1 = await db.runner.read(() => hooks.listUnit(1))
    const list2 = await db.runner.read(() => hooks.listUnit(2))
    const notHere = await db.runner.read(() => hooks.deliveriesUnit(2, made.row.id, 10)).catch((e: { code?: string }) => e.code)
    const removeOthers = await db.runner.transact(() => hooks.removeUnit(2, actor, made.row.id)).catch((e: { code?: string }) => e.code)
    const none = await db.runner.read(() => hooks.deliveriesUnit(1, made.row.id, 10))
    await db.runner.transact(() => hooks.removeUnit(1, actor, made.row.id))
    const audit = await db.runner.read(() => new AuditLogRepo().page(1, Number.MAX_SAFE_INTEGER, 10))
    const plain = <E extends { id: number }>(e: E) => ({ ...e, id: 0 })
    return {
      secretShown: /^whsec_/.test(made.endpoint.secret),
      sealed: made.row.secret !== made.endpoint.secret,
      cursor: made.row.cursor,
      endpoint: { ...plain(made.endpoint), secret: '' },
      refused,
      list1: list1.map(plain),
      list2: list2.map((e) => e.url),
      notHere,
      removeOthers,
      none,
      after: (await db.runner.read(() => hooks.listUnit(1))).length,
      audit: audit.map((e) => [e.action, e.detail, e.actorLabel, e.ip]),
      otherStays: (await db.runner.read(() => hooks.listUnit(2))).map((e) => e.id === other.row.id),
    }
  })
  t.ok(sqlite.secretShown, 'the secret is shown at creation')
  t.ok(sqlite.sealed, 'and kept sealed')
  t.equal(sqlite.cursor, 17, "a new endpoint starts at the log's head")
  t.same(sqlite.endpoint.events, ['contacts.imported'], 'types deduplicated')
  t.equal(sqlite.refused, 'WEBHOOK_URL_PRIVATE')
  t.same(sqlite.list2, ['https://other.example/'])
  t.equal(sqlite.notHere, 'NOT_FOUND', "another workspace's endpoint: not found")
  t.equal(sqlite.removeOthers, 'NOT_FOUND', 'nor deleted from another workspace')
  t.same(sqlite.after, 0)
  t.same(sqlite.otherStays, [true])
  t.same(
    sqlite.audit.map((a) => a[0]),
    ['webhook_endpoint.deleted', 'webhook_endpoint.created'],
    'created and deleted are audited, in the same transactions',
  )
  t.same(sqlite.audit[1]![1], { url: 'https://hooks.example/in', events: ['contacts.imported'] }, 'without the query')
  if (pg) t.same(pg, sqlite, 'PostgreSQL returns exactly what SQLite does')
})

/** A receiver that records each request's webhook-id and answers `status()`. */
async function receiver(t: Test, status: () => number, delayMs = 0) {
  const got: string[] = []
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      got.push(String(req.headers['webhook-id']))
      setTimeout(() => res.writeHead(status()).end(), delayMs)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` }
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function dispatcher(db: DialectDb, head: { head: number; epoch: string }) {
  return new WebhookDispatcher({
    repo,
    units: db.runner,
    events: head,
    secrets,
    clock: { now: () => Date.now() },
    retryBaseMs: 10,
    retryCapMs: 50,
    retryForMs: 60_000,
    timeoutMs: 2000,
    allowPrivate: true,
    log: quietLog,
  })
}

t.test('the delivery worker sends the same requests on both, retrying a failure in order', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    let calls = 0
    // The second request fails once: the events after it wait for its retry.
    const rx = await receiver(t, () => (++calls === 2 ? 500 : 204))
    const head = { head: await headOf(db), epoch: 'e1' }
    const endpoint = await db.runner.transact(() =>
      repo.insert({
        workspaceId: 1,
        url: rx.url,
        events: ['contacts.imported'],
        secret: secrets.seal('whsec_AAAA'),
        cursor: head.head,
        now: 1,
        createdBy: null,
      }),
    )
    const base = head.head
    const d = dispatcher(db, head)
    d.start()
    await emitImports(db, 2, 2) // another workspace's: not sent
    await emitImports(db, 1, 4)
    head.head = await headOf(db)
    for (const w of [1, 2]) d.observe([{ userId: null, workspaceId: w, type: 'contacts.imported' } as never])
    await until('four deliveries', () => rx.got.length >= 5)
    await until('the cursor at the head', async () => (await db.runner.read(() => repo.byId(endpoint.id)))?.cursor === head.head)
    await d.stop(1000)
    const kept = await db.runner.read(() => repo.deliveries(endpoint.id, 10))
    const ids = await db.runner.read(() => all<{ id: number }>('SELECT id FROM events WHERE workspace_id = 1 ORDER BY id'))
    return {
      got: rx.got.map((id) => eventIdOf(id) - base),
      events: ids.map((e) => e.id - base),
      kept: kept.map((k) => [k.eventId - base, k.attempt, k.result, k.statusCode]).reverse(),
    }
  })
  t.same(sqlite.got, [3, 4, 4, 5, 6], 'in order, the failed one again before the next, no other workspace')
  t.same(sqlite.events, [3, 4, 5, 6])
  t.same(sqlite.kept, [
    [3, 1, 'delivered', 204],
    [4, 1, 'retrying', 500],
    [4, 2, 'delivered', 204],
    [5, 1, 'delivered', 204],
    [6, 1, 'delivered', 204],
  ])
  if (pg) t.same(pg, sqlite, 'PostgreSQL: the same requests and attempts')
})

t.test('PostgreSQL: a claim is exclusive (SKIP LOCKED), runs out on the database clock, and fences the outcome', async (t) => {
  const db = await pgDb(t)
  if (!db) return
  const e = await db.runner.transact(() =>
    repo.insert({
      workspaceId: 1,
      url: 'https://a.example/',
      events: ['contacts.imported'],
      secret: 's',
      cursor: 0,
      now: 1,
      createdBy: null,
    }),
  )
  // While one transaction holds the row mid-claim, another's claim skips it at once (no wait
  // for the lock: lock_timeout would fail it after 5 s instead).
  const both = await db.runner.transact(function* () {
    const mine = yield* repo.claim(e.id, 60_000)
    const theirs = yield* step(() => db.runner.transact(() => repo.claim(e.id, 60_000)))
    return { mine: mine?.claim ?? null, theirs }
  })
  t.ok(both.mine, 'the first claims it')
  t.equal(both.theirs, undefined, 'the second, concurrent, skips it')
  t.equal(await db.runner.transact(() => repo.claim(e.id, 60_000)), undefined, 'and later too, while the claim holds')
  // A claim that runs out (its process died or hung): another takes the endpoint over...
  await db.exec('UPDATE webhook_endpoints SET next_attempt_at = NULL WHERE id = ?', [e.id])
  const short = (await db.runner.transact(() => repo.claim(e.id, 300)))!
  let next: ClaimedEndpoint | undefined
  await until('the short claim to run out', async () => {
    next = await db.runner.transact(() => repo.claim(e.id, 60_000))
    return next !== undefined
  })
  const taken = next!
  t.ok(taken.claim! > short.claim!, 'the new claim is later than the one it replaced: it fences')
  // ...and the late outcome of the first claim is not written; the new owner's is.
  t.equal(await db.runner.transact(() => repo.record(e.id, delivery(1, 'delivered'), short.claim)), false, 'the late owner writes nothing')
  t.equal((await db.runner.read(() => repo.byId(e.id)))!.cursor, 0)
  t.equal(await db.runner.transact(() => repo.record(e.id, delivery(1, 'delivered'), taken.claim)), true, 'the owner records')
  const after = (await db.runner.read(() => repo.byId(e.id)))!
  t.same([after.cursor, after.nextAttemptAt], [1, null], 'past the event, the claim released')
  // A retry waiting (next_attempt_at ahead) is not claimed before it is due.
  await db.exec('UPDATE webhook_endpoints SET attempts = 1, next_attempt_at = ? WHERE id = ?', [Date.now() + 600_000, e.id])
  t.equal(await db.runner.transact(() => repo.claim(e.id, 60_000)), undefined, 'a retry not due yet is not claimed')
})

t.test('SQLite: a claim is the row as it is (one process), unfenced', async (t) => {
  const db = await sqliteDb(t)
  const e = await db.runner.transact(() =>
    repo.insert({
      workspaceId: 1,
      url: 'https://a.example/',
      events: ['contacts.imported'],
      secret: 's',
      cursor: 0,
      now: 1,
      createdBy: null,
    }),
  )
  const a = await db.runner.transact(() => repo.claim(e.id, 1000))
  const b = await db.runner.transact(() => repo.claim(e.id, 1000))
  t.same(
    { a: a?.claim, b: b?.claim, next: (await db.runner.read(() => repo.byId(e.id)))!.nextAttemptAt },
    { a: null, b: null, next: null },
    'nothing written: the worker behaves as before the move',
  )
})

t.test('PostgreSQL: two delivery workers on one database send every event exactly once, in order', async (t) => {
  const db = await pgDb(t)
  if (!db) return
  // A slow receiver: each attempt takes a while, so both workers keep trying to claim it.
  const rx = await receiver(t, () => 200, 15)
  const head = { head: await headOf(db), epoch: 'e1' }
  const base = head.head
  const endpoint = await db.runner.transact(() =>
    repo.insert({
      workspaceId: 1,
      url: rx.url,
      events: ['contacts.imported'],
      secret: secrets.seal('whsec_AAAA'),
      cursor: base,
      now: 1,
      createdBy: null,
    }),
  )
  // Two dispatchers with their own workers and memory: two processes, as far as the database sees.
  const one = dispatcher(db, head)
  const two = dispatcher(db, head)
  one.start()
  two.start()
  const N = 40
  for (let i = 0; i < N; i += 5) {
    await emitImports(db, 1, 5, i)
    head.head = await headOf(db)
    for (const d of [one, two]) d.observe([{ userId: null, workspaceId: 1, type: 'contacts.imported' } as never])
  }
  await until('the cursor at the head', async () => (await db.runner.read(() => repo.byId(endpoint.id)))?.cursor === head.head, 60_000)
  await Promise.all([one.stop(1000), two.stop(1000)])
  const got = rx.got.map((id) => eventIdOf(id) - base)
  t.same(
    got,
    Array.from({ length: N }, (_, i) => i + 1),
    'each event once, in id order',
  )
  const kept = await db.runner.read(() => repo.deliveries(endpoint.id, 1000))
  t.equal(kept.length, N, 'one attempt recorded per event')
  t.ok(
    kept.every((k) => k.result === 'delivered' && k.attempt === 1),
    'all delivered at the first attempt',
  )
})

/** The event id in a webhook-id (`evt_<epoch>_<id>`): after the LAST `_`, since a base64url epoch may hold one. */
function eventIdOf(webhookId: string): number {
  return Number(webhookId.slice(webhookId.lastIndexOf('_') + 1))
}

const NODE = path.join(import.meta.dirname, 'helpers/webhook-node.ts')

/** A delivering process (helpers/webhook-node.ts), ready; `next(key)` waits for its message with that key. */
async function startNode(t: Test, url: string, nodeId: string, env: Record<string, string>) {
  const node = startChildNode(t, NODE, nodeId, { PG_URL: url, NODE_ID: nodeId, ...env })
  await node.next('ready')
  return node
}

t.test(
  'PostgreSQL, real processes: one killed (kill -9) mid-attempt loses nothing; the others send each event once, in order',
  async (t) => {
    const url = await freshPgDatabase(t)
    if (!url) return
    await migratePg(url, 'parent')
    const pool = openPgPool(url, { nodeId: 'parent', max: 4 })
    await pool.query(`INSERT INTO workspaces (name) VALUES ('W')`)
    const log = new PgEventLog(pool, { url, nodeId: 'parent', pollMs: 100, clock: { now: () => Date.now() }, onError: () => {} })
    await log.start()
    t.teardown(async () => {
      await log.stop()
      await pool.end()
    })
    const runner = new PgRunner(pool)
    // The receiver holds the first request it gets unanswered (the process sending it is then
    // killed mid-attempt), and answers every other one 200.
    const got: number[] = []
    let firstArrived: () => void = () => {}
    const first = new Promise<void>((r) => (firstArrived = r))
    const server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        got.push(eventIdOf(String(req.headers['webhook-id'])))
        if (got.length === 1) return firstArrived()
        setTimeout(() => res.writeHead(200).end(), 5)
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.teardown(() => {
      server.closeAllConnections()
      return new Promise<void>((r) => server.close(() => r()))
    })
    const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    const endpoint = await runner.transact(() =>
      repo.insert({
        workspaceId: 1,
        url: hookUrl,
        events: ['contacts.imported'],
        secret: secrets.seal('whsec_AAAA'),
        cursor: log.head,
        now: 1,
        createdBy: null,
      }),
    )
    const emit = (from: number, n: number) =>
      // biome-ignore lint/correctness/useYield: a unit whose only writes are its events
      log.transact(function* (batch) {
        for (let i = 0; i < n; i++) batch.emit(1, 'contacts.imported', { listId: from + i, created: 1, updated: 0 })
      })

    // Process a claims the endpoint (for 1.5 s) and is killed while its request hangs.
    const a = await startNode(t, url, 'a', { TIMEOUT_MS: '60000', CLAIM_MS: '1500' })
    await emit(0, 1)
    await first
    a.child.kill('SIGKILL')
    await once(a.child, 'exit')
    // b and c claim for long enough that a slow moment on this busy machine never lets the
    // other take over: here, only a's claim is to run out.
    const others = await Promise.all(['b', 'c'].map((id) => startNode(t, url, id, { TIMEOUT_MS: '10000', CLAIM_MS: '60000' })))
    const N = 30
    for (let i = 1; i < N; i += 5) await emit(i, Math.min(5, N - i))
    const lastId = (await runner.read(() => get<{ n: number }>('SELECT max(id) AS n FROM events')))!.n
    await until('every event delivered', async () => (await runner.read(() => repo.byId(endpoint.id)))?.cursor === lastId, 60_000)
    for (const o of others) o.child.send({ cmd: 'stop' })
    const claimed = await Promise.all(others.map((o) => o.next<{ claimed: number }>('stopped')))
    const firstId = lastId - N + 1
    t.same(
      got.map((id) => id - firstId + 1),
      [1, ...Array.from({ length: N }, (_, i) => i + 1)],
      "the killed process's attempt sent again (same webhook-id) once its claim ran out; every event once more, in order",
    )
    const kept = await runner.read(() => repo.deliveries(endpoint.id, 1000))
    t.same(
      kept.map((k) => [k.eventId - firstId + 1, k.attempt, k.result]).reverse(),
      Array.from({ length: N }, (_, i) => [i + 1, 1, 'delivered']),
      'one attempt recorded per event (the killed one recorded nothing)',
    )
    t.equal(
      claimed.reduce((n, c) => n + c.claimed, 0),
      N,
      'the two live processes claimed N attempts between them: none twice',
    )
    t.comment(`attempts claimed: b ${claimed[0]!.claimed}, c ${claimed[1]!.claimed}`)
  },
)
