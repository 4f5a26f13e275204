// Snooze and pending (issue 14) over real HTTP, real SSE and the real database, with the
// app's fake clock: a snoozed conversation leaves Open and comes back — status open, a
// line, `conversation.updated` — when its time comes or when the customer writes,
// whichever is first, exactly once; a snooze that came due while Parley was down wakes
// at start. `pending` is a status with its own filter and line; any status ends a snooze.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startServer, apiCall, type ApiCall, type TestLike, type TestServer } from './helpers/server.ts'
import { pluck } from './helpers/sql-reads-pga.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { otherWorkspaceAdmin } from './helpers/team-fixtures.ts'
import { textWebhook } from './helpers/wa.ts'
import { until as waitUntil } from './helpers/emulator.ts'
import type { ConversationDTO, MessageDTO, SystemLineData } from '../src/events/types.ts'
import { setMembers } from './helpers/members.ts'

const CUSTOMER = '15550002222'
const HOUR = 3600_000
const PASSWORD = 'a long enough password'

interface FakeClock {
  offset: number
  now(): number
}

async function setup(t: TestLike, opts: { dataDir?: string; clock?: FakeClock } = {}) {
  const clock: FakeClock = opts.clock ?? { offset: 0, now: () => Date.now() + clock.offset }
  // Sessions outlive the hours the clock moves.
  const s: TestServer = await startServer(t, { clock, dataDir: opts.dataDir, env: { SESSION_TTL_SECONDS: String(30 * 86400) } })
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  return { s, token, call, clock }
}

async function customerWrites(s: TestServer, text: string) {
  const res = await s.webhook(textWebhook(CUSTOMER, 'Maria', text).payload)
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
}

async function firstConversation(call: ApiCall) {
  const list = await call('GET', '/api/conversations?status=all')
  return { conv: list.body.conversations[0] as ConversationDTO, eventId: list.body.eventId as string }
}

const ids = async (call: ApiCall, query: string) =>
  ((await call('GET', `/api/conversations?${query}`)).body.conversations as ConversationDTO[]).map((c) => c.id)

const history = async (call: ApiCall, id: number) =>
  ((await call('GET', `/api/conversations/${id}/messages`)).body.messages as MessageDTO[]).map((m) => m.text)

const created = (sse: SseClient) => sse.data<{ message: MessageDTO; conversation: ConversationDTO }>('message.created')
const updated = (sse: SseClient) => sse.data<{ conversation: ConversationDTO }>('conversation.updated')

t.test('snooze: leaves Open with a line and an event, wakes when the time comes', async (t) => {
  const { s, token, call, clock } = await setup(t)
  await customerWrites(s, 'Where is my parcel?')
  const { conv, eventId } = await firstConversation(call)
  const live = await connectSse(`${s.url}/stream`, { token, lastEventId: eventId })
  t.teardown(() => live.close())

  const until = clock.now() + 2 * HOUR
  const res = await call('POST', `/api/conversations/${conv.id}/snooze`, { until })
  t.equal(res.status, 200)
  const snoozed = res.body.conversation as ConversationDTO
  t.equal(snoozed.status, 'snoozed')
  t.equal(snoozed.snoozedUntil, until)
  t.same({ ...snoozed, status: conv.status, snoozedUntil: null }, conv, 'nothing else changes: unread, the wait, the preview, the order')

  t.same(await ids(call, 'status=open'), [], 'gone from Open')
  t.same(await ids(call, 'status=snoozed'), [conv.id], 'in the Snoozed filter')
  t.same(await ids(call, 'status=all'), [conv.id])
  t.same((await call('GET', '/api/conversations/counts')).body, { mine: 0, unassigned: 0, all: 0 }, 'the views count open ones')

  await live.waitFor(() => updated(live).length === 1 && created(live).length === 1)
  t.equal(updated(live)[0]!.conversation.status, 'snoozed')
  const line = created(live)[0]!.message
  t.equal(line.direction, 'system')
  t.same(line.data as SystemLineData, { action: 'snoozed', actor: { userId: line.senderUserId, name: 'Admin' }, until })
  t.match(line.text, /^Admin snoozed this until \w{3} \d+ \w{3}, \d\d:\d\d$/, 'worded in the workspace’s timezone')

  // Looking early wakes nothing.
  s.app.services.snoozes.kick()
  t.equal((await call('GET', `/api/conversations/${conv.id}`)).body.conversation.status, 'snoozed')

  // The time comes.
  clock.offset += 2 * HOUR + 1000
  s.app.services.snoozes.kick()
  await live.waitFor(() => updated(live).length === 2)
  const woke = updated(live)[1]!.conversation
  t.equal(woke.status, 'open')
  t.equal(woke.snoozedUntil, null)
  t.equal(woke.unreadCount, conv.unreadCount, 'waking marks nothing unread')
  const ended = created(live)[1]!.message
  t.equal(ended.text, 'Snooze ended')
  t.same(ended.data, { action: 'unsnoozed', actor: null, reason: 'due' })
  t.equal(ended.senderUserId, null)
  t.same(await ids(call, 'status=open'), [conv.id], 'back in Open')
  t.same(await ids(call, 'status=snoozed'), [])
  t.same(await history(call, conv.id), ['Where is my parcel?', line.text, 'Snooze ended'])

  // Looking again wakes nothing twice.
  s.app.services.snoozes.kick()
  await call('GET', `/api/conversations/${conv.id}`)
  t.equal((await history(call, conv.id)).length, 3, 'one line, once')
  t.equal(await pluck(s.sql, 'SELECT count(*) FROM outbox'), 0, 'nothing was sent to the customer')
})

t.test('snooze: the customer writing first brings it back, with exactly one line below their message', async (t) => {
  const { s, token, call, clock } = await setup(t)
  await customerWrites(s, 'Hello')
  const { conv } = await firstConversation(call)
  await call('POST', `/api/conversations/${conv.id}/read`)
  const until = clock.now() + HOUR
  t.equal((await call('POST', `/api/conversations/${conv.id}/snooze`, { until })).status, 200)
  const cursor = (await call('GET', '/api/conversations?status=all')).body.eventId as string
  const live = await connectSse(`${s.url}/stream`, { token, lastEventId: cursor })
  t.teardown(() => live.close())

  await customerWrites(s, 'Any news?')
  await live.waitFor(() => created(live).length === 2)
  const [msg, line] = created(live)
  t.equal(msg!.message.direction, 'in', 'first their message')
  t.equal(msg!.conversation.status, 'open', 'open again, live')
  t.equal(msg!.conversation.snoozedUntil, null)
  t.equal(msg!.conversation.unreadCount, 1)
  t.equal(line!.message.text, 'Snooze ended: the customer wrote', 'then the line')
  t.same(line!.message.data, { action: 'unsnoozed', actor: null, reason: 'customer' })
  t.equal(line!.conversation.status, 'open')
  t.same(await ids(call, 'status=open'), [conv.id])
  const texts = await history(call, conv.id)
  t.equal(texts.length, 4)
  t.same(texts.slice(2), ['Any news?', 'Snooze ended: the customer wrote'])

  // The time it was snoozed until comes: nothing more happens.
  clock.offset += HOUR + 1000
  s.app.services.snoozes.kick()
  await customerWrites(s, 'Hello again')
  await live.waitFor(() => created(live).length === 3)
  t.same((await history(call, conv.id)).slice(2), ['Any news?', 'Snooze ended: the customer wrote', 'Hello again'], 'one line, once')
})

t.test('a snooze that came due while Parley was down wakes at start', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-snooze-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const clock: FakeClock = { offset: 0, now: () => Date.now() + clock.offset }
  const first = await setup(t, { dataDir, clock })
  await customerWrites(first.s, 'Call me tomorrow')
  const { conv } = await firstConversation(first.call)
  t.equal((await first.call('POST', `/api/conversations/${conv.id}/snooze`, { until: clock.now() + HOUR })).status, 200)
  const cursor = (await first.call('GET', '/api/conversations?status=all')).body.eventId as string
  await first.s.close()

  // Parley is down for the hour; it starts again after the snooze's time.
  clock.offset += HOUR + 60_000
  const second = await setup(t, { dataDir, clock })
  const live = await connectSse(`${second.s.url}/stream`, { token: second.token, lastEventId: cursor })
  t.teardown(() => live.close())
  await live.waitFor(() => updated(live).some((e) => e.conversation.id === conv.id && e.conversation.status === 'open'))
  t.same(
    created(live).map((e) => e.message.text),
    ['Snooze ended'],
  )
  t.same(await ids(second.call, 'status=open'), [conv.id])
})

t.test('a snooze set while Parley is up is kept across a restart and wakes later', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-snooze-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const clock: FakeClock = { offset: 0, now: () => Date.now() + clock.offset }
  const first = await setup(t, { dataDir, clock })
  await customerWrites(first.s, 'Next week please')
  const { conv } = await firstConversation(first.call)
  const until = clock.now() + 3 * HOUR
  t.equal((await first.call('POST', `/api/conversations/${conv.id}/snooze`, { until })).status, 200)
  await first.s.close()

  const second = await setup(t, { dataDir, clock })
  const after = (await second.call('GET', `/api/conversations/${conv.id}`)).body.conversation as ConversationDTO
  t.equal(after.status, 'snoozed', 'still snoozed after the restart')
  t.equal(after.snoozedUntil, until)
  clock.offset += 3 * HOUR
  second.s.app.services.snoozes.kick()
  await waitUntil(
    async () => ((await second.call('GET', `/api/conversations/${conv.id}`)).body.conversation as ConversationDTO).status === 'open',
    'woken',
  )
})

t.test('pending: its own status, line and filter; any status a person sets ends a snooze', async (t) => {
  const { s, call, clock } = await setup(t)
  await customerWrites(s, 'I will send the photo later')
  const { conv } = await firstConversation(call)

  const pending = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'pending' })
  t.equal(pending.status, 200)
  t.equal(pending.body.conversation.status, 'pending')
  t.same(await ids(call, 'status=pending'), [conv.id])
  t.same(await ids(call, 'status=open'), [])
  t.same(await ids(call, 'status=resolved'), [])
  t.same((await call('GET', '/api/conversations/counts')).body.all, 0)
  t.equal((await call('POST', `/api/conversations/${conv.id}/status`, { status: 'pending' })).status, 200, 'idempotent')

  // Snoozed, then opened by hand: "unsnoozed", and the time is gone.
  t.equal((await call('POST', `/api/conversations/${conv.id}/snooze`, { until: clock.now() + HOUR })).status, 200)
  const open = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'open' })
  t.equal(open.body.conversation.status, 'open')
  t.equal(open.body.conversation.snoozedUntil, null)
  // Snoozed, then resolved: the time is gone too.
  t.equal((await call('POST', `/api/conversations/${conv.id}/snooze`, { until: clock.now() + HOUR })).status, 200)
  const resolved = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'resolved' })
  t.equal(resolved.body.conversation.status, 'resolved')
  t.equal(resolved.body.conversation.snoozedUntil, null)
  t.equal(await pluck(s.sql, 'SELECT count(*) FROM conversations WHERE snoozed_until IS NOT NULL'), 0, 'nothing left for the wake-up')

  const texts = (await history(call, conv.id)).slice(1)
  t.equal(texts.length, 5)
  t.equal(texts[0], 'Admin marked this pending')
  t.match(texts[1], /^Admin snoozed this until /)
  t.equal(texts[2], 'Admin unsnoozed this')
  t.match(texts[3], /^Admin snoozed this until /)
  t.equal(texts[4], 'Admin resolved this')

  // A customer writing to a pending conversation brings it back to Open, without a line (like resolved).
  t.equal((await call('POST', `/api/conversations/${conv.id}/status`, { status: 'pending' })).status, 200)
  await customerWrites(s, 'Here it is')
  t.same(await ids(call, 'status=open'), [conv.id])
  t.same((await history(call, conv.id)).slice(-2), ['Admin marked this pending', 'Here it is'])
})

t.test('refusals: a time not in the future or past a year, a malformed body, a status that is not a person’s', async (t) => {
  const { s, call, clock } = await setup(t)
  await customerWrites(s, 'Hi')
  const { conv } = await firstConversation(call)
  const snooze = (body: unknown) => call('POST', `/api/conversations/${conv.id}/snooze`, body)

  for (const [until, what] of [
    [clock.now() - 60_000, 'a time in the past'],
    [clock.now() - 1, 'a moment ago'],
    [clock.now() + 400 * 24 * HOUR, 'more than a year away'],
  ] as const) {
    const r = await snooze({ until })
    t.equal(r.status, 422, what)
    t.equal(r.body.error.code, 'SNOOZE_TIME_INVALID', what)
    t.type(r.body.error.message, 'string')
  }
  for (const [body, what] of [
    [{}, 'no until'],
    [{ until: 'tomorrow' }, 'a string'],
    [{ until: clock.now() + 1.5 }, 'not whole ms'],
  ] as const) {
    const r = await snooze(body)
    t.equal(r.status, 400, what)
    t.ok(r.body.error.code, `${what}: a named code`)
  }
  const snoozedStatus = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'snoozed' })
  t.equal(snoozedStatus.status, 400, 'snoozed is set by POST /snooze, with a time')
  t.equal((await call('GET', '/api/conversations?status=later')).status, 400)
  const missing = await call('POST', '/api/conversations/999999/snooze', { until: clock.now() + HOUR })
  t.equal(missing.status, 404)
  t.equal(missing.body.error.code, 'NOT_FOUND')
  t.equal((await call('GET', `/api/conversations/${conv.id}`)).body.conversation.status, 'open', 'untouched')
  t.same(await history(call, conv.id), ['Hi'], 'no line written')
})

t.test('scope: another channel’s or workspace’s conversation answers 404 and stays as it was', async (t) => {
  const { s, call, clock } = await setup(t)
  await customerWrites(s, 'Hi')
  const { conv } = await firstConversation(call)
  const { services } = s.app
  const ws = await services.auth.defaultWorkspace()
  const user = await services.auth.createUser({ workspaceId: ws, email: 'cy@example.com', name: 'Cy', password: PASSWORD, role: 'agent' })
  await setMembers(services, user.id, [])
  const cy = apiCall(s.url, (await s.login({ email: 'cy@example.com', password: PASSWORD })).token)
  const until = clock.now() + HOUR
  t.equal((await cy('POST', `/api/conversations/${conv.id}/snooze`, { until })).status, 404, 'not his channel')
  t.equal((await cy('POST', `/api/conversations/${conv.id}/status`, { status: 'pending' })).status, 404)
  t.same(await ids(cy, 'status=snoozed'), [])

  const { call: other } = await otherWorkspaceAdmin(s)
  t.equal((await other('POST', `/api/conversations/${conv.id}/snooze`, { until })).status, 404, 'another workspace')
  t.equal((await call('GET', `/api/conversations/${conv.id}`)).body.conversation.status, 'open')
  t.same(await history(call, conv.id), ['Hi'])
})

t.test('the cap counts open conversations: snoozing or pending frees a place, the pool drains into it', async (t) => {
  const { s, call, clock } = await setup(t)
  const { services } = s.app
  const ws = await services.auth.defaultWorkspace()
  const channelId = ((await call('GET', '/api/channels')).body.channels[0] as { id: number }).id
  const user = await services.auth.createUser({ workspaceId: ws, email: 'ben@example.com', name: 'Ben', password: PASSWORD, role: 'agent' })
  await setMembers(services, user.id, [channelId])
  const benToken = (await s.login({ email: 'ben@example.com', password: PASSWORD })).token
  const ben = apiCall(s.url, benToken)
  const open = await connectSse(`${s.url}/stream`, { token: benToken })
  t.teardown(() => open.close())
  await waitUntil(async () => services.presence.isOnline(user.id), 'Ben online')
  await s.sql.run('UPDATE workspaces SET assignment_cap = 1 WHERE id = ?', [ws])
  t.equal((await call('PATCH', `/api/channels/${channelId}`, { autoAssign: true })).status, 200)
  const convOf = async (from: string) =>
    (await pluck<number>(s.sql, 'SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.external_id = ?', [from]))!
  const assigneeOf = (id: number) => pluck(s.sql, 'SELECT assignee_id FROM conversations WHERE id = ?', [id])
  const write = async (from: string) => {
    const res = await s.webhook(textWebhook(from, `Customer ${from}`, 'Hello?').payload)
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
    return convOf(from)
  }
  const c1 = await write('15550000001')
  const c2 = await write('15550000002')
  const c3 = await write('15550000003')
  t.same(await Promise.all([c1, c2, c3].map(assigneeOf)), [user.id, null, null], 'Ben holds 1 of 1')

  t.equal((await ben('POST', `/api/conversations/${c1}/snooze`, { until: clock.now() + HOUR })).status, 200)
  t.same(await Promise.all([c2, c3].map(assigneeOf)), [user.id, null], 'snoozing his one freed a place: the oldest waiting took it')
  t.equal((await ben('POST', `/api/conversations/${c2}/status`, { status: 'pending' })).status, 200)
  t.same(await assigneeOf(c3), user.id, 'so did marking one pending')
  t.equal(await assigneeOf(c1), user.id, 'the snoozed one stays his')

  // The customer of the snoozed one writes: it comes back to Ben (available), over his cap for a while.
  await write('15550000001')
  t.equal(await assigneeOf(c1), user.id)
  t.same((await history(call, c1)).slice(-2), ['Hello?', 'Snooze ended: the customer wrote'])

  // Deactivating Ben returns his pending conversation to the pool too.
  t.equal(await services.unitLog.transact((b) => services.assignment.unassignAllOfUnit(b, ws, user.id)), 3)
  t.same(await Promise.all([c1, c2, c3].map(assigneeOf)), [null, null, null])
})
