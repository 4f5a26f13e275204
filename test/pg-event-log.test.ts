// The event log on PostgreSQL across processes (issue 17), on a real server (skipped without
// one; see test/helpers/pg.ts): ids visible in commit order however transactions overlap,
// a dropped listening connection losing nothing, three processes migrating at once.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import type { StoredEvent } from '../src/store/events.ts'
import { step } from '../src/store/unit.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { type ChildNode, type Message, startChildNode } from './helpers/child-node.ts'

// The whole file's limit: three processes × 20,000 events took 32–59 s in CI rehearsals; the default 120 s per file is too close on a slower CI machine.
t.setTimeout(300_000)

const NODE = path.join(import.meta.dirname, 'helpers/pg-log-node.ts')

interface Node extends ChildNode {
  ready: { applied: number; epoch: string; head: number }
}

async function startNode(t: Test, url: string, nodeId: string): Promise<Node> {
  const node = startChildNode(t, NODE, nodeId, { PG_URL: url, NODE_ID: nodeId })
  const ready = await node.next<Node['ready'] & Message>('ready')
  return { ...node, ready }
}

t.test(
  'three processes, 32 writers each with a delay inside the transaction: every process publishes exactly the committed set, in id order',
  async (t) => {
    const url = await freshPgDatabase(t)
    if (!url) return
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => startNode(t, url, id)))
    const TOTAL = 20_000
    const per = [6667, 6667, 6666]
    const results = await Promise.all(
      nodes.map(async (n, i) => {
        n.child.send({ cmd: 'write', writers: 32, events: per[i], maxDelayMs: 8 })
        return (await n.next<{ committed: Array<[number, string]> }>('committed')).committed
      }),
    )
    const committed = new Map<number, string>()
    for (const list of results) for (const [id, data] of list) committed.set(id, data)
    t.equal(committed.size, TOTAL, 'every event committed once')
    const ids = [...committed.keys()].sort((a, b) => a - b)
    const first = ids[0]!
    t.equal(ids[ids.length - 1]! - first + 1, TOTAL, 'ids are dense: no id lost to a rollback or a sequence cache')
    const last = ids[ids.length - 1]!
    for (const [i, n] of nodes.entries()) {
      n.child.send({ cmd: 'received-through', id: last })
      const { received } = await n.next<{ received: Array<[number, string]> }>('received')
      let inOrder = true
      let exact = received.length === TOTAL
      for (let k = 0; k < received.length; k++) {
        const [id, data] = received[k]!
        if (k > 0 && id <= received[k - 1]![0]) inOrder = false
        if (committed.get(id) !== data) exact = false
      }
      t.ok(inOrder, `node ${i + 1}: ids strictly increasing`)
      t.ok(exact, `node ${i + 1}: exactly the ${TOTAL} committed events (${received.length} received), each with its payload`)
    }
    for (const n of nodes) n.child.send({ cmd: 'stop' })
    await Promise.all(nodes.map((n) => once(n.child, 'exit')))
  },
)

t.test('the listening connection terminated: nothing lost, and hints flow again once it is back', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'test')
  const errors: string[] = []
  const open = (nodeId: string, pollMs: number) => {
    const pool = openPgPool(url, { nodeId, max: 4 })
    const log = new PgEventLog(pool, {
      url,
      nodeId,
      pollMs,
      clock: { now: () => Date.now() },
      onError: (e, w) => errors.push(`${w}: ${e}`),
    })
    t.teardown(async () => {
      await log.stop()
      await pool.end()
    })
    return { pool, log }
  }
  // The reader's timer is out of the way: only hints and the reconnection's catch-up can wake it.
  const reader = open('reader', 3_600_000)
  const writer = open('writer', 250)
  const got: StoredEvent[] = []
  reader.log.onPublished((events) => got.push(...events))
  await reader.log.start()
  await writer.log.start()
  const write = (n: number) =>
    writer.log.transact(function* (batch) {
      yield* step(() => Promise.resolve())
      for (let i = 0; i < n; i++) batch.emit(1, 'conversation.updated', { n: i } as never, { channelId: 1 })
    })
  const until = async (what: string, cond: () => boolean) => {
    for (let i = 0; i < 1000 && !cond(); i++) await delay(10)
    t.ok(cond(), what)
  }
  await write(3)
  await until('the first events arrive by hint', () => got.length === 3)
  t.equal(reader.log.wakes.notify > 0, true, 'woken by a NOTIFY')

  const killed = await writer.pool.query(
    `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'parley-listen:reader'`,
  )
  t.same(
    killed.rows.map((r) => r.ok),
    [true],
    'the reader’s listening backend terminated',
  )
  await until('the reader notices', () => !reader.log.listening || got.length > 3)
  await write(5) // while the reader is not listening: its hint is lost
  await until('the reader listens again', () => reader.log.listening)
  await until('the events written meanwhile arrive by the catch-up read', () => got.length === 8)
  t.ok(reader.log.wakes.reconnect + reader.log.wakes.notify > 0)
  const before = reader.log.wakes.notify
  await write(2)
  await until('a new event arrives by its hint', () => got.length === 10)
  t.ok(reader.log.wakes.notify > before, 'hints flow again')
  const ids = got.map((e) => e.id)
  t.same(
    ids,
    Array.from({ length: 10 }, (_, i) => ids[0]! + i),
    'every event once, in order, no gap',
  )
  t.ok(
    errors.some((e) => e.startsWith('the listening connection')),
    'the drop was reported',
  )
})

t.test('three processes start together on an empty database: one migrates, all start', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  const nodes = await Promise.all(['m1', 'm2', 'm3'].map((id) => startNode(t, url, id)))
  const applied = nodes.map((n) => n.ready.applied)
  t.equal(applied.filter((a) => a > 0).length, 1, `one process applied the migrations (${applied.join(', ')})`)
  t.equal(new Set(nodes.map((n) => n.ready.epoch)).size, 1, 'all share one epoch')
  const pool = openPgPool(url, { nodeId: 'check', max: 1 })
  t.teardown(() => pool.end())
  const seq = await pool.query('SELECT count(*)::int AS n FROM event_seq')
  t.equal(seq.rows[0].n, 1, 'one counter row')
  const dup = await pool.query('SELECT count(*)::int AS n, count(DISTINCT hash)::int AS d FROM drizzle.__drizzle_migrations')
  t.equal(dup.rows[0].n, dup.rows[0].d, 'each migration recorded once')
  for (const n of nodes) n.child.send({ cmd: 'stop' })
  await Promise.all(nodes.map((n) => once(n.child, 'exit')))
})
