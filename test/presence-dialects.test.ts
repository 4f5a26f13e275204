// Who is online, and who is viewing or typing, across processes (issue 17).
// (a) Presence in shared mode (rows per process in presence_nodes): the same online and
//     offline answers and changes on SQLite and PostgreSQL for one process; on PostgreSQL,
//     two processes (two Presence objects with their own node ids on one database): a
//     stream held on B keeps a person online when their stream on A closes, a person seen
//     only on B is online on A at A's next heartbeat, and a process that stops heartbeating
//     lets its people go offline after the grace. Time is an injected clock; heartbeats are
//     called, never waited for.
// (b) The ephemeral relay (events/pg-ephemeral.ts) on PostgreSQL: a frame published on A
//     reaches B (not A twice), nothing enters the events table, frames beyond one NOTIFY's
//     8000 bytes arrive all and in order, and a terminated listening connection comes back
//     on its own and hears the next frame.
import t, { type Test } from 'tap'
import { Presence } from '../src/domain/team/presence.ts'
import { type EphemeralSignal, PgEphemeralRelay } from '../src/events/pg-ephemeral.ts'
import type { PresenceFrame } from '../src/events/types.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PresenceRepo } from '../src/store/presence.ts'
import { type DialectDb, insertId, onBoth, pgDb } from './helpers/dialects.ts'
import { until } from './helpers/emulator.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const WS = 1
const OTHER_WS = 2
const GRACE = 60_000
const T0 = 1_800_000_000_000

async function seed(db: DialectDb) {
  const user = (ws: number, name: string, disabled = false) =>
    insertId(db, 'INSERT INTO users (workspace_id, email, name, password_hash, role, disabled_at) VALUES (?, ?, ?, ?, ?, ?)', [
      ws,
      `${name}@example.com`,
      name,
      'x',
      'agent',
      disabled ? T0 : null,
    ])
  return { ana: await user(WS, 'ana'), bea: await user(WS, 'bea'), zed: await user(OTHER_WS, 'zed'), gone: await user(WS, 'gone', true) }
}

type Change = [number, boolean, string]

function node(t: Test, db: DialectDb, nodeId: string, clock: { now: number }) {
  const changes: Change[] = []
  const errors: unknown[] = []
  const p = new Presence({
    offlineAfterMs: GRACE,
    now: () => clock.now,
    shared: { repo: new PresenceRepo(), nodeId, runner: db.runner, heartbeatMs: 0, onError: (err) => errors.push(err) },
  })
  p.onChange((userId, online, where) => changes.push([userId, online, where]))
  t.teardown(() => p.stop())
  return { p, changes, errors }
}

t.test('(a) one process: the same online and offline answers and changes on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const names: Record<number, string> = { [s.ana]: 'ana', [s.bea]: 'bea', [s.zed]: 'zed', [s.gone]: 'gone' }
    const clock = { now: T0 }
    const a = node(t, db, 'A', clock)
    const seen: Record<string, unknown> = {}
    const view = () => ({ ws: a.p.onlineUsers(WS).map((id) => names[id]), other: a.p.onlineUsers(OTHER_WS).map((id) => names[id]) })
    await a.p.start()
    seen.atStart = view()

    a.p.streams(s.ana, WS, true)
    a.p.streams(s.zed, OTHER_WS, true)
    seen.opened = view()
    await a.p.heartbeat()
    seen.afterBeat = view()

    // Ana's last stream closes: online for the grace, then offline at a heartbeat past it.
    clock.now += 1000
    a.p.streams(s.ana, WS, false)
    clock.now += GRACE - 1
    await a.p.heartbeat()
    seen.withinGrace = view()
    // Zed holds a stream far longer than the grace: the heartbeat keeps them online.
    clock.now += 2
    await a.p.heartbeat()
    seen.pastGrace = view()
    clock.now += 5 * GRACE
    await a.p.heartbeat()
    seen.longStreaming = view()

    // A blip: closed and back within the grace changes nothing for anyone.
    a.p.streams(s.bea, WS, true)
    a.p.streams(s.bea, WS, false)
    clock.now += 10
    a.p.streams(s.bea, WS, true)
    await a.p.heartbeat()

    // A restart (a graceful stop, then a process under a new id): who held a stream stays
    // online for the grace from the stop, without an event, then goes offline.
    await a.p.stop()
    const rowsAfterStop = await db.runner.read(function* () {
      return yield* new PresenceRepo().onlineAcrossNodes(clock.now - GRACE)
    })
    seen.rowsAfterStop = rowsAfterStop.map((r) => [names[r.userId], r.workspaceId])
    clock.now += 1000
    const b = node(t, db, 'B', clock)
    await b.p.start()
    seen.restarted = { ws: b.p.onlineUsers(WS).map((id) => names[id]), other: b.p.onlineUsers(OTHER_WS).map((id) => names[id]) }
    clock.now += GRACE
    await b.p.heartbeat()
    seen.restartedPastGrace = { ws: b.p.onlineUsers(WS).map((id) => names[id]), other: b.p.onlineUsers(OTHER_WS).map((id) => names[id]) }
    seen.changesA = a.changes.map(([u, on, w]) => [names[u], on, w])
    seen.changesB = b.changes.map(([u, on, w]) => [names[u], on, w])
    seen.errors = [...a.errors, ...b.errors].map(String)
    // Swept long after the grace: nothing is left behind by either process.
    clock.now += 3 * GRACE
    await b.p.heartbeat()
    seen.rowsLeft = (await db.readOther<{ n: number }>('SELECT CAST(count(*) AS INTEGER) AS n FROM presence_nodes'))[0]!.n
    return seen
  })
  t.same(sqlite.atStart, { ws: [], other: [] })
  t.same(sqlite.opened, { ws: ['ana'], other: ['zed'] }, 'online at once with their first stream, each in their workspace')
  t.same(sqlite.afterBeat, sqlite.opened)
  t.same(sqlite.withinGrace, { ws: ['ana'], other: ['zed'] }, 'within the grace after the close: still online')
  t.same(sqlite.pastGrace, { ws: [], other: ['zed'] }, 'past it: offline')
  t.same(sqlite.longStreaming, { ws: [], other: ['zed'] }, 'a held stream keeps its person online however long')
  t.same(sqlite.rowsAfterStop, [
    ['bea', WS],
    ['zed', OTHER_WS],
  ])
  t.same(sqlite.restarted, { ws: ['bea'], other: ['zed'] }, 'after a restart, who held a stream is online for the grace')
  t.same(sqlite.restartedPastGrace, { ws: [], other: [] })
  t.same(sqlite.changesA, [
    ['ana', true, 'here'],
    ['zed', true, 'here'],
    ['ana', false, 'here'],
    ['bea', true, 'here'],
  ])
  t.same(
    sqlite.changesB,
    [
      ['bea', false, 'elsewhere'],
      ['zed', false, 'elsewhere'],
    ],
    'the new process starts quietly, and tells of the offline transitions it sees',
  )
  t.same(sqlite.errors, [])
  t.equal(sqlite.rowsLeft, 0, 'stale rows are swept')
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
})

t.test(
  '(a) two processes on PostgreSQL: a stream on B keeps a person online; a process that stops heartbeating lets its people go',
  async (t) => {
    const db = await pgDb(t)
    if (!db) return
    const s = await seed(db)
    const clock = { now: T0 }
    const a = node(t, db, 'A', clock)
    const b = node(t, db, 'B', clock)
    await Promise.all([a.p.start(), b.p.start()])

    a.p.streams(s.ana, WS, true)
    b.p.streams(s.ana, WS, true)
    clock.now += 1000
    a.p.streams(s.ana, WS, false)
    // Past the grace after A's close; B's heartbeat keeps its stream's row fresh.
    clock.now += GRACE + 1
    await b.p.heartbeat()
    await a.p.heartbeat()
    t.ok(a.p.isOnline(s.ana), "Ana's stream on B keeps her online on A after her stream on A closed")
    t.ok(b.p.isOnline(s.ana))
    t.same(a.changes, [[s.ana, true, 'here']], 'no offline on A')

    // Bea opens a stream on B only: A learns it at its next heartbeat, as from elsewhere.
    b.p.streams(s.bea, WS, true)
    // B's write is queued: its writes and heartbeats run in order, so once this heartbeat is
    // done Bea's row is committed (A reading before that would race it).
    await b.p.heartbeat()
    t.notOk(a.p.isOnline(s.bea), 'not before A has read the rows')
    await a.p.heartbeat()
    t.ok(a.p.isOnline(s.bea), 'online on A from B’s row')
    t.same(
      a.p.onlineUsers(WS),
      [s.ana, s.bea].sort((x, y) => x - y),
    )
    t.same(a.changes.at(-1), [s.bea, true, 'elsewhere'])

    // Heartbeats of both at once, many times: no deadlock, no error, nobody flips.
    for (let i = 0; i < 20; i++) {
      clock.now += 1000
      await Promise.all([a.p.heartbeat(), b.p.heartbeat(), a.p.heartbeat()])
    }
    t.same(a.errors, [])
    t.same(b.errors, [])
    t.same(
      a.p.onlineUsers(WS),
      [s.ana, s.bea].sort((x, y) => x - y),
    )

    // B dies: no more heartbeats, no release. Within the grace its people stay online (a
    // blip); past it they are offline on A.
    clock.now += GRACE - 1
    await a.p.heartbeat()
    t.same(
      a.p.onlineUsers(WS),
      [s.ana, s.bea].sort((x, y) => x - y),
      'within the grace after B’s last heartbeat',
    )
    clock.now += 2
    await a.p.heartbeat()
    t.same(a.p.onlineUsers(WS), [], 'past it, offline')
    t.notOk(a.p.isOnline(s.ana))
    t.same(
      a.changes.slice(-2).sort((x, y) => x[0] - y[0]),
      [
        [s.ana, false, 'elsewhere'],
        [s.bea, false, 'elsewhere'],
      ].sort((x, y) => (x[0] as number) - (y[0] as number)),
    )
    // And back on A: online at once, here.
    a.p.streams(s.ana, WS, true)
    t.ok(a.p.isOnline(s.ana))
    t.same(a.changes.at(-1), [s.ana, true, 'here'])
    await a.p.heartbeat()
    const rows = await db.readOther<{ node: string; streaming: boolean }>(
      `SELECT node_id AS node, streaming FROM presence_nodes WHERE user_id = ? ORDER BY node_id`,
      [s.ana],
    )
    t.same(
      rows,
      [
        { node: 'A', streaming: true },
        { node: 'B', streaming: true },
      ],
      "B's stale row stays until it is swept, and counts for nothing",
    )
    t.same(a.errors, [])
  },
)

const frame = (conversationId: number, userId: number, state: PresenceFrame['state'], name = 'Ana'): PresenceFrame => ({
  conversationId,
  user: { id: userId, name },
  state,
  ...(state === 'typing' ? { mode: 'reply' as const } : {}),
  expiresAt: T0 + 6000,
})

t.test('(b) the ephemeral relay on PostgreSQL: across processes, never in the log, back after its connection is cut', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'ephemeral-test')
  const pool = openPgPool(url, { nodeId: 'ephemeral-test', max: 4 })
  t.teardown(() => pool.end())
  const errors: string[] = []
  const relay = (nodeId: string) => {
    const got: EphemeralSignal[] = []
    const r = new PgEphemeralRelay({
      url,
      pool,
      nodeId,
      deliver: (s) => got.push(s),
      onError: (err, what) => errors.push(`${nodeId} ${what}: ${err}`),
    })
    t.teardown(() => r.stop())
    return { r, got }
  }
  const a = relay('A')
  const b = relay('B')
  await Promise.all([a.r.start(), b.r.start()])
  const events = async () => (await pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number
  const before = await events()

  const typing = { workspaceId: WS, channelId: 7, frame: frame(11, 3, 'typing') }
  a.r.publish(typing)
  t.same(a.got, [typing], "delivered on A at once, to A's own streams")
  await until(async () => b.got.length === 1, 'the typing frame on B', 20_000)
  t.same(b.got[0], typing, 'B hears the same frame')
  // B answers with a marker: once A hears it, A's own frame would have come back before it.
  const marker = { workspaceId: WS, channelId: 7, frame: frame(11, 4, 'viewing', 'Ben') }
  b.r.publish(marker)
  await until(async () => a.got.length === 2, 'the marker on A', 20_000)
  t.same(a.got, [typing, marker], 'A does not hear its own frame twice')
  t.equal(await events(), before, 'the events table has no new row')

  // More than one NOTIFY's worth (8000 bytes): every frame arrives, in order.
  const long = 'é'.repeat(400)
  const many = Array.from({ length: 60 }, (_, i) => ({ workspaceId: WS, channelId: 7, frame: frame(100 + i, 3, 'viewing', long) }))
  const base = b.got.length // typing, and B's own marker delivered locally
  t.equal(base, 2)
  const sentBefore = a.r.notifies
  for (const s of many) a.r.publish(s)
  await until(async () => b.got.length === base + many.length, 'sixty frames on B', 20_000)
  const cut = (s: EphemeralSignal) => ({ ...s, frame: { ...s.frame, user: { ...s.frame.user, name: s.frame.user.name.slice(0, 200) } } })
  t.same(b.got.slice(base), many.map(cut), 'all, in order (a long name cut to 200 characters)')
  const sent = a.r.notifies - sentBefore
  t.ok(sent > 2 && sent < many.length, `packed into a few NOTIFYs under 8000 bytes each (${sent})`)

  // B's listening connection is terminated: it comes back by itself and hears the next frame.
  const killed = await pool.query(
    `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'parley-ephemeral:B' AND datname = current_database()`,
  )
  t.equal(killed.rowCount, 1, 'one connection terminated')
  await until(async () => b.r.reconnects >= 1 && b.r.connected, 'B listening again', 30_000)
  const idle = { workspaceId: WS, channelId: 7, frame: frame(11, 3, 'idle') }
  a.r.publish(idle)
  await until(async () => b.got.at(-1)?.frame.state === 'idle', 'the idle frame on B after the reconnect', 20_000)
  t.same(b.got.at(-1), idle)
  t.equal(await events(), before, 'still no event row')
  t.ok(
    errors.every((e) => e.startsWith('B ')),
    'only B reported its dropped connection',
  )

  // A payload that is not a relay's is ignored, never delivered, never thrown.
  const n = b.got.length
  await pool.query(
    `SELECT pg_notify('parley_ephemeral', 'not json'), pg_notify('parley_ephemeral', '{"n":"x","s":[[1,2,{"state":"bogus"}]]}')`,
  )
  a.r.publish(marker)
  await until(async () => b.got.length === n + 1, 'the next real frame', 20_000)
  t.same(b.got.at(-1), marker, 'the garbage before it was dropped')
})
