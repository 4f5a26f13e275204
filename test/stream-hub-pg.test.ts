// Streams over PostgreSQL's log (issue 17): a cursor handed out by another process can be
// ahead of this process's tailer — the page came from process A, the reconnect lands on B
// before B's tailer read those events. B must wait for its tailer (woken at once, not at its
// next poll) and replay from the cursor, not reset the client; a cursor the database has
// never reached still resets at once. Real server, real HTTP, a raw SSE client.
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { StreamHub } from '../src/events/stream-hub.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PgEventsRepo } from '../src/store/pg/events.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { connectSse } from './helpers/sse.ts'

async function setup(t: Test) {
  const url = await freshPgDatabase(t)
  if (!url) return undefined
  await migratePg(url, 'test')
  const errors: string[] = []
  const pool = openPgPool(url, { nodeId: 'b', max: 4 })
  // B's timer is out of the way (an hour): only its own wake-ups can move its tailer.
  const log = new PgEventLog(pool, {
    url,
    nodeId: 'b',
    pollMs: 3_600_000,
    clock: { now: Date.now },
    onError: (e, w) => errors.push(`${w}: ${e}`),
  })
  const hub = new StreamHub(log, { heartbeatMs: 15_000, pingMs: 30_000, maxBufferedBytes: 1 << 20, drainTimeoutMs: 5000 })
  log.onPublished((events) => hub.publish(events))
  await log.start()
  hub.start()
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
    res.flushHeaders()
    const cursor = req.headers['last-event-id']
    hub.open(
      res,
      {
        userId: 1,
        workspaceId: 1,
        sessionId: 's',
        expiresAt: Date.now() + 3_600_000,
        access: { workspaceId: 1, userId: 1, role: 'admin', channelIds: null },
      },
      typeof cursor === 'string' ? cursor : undefined,
    )
  })
  server.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  t.teardown(async () => {
    hub.stop()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await log.stop()
    await pool.end()
  })
  // Another process's commit whose NOTIFY never arrived (a hint can be lost with its
  // connection): the events are in the database, B has not read them.
  const other = openPgPool(url, { nodeId: 'a', max: 1 })
  t.teardown(() => other.end())
  const repo = new PgEventsRepo()
  const commitElsewhere = async (n: number, createdAt = Date.now()): Promise<number[]> => {
    const client = await other.connect()
    try {
      await client.query('BEGIN')
      const pending = Array.from({ length: n }, (_, i) => ({
        workspaceId: 1,
        type: 'conversation.updated',
        data: JSON.stringify({ n: i }),
        channelId: null,
        userId: null,
        createdAt,
      }))
      const first = await repo.append(client, pending)
      await client.query('COMMIT')
      return pending.map((_, i) => first + i)
    } finally {
      client.release()
    }
  }
  // What the other process's hinter sends after a commit (this time it arrives).
  const notify = async (id: number) => void (await other.query('SELECT pg_notify($1, $2)', ['parley_events', String(id)]))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, log, other, repo, commitElsewhere, notify, errors }
}

t.test('a cursor from another process, ahead of this one: the stream waits for its tailer and replays, no reset', async (t) => {
  const s = await setup(t)
  if (!s) return
  const ids = await s.commitElsewhere(3)
  t.ok(s.log.head < ids[0]!, 'B has not read the other process’s events (its tailer sleeps; the hint was lost)')
  // The client saw the first event on A (its page's eventId) and reconnects to B.
  const sse = await connectSse(s.url, { lastEventId: s.log.cursor(ids[0]!) })
  t.teardown(() => sse.close())
  await sse.waitFor(
    (evs) => evs.filter((e) => e.event === 'conversation.updated').length >= 2 || evs.some((e) => e.event === 'reset'),
    10_000,
  )
  t.same(
    sse.events.map((e) => e.event),
    ['conversation.updated', 'conversation.updated'],
    'the two events after the cursor, and no reset',
  )
  t.same(
    sse.events.map((e) => e.id),
    [s.log.cursor(ids[1]!), s.log.cursor(ids[2]!)],
    'in order, with their ids',
  )
  // And live after it: another event reaches the same stream once.
  const more = await s.commitElsewhere(1)
  await s.notify(more[0]!)
  await sse.waitFor((evs) => evs.length >= 3, 10_000)
  t.same(
    sse.events.map((e) => e.id),
    [ids[1], ids[2], more[0]].map((id) => s.log.cursor(id)),
    'the next event live, once',
  )
  t.same(s.errors, [], 'no log errors')
})

t.test('a cursor past anything the database holds: reset (ahead_of_log), with the current cursor', async (t) => {
  const s = await setup(t)
  if (!s) return
  const ids = await s.commitElsewhere(1)
  const sse = await connectSse(s.url, { lastEventId: s.log.cursor(ids[0]! + 1000) })
  t.teardown(() => sse.close())
  await sse.waitFor((evs) => evs.some((e) => e.event === 'reset'), 10_000)
  const reset = JSON.parse(sse.events.find((e) => e.event === 'reset')!.data)
  t.equal(reset.reason, 'ahead_of_log')
  t.match(reset.cursor, new RegExp(`^${s.log.epoch}:\\d+$`))
  t.equal(sse.events.length, 1, 'only the reset: nothing replayed from a cursor the database never reached')
})

t.test('pruning on PostgreSQL: one process prunes, the others refuse the pruned cursors — never a silent gap', async (t) => {
  const s = await setup(t)
  if (!s) return
  const DAY = 86_400_000
  const old = await s.commitElsewhere(4, Date.now() - 10 * DAY)
  const recent = await s.commitElsewhere(2)
  await s.notify(recent[1]!)
  await until(async () => s.log.head >= recent[1]!, 'B to read every event')
  const count = async () => Number((await s.log.pool.query('SELECT count(*) AS n FROM events')).rows[0].n)

  // Another process holds the prune lock: B's try deletes nothing and only reads the mark.
  const holder = await s.other.connect()
  await holder.query(`SELECT pg_advisory_lock(hashtext('parley:events-prune'))`)
  t.equal(await s.log.prune(Date.now() - 7 * DAY), 0, 'another process is pruning: B only reads the mark (none yet)')
  t.equal(await count(), 6, 'nothing deleted by B meanwhile')

  await holder.query(`SELECT pg_advisory_unlock(hashtext('parley:events-prune'))`)
  holder.release()
  // Another process prunes (B does not know yet: its mark is from its start).
  t.equal(await s.repo.pruneBefore(s.other, Date.now() - 7 * DAY), old[3]!, 'the mark: the newest old event')
  t.equal(await count(), 2, 'the events older than the retention are gone, the recent ones kept')
  t.equal(s.log.prunedThrough, 0, "B's mark is stale")

  // A client resuming from a pruned cursor on B: the replay finds the mark moved and ends the
  // stream instead of skipping the pruned events; its reconnect is told `pruned`.
  const first = await connectSse(s.url, { lastEventId: s.log.cursor(old[0]!) })
  t.teardown(() => first.close())
  await first.closed
  t.same(
    first.events.filter((e) => e.event === 'conversation.updated'),
    [],
    'nothing replayed across the pruned range',
  )
  t.equal(s.log.prunedThrough, old[3]!, 'B learnt the mark from its replay read')
  const again = await connectSse(s.url, { lastEventId: s.log.cursor(old[0]!) })
  t.teardown(() => again.close())
  await again.waitFor((evs) => evs.some((e) => e.event === 'reset'), 10_000)
  t.equal(JSON.parse(again.events.find((e) => e.event === 'reset')!.data).reason, 'pruned', 'the reconnect: reset, pruned')

  // A cursor at the mark still replays: the events after it are all there.
  const fine = await connectSse(s.url, { lastEventId: s.log.cursor(old[3]!) })
  t.teardown(() => fine.close())
  await fine.waitFor((evs) => evs.filter((e) => e.event === 'conversation.updated').length >= 2, 10_000)
  t.same(
    fine.events.map((e) => e.id),
    recent.map((id) => s.log.cursor(id)),
    'from the mark: the kept events, in order, no reset',
  )

  // B's own prune: nothing more is old enough; the mark stays.
  t.equal(await s.log.prune(Date.now() - 7 * DAY), old[3]!, "B's own prune keeps the mark")
  t.equal(await count(), 2)
  t.same(s.errors, [], 'no log errors')
})

async function until(pred: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
