// Viewing and typing (issue 14): real server, real SSE clients. Presence reaches the
// streams that may see the conversation's channel as a `presence` frame WITHOUT an id,
// never enters the event log, is never replayed, is throttled and expires.
import t, { type Test } from 'tap'
import { apiCall } from './helpers/server.ts'
import { type AnaAndBen, anaAndBen } from './helpers/team-fixtures.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import type { PresenceFrame } from '../src/events/types.ts'

type Team = AnaAndBen & { clock: { offset: number; now: () => number } }

async function team(t: Test): Promise<Team> {
  const clock = { offset: 0, now: () => Date.now() + clock.offset }
  const tm = await anaAndBen(t, { clock })
  t.equal(tm.secondStatus, 201)
  return { ...tm, clock }
}

/** A customer writes on a channel; answers the conversation's id. */
async function customerWrites(tm: Team, channel: 'first' | 'second', from: string, body: string): Promise<number> {
  await tm.customerWrites(from, `Customer ${from}`, body, channel)
  const row = (await tm.s.sql.get<{ id: number }>(
    'SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE k.phone = ? ORDER BY c.id DESC',
    [from],
  ))!
  return row.id
}

const eventRows = async (tm: Team) => (await tm.s.sql.get<{ n: number }>('SELECT count(*) AS n FROM events'))!.n
const open = (tm: Team, token: string, lastEventId?: string) =>
  connectSse(`${tm.s.url}/stream`, { token, ...(lastEventId ? { lastEventId } : {}) })
const presenceOf = (c: SseClient) => c.events.filter((e) => e.event === 'presence')
const frames = (c: SseClient) => presenceOf(c).map((e) => JSON.parse(e.data) as PresenceFrame)
const post = (tm: Team, token: string, id: number, body: unknown) =>
  apiCall(tm.s.url, token)('POST', `/api/conversations/${id}/presence`, body)

t.test('viewing reaches the channel’s people without an id, never the log, never another channel', async (t) => {
  const tm = await team(t)
  const conv = await customerWrites(tm, 'first', '15550009001', 'hello')
  const admin = await open(tm, tm.admin)
  const ana = await open(tm, tm.ana.token)
  const ben = await open(tm, tm.ben.token)
  t.teardown(() => {
    for (const c of [admin, ana, ben]) c.close()
  })
  await until(async () => tm.s.app.services.hub.size === 3, 'three streams')
  const before = await eventRows(tm)

  const res = await post(tm, tm.ana.token, conv, { state: 'viewing' })
  t.equal(res.status, 204)
  t.equal(res.body, null, 'no body')
  await admin.waitFor(() => presenceOf(admin).length === 1)
  await ana.waitFor(() => presenceOf(ana).length === 1)
  const frame = presenceOf(admin)[0]!
  t.equal(frame.id, undefined, 'the frame has no id: line')
  const data = JSON.parse(frame.data) as PresenceFrame
  t.same(data.user, { id: tm.ana.id, name: 'Ana' })
  t.equal(data.conversationId, conv)
  t.equal(data.state, 'viewing')
  t.ok(data.expiresAt > Date.now() && data.expiresAt <= Date.now() + 10_000, 'expires within 10 s')

  // Typing a note: the mode travels.
  t.equal((await post(tm, tm.admin, conv, { state: 'typing', mode: 'note' })).status, 204)
  await ana.waitFor(() => frames(ana).some((f) => f.state === 'typing'))
  t.match(
    frames(ana).find((f) => f.state === 'typing'),
    { user: { name: 'Admin' }, mode: 'note' },
    'typing a note',
  )

  // Ben (the other channel) is told nothing: a later event of his own channel arrives
  // after where the frames would have been, and none came before it.
  await customerWrites(tm, 'second', '15550009002', 'for ben')
  await ben.waitFor((evs) => evs.some((e) => e.event === 'message.created'))
  t.same(presenceOf(ben), [], 'no presence frame for a person without access to the channel')
  // Ben cannot post presence on it either: 404, as if it did not exist.
  const refused = await post(tm, tm.ben.token, conv, { state: 'typing' })
  t.equal(refused.status, 404)
  t.equal(refused.body.error.code, 'NOT_FOUND')

  t.equal(await eventRows(tm), before + 1, 'the events table grew by the customer message only (nothing for presence)')
  t.equal((await tm.s.sql.get<{ n: number }>("SELECT count(*) AS n FROM events WHERE type = 'presence'"))!.n, 0, 'no presence row ever')
})

t.test('a reconnect with Last-Event-ID replays no presence; a new stream hears the current state once', async (t) => {
  const tm = await team(t)
  const { epoch } = tm.s.app.services.events
  const conv = await customerWrites(tm, 'first', '15550009011', 'one')
  const admin = await open(tm, tm.admin)
  t.teardown(() => admin.close())
  await until(async () => tm.s.app.services.hub.size === 1, 'stream')
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing' })).status, 204)
  t.equal((await post(tm, tm.ana.token, conv, { state: 'idle' })).status, 204)
  await customerWrites(tm, 'first', '15550009011', 'two')
  await admin.waitFor(() => frames(admin).some((f) => f.state === 'idle') && admin.data('message.created').length === 1)
  const last = admin.lastId()!
  t.same(
    frames(admin).map((f) => f.state),
    ['typing', 'idle'],
  )

  // Replay from the start: every event, not one presence frame (Ana is idle now).
  const replay = await open(tm, tm.admin, `${epoch}:0`)
  t.teardown(() => replay.close())
  await replay.waitFor((evs) => evs.some((e) => e.id === last))
  await customerWrites(tm, 'first', '15550009011', 'three')
  await replay.waitFor(() => replay.data('message.created').length >= 2)
  t.same(presenceOf(replay), [], 'presence is never replayed')
  t.ok(
    replay.events.filter((e) => e.event !== 'ping').every((e) => e.id !== undefined),
    'every replayed frame is an event with an id',
  )

  // While Ana views it, a stream that opens is told so once, after its replay, without an id.
  t.equal((await post(tm, tm.ana.token, conv, { state: 'viewing' })).status, 204)
  const fresh = await open(tm, tm.admin, last)
  t.teardown(() => fresh.close())
  await fresh.waitFor(() => presenceOf(fresh).length === 1)
  const shot = presenceOf(fresh)[0]!
  t.equal(shot.id, undefined)
  t.match(JSON.parse(shot.data), { conversationId: conv, state: 'viewing', user: { id: tm.ana.id } })
  const idxShot = fresh.events.indexOf(shot)
  t.ok(
    fresh.events.slice(idxShot).every((e) => e.id === undefined || e.event === 'ping'),
    'the snapshot comes after the replayed events',
  )
  // Ben's new stream is not told about the other channel's conversation.
  const ben = await open(tm, tm.ben.token)
  t.teardown(() => ben.close())
  await customerWrites(tm, 'second', '15550009012', 'for ben')
  await ben.waitFor((evs) => evs.some((e) => e.event === 'message.created'))
  t.same(presenceOf(ben), [], 'no snapshot of a channel Ben cannot see')
})

t.test('throttle: two typing signals within 3 s make one frame', async (t) => {
  const tm = await team(t)
  const conv = await customerWrites(tm, 'first', '15550009021', 'hi')
  const admin = await open(tm, tm.admin)
  t.teardown(() => admin.close())
  await until(async () => tm.s.app.services.hub.size === 1, 'stream')
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing' })).status, 204)
  tm.clock.offset += 1000
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing' })).status, 204, 'the second is accepted')
  tm.clock.offset += 1000
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing', mode: 'note' })).status, 204, 'a third too')
  // A marker: idle always goes out, after anything the typing posts sent.
  await post(tm, tm.ana.token, conv, { state: 'idle' })
  await admin.waitFor(() => frames(admin).some((f) => f.state === 'idle'))
  t.same(
    frames(admin).map((f) => f.state),
    ['typing', 'idle'],
    'one typing frame for three signals within 3 s',
  )
  // Past 3 s, the next one goes out again.
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing' })).status, 204)
  await admin.waitFor(() => frames(admin).filter((f) => f.state === 'typing').length === 2)
  tm.clock.offset += 3000
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing', mode: 'note' })).status, 204)
  await admin.waitFor(() => frames(admin).filter((f) => f.state === 'typing').length === 3)
  t.equal(frames(admin).at(-1)!.mode, 'note')
})

t.test('expiry on the app clock: typing falls back to viewing, viewing to idle; a closed stream goes idle', async (t) => {
  const tm = await team(t)
  const conv = await customerWrites(tm, 'first', '15550009031', 'hi')
  const admin = await open(tm, tm.admin)
  const ana = await open(tm, tm.ana.token)
  t.teardown(() => {
    admin.close()
    ana.close()
  })
  await until(async () => tm.s.app.services.hub.size === 2, 'streams')
  await post(tm, tm.ana.token, conv, { state: 'typing' })
  await admin.waitFor(() => frames(admin).length === 1)
  const typing = frames(admin)[0]!
  t.equal(typing.state, 'typing')
  // Time moves past typing's deadline: the wheel's next turn says "viewing".
  tm.clock.offset += 6500
  await admin.waitFor(() => frames(admin).length === 2)
  t.match(frames(admin)[1], { state: 'viewing', user: { id: tm.ana.id } })
  t.ok(frames(admin)[1]!.expiresAt > typing.expiresAt)
  // And past viewing's: idle, without anyone saying so.
  tm.clock.offset += 10_000
  await admin.waitFor(() => frames(admin).length === 3)
  t.equal(frames(admin)[2]!.state, 'idle')
  t.equal(tm.s.app.services.conversationPresence.size, 0, 'nothing is held')

  // Ana views it again, then her only stream closes: idle for the others at once.
  await post(tm, tm.ana.token, conv, { state: 'viewing' })
  await admin.waitFor(() => frames(admin).length === 4)
  ana.close()
  await admin.waitFor(() => frames(admin).length === 5)
  t.match(frames(admin)[4], { state: 'idle', user: { id: tm.ana.id } })
})

t.test('the route refuses what it should, with codes', async (t) => {
  const tm = await team(t)
  const conv = await customerWrites(tm, 'first', '15550009041', 'hi')
  t.equal((await post(tm, tm.ana.token, conv, { state: 'dancing' })).status, 400)
  t.equal((await post(tm, tm.ana.token, conv, { state: 'typing', mode: 'shout' })).status, 400)
  t.equal((await post(tm, tm.ana.token, conv, {})).status, 400)
  t.equal((await post(tm, tm.ana.token, 999999, { state: 'viewing' })).status, 404)
  t.equal((await post(tm, tm.ana.token, conv, { state: 'viewing' })).status, 204)
  const anon = await apiCall(tm.s.url, tm.ana.token)('POST', `/api/conversations/${conv}/presence`, { state: 'viewing' }, null)
  t.equal(anon.status, 401)
})
