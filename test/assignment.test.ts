// Assignment (issue 13) over real HTTP, real SSE and the real database: assign, hand
// over, take and unassign, each a system line and events (never unread); 404 for what
// the caller cannot see, 422 for someone who cannot be given it; automatic assignment
// round robin on a new webhook conversation, skipping the unavailable and the full; a
// reopened conversation leaving an assignee who went away; the pool drained oldest first
// when someone becomes available; unassignAllOf for deactivation.
//
// People are created and given channels with the app's own services (the invitation
// and availability routes belong to the team feature); each agent has a stream open (presence), availability is set in the
// users table as PUT /api/me/availability will.
import t from 'tap'
import { startServer, apiCall, type ApiCall, type TestLike, type TestServer } from './helpers/server.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'
import { until } from './helpers/emulator.ts'
import type { ConversationDTO, MessageDTO, SystemLineData } from '../src/events/types.ts'
import { setMembers } from './helpers/members.ts'

const PASSWORD = 'a long enough password'

interface Person {
  id: number
  token: string
  call: ApiCall
}

async function setup(t: TestLike) {
  const s: TestServer = await startServer(t)
  const { token } = await s.login()
  const admin = apiCall(s.url, token)
  const { services } = s.app
  const ws = await services.auth.defaultWorkspace()
  const channelId = ((await admin('GET', '/api/channels')).body.channels[0] as { id: number }).id
  const adminId = (await s.sql.get<{ id: number }>("SELECT id FROM users WHERE role = 'admin'"))!.id
  const person = async (name: string, channels: number[]): Promise<Person> => {
    const email = `${name.toLowerCase()}@example.com`
    const user = await services.auth.createUser({ workspaceId: ws, email, name, password: PASSWORD, role: 'agent' })
    await setMembers(services, user.id, channels)
    const session = await s.login({ email, password: PASSWORD })
    // Their inbox is open: an open stream is what makes a person online (presence.ts).
    const open = await connectSse(`${s.url}/stream`, { token: session.token })
    t.teardown(() => open.close())
    await until(async () => services.presence.isOnline(user.id), `${name} online`)
    return { id: user.id, token: session.token, call: apiCall(s.url, session.token) }
  }
  let n = 0
  const customerWrites = async (from?: string, text = 'Hello?') => {
    const who = from ?? `1555000${String(++n).padStart(4, '0')}`
    const res = await s.webhook(textWebhook(who, `Customer ${who}`, text).payload)
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
    const row = (await s.sql.get<{ id: number }>(
      'SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.external_id = ?',
      [who],
    ))!
    return { id: row.id, from: who }
  }
  const assigneeOf = async (id: number) =>
    (await s.sql.get<{ assignee_id: number | null }>('SELECT assignee_id FROM conversations WHERE id = ?', [id]))!.assignee_id
  const setAvailability = (userId: number, status: 'online' | 'busy' | 'away') =>
    s.sql.run('UPDATE users SET availability = ? WHERE id = ?', [status, userId])
  const lines = async (id: number) =>
    ((await admin('GET', `/api/conversations/${id}/messages`)).body.messages as MessageDTO[])
      .filter((m) => m.direction === 'system')
      .map((m) => m.text)
  return { s, ws, token, admin, adminId, channelId, person, customerWrites, assigneeOf, setAvailability, lines }
}

const parse = <T>(sse: SseClient, type: string) => sse.data<T>(type)

t.test('assign, hand over, take, unassign: a line and events each, never unread, idempotent', async (t) => {
  const { s, token, admin, adminId, channelId, person, customerWrites, assigneeOf, lines } = await setup(t)
  const ben = await person('Ben', [channelId])
  const conv = await customerWrites()
  t.equal(await assigneeOf(conv.id), null, 'a new conversation starts in the pool (automatic assignment is off by default)')
  const before = (await admin('GET', `/api/conversations/${conv.id}`)).body as { conversation: ConversationDTO; eventId: string }
  const adminLive = await connectSse(`${s.url}/stream`, { token, lastEventId: before.eventId })
  const benLive = await connectSse(`${s.url}/stream`, { token: ben.token, lastEventId: before.eventId })
  t.teardown(() => {
    adminLive.close()
    benLive.close()
  })

  const res = await admin('POST', `/api/conversations/${conv.id}/assign`, { userId: ben.id })
  t.equal(res.status, 200)
  t.equal(res.body.conversation.id, conv.id)
  t.equal(res.body.conversation.unreadCount, before.conversation.unreadCount, 'assigning marks nothing unread')
  t.equal(res.body.conversation.lastMessagePreview, 'Hello?', 'nor moves the preview')
  t.equal(await assigneeOf(conv.id), ben.id)

  await benLive.waitFor(() => parse(benLive, 'conversation.assigned').length === 1)
  const assigned = parse<{ conversation: ConversationDTO; by: unknown }>(benLive, 'conversation.assigned')[0]!
  t.equal(assigned.conversation.id, conv.id)
  t.same(assigned.by, { userId: adminId, name: 'Admin' }, 'the new assignee hears who gave it to them')
  await adminLive.waitFor(() => parse(adminLive, 'conversation.updated').length === 1)
  const created = parse<{ message: MessageDTO }>(adminLive, 'message.created')
  t.equal(created.length, 1)
  const line = created[0]!.message
  t.equal(line.direction, 'system')
  t.equal(line.text, 'Admin assigned this to Ben')
  t.same(line.data as SystemLineData, {
    action: 'assigned',
    actor: { userId: adminId, name: 'Admin' },
    target: { userId: ben.id, name: 'Ben' },
  })
  const audience = await s.sql.all("SELECT user_id, channel_id FROM events WHERE type = 'conversation.assigned'")
  t.same(audience, [{ user_id: ben.id, channel_id: channelId }], 'conversation.assigned is for the assignee alone')

  // The same assignee again: 200, nothing changes, nothing is emitted.
  const again = await admin('POST', `/api/conversations/${conv.id}/assign`, { userId: ben.id })
  t.equal(again.status, 200)
  t.same(await lines(conv.id), ['Admin assigned this to Ben'], 'no second line')

  // An agent hands it over to an admin, takes it back, unassigns it.
  t.equal((await ben.call('POST', `/api/conversations/${conv.id}/assign`, { userId: adminId })).status, 200)
  t.equal(await assigneeOf(conv.id), adminId)
  t.equal((await ben.call('POST', `/api/conversations/${conv.id}/assign`, { userId: ben.id })).status, 200)
  t.equal((await ben.call('POST', `/api/conversations/${conv.id}/assign`, { userId: null })).status, 200)
  t.equal(await assigneeOf(conv.id), null)
  t.same(await lines(conv.id), ['Admin assigned this to Ben', 'Ben assigned this to Admin', 'Ben took this', 'Ben unassigned this'])
  await adminLive.waitFor(() => parse(adminLive, 'conversation.updated').length === 4)
  const after = (await admin('GET', `/api/conversations/${conv.id}`)).body.conversation as ConversationDTO
  t.equal(after.unreadCount, before.conversation.unreadCount, 'still nothing unread after four changes')
  const sends = (await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM outbox'))!
  t.equal(sends.n, 0, 'nothing is sent to the customer')
})

t.test('negatives: 404 for what the caller cannot see, 422 for whom it cannot be given to, 400 for a bad body', async (t) => {
  const { s, admin, channelId, person, customerWrites, assigneeOf } = await setup(t)
  const ben = await person('Ben', [channelId])
  const cleo = await person('Cleo', []) // works no channel
  const dan = await person('Dan', [channelId])
  await s.sql.run('UPDATE users SET disabled_at = 1 WHERE id = ?', [dan.id])
  const conv = await customerWrites()

  const outsider = await cleo.call('POST', `/api/conversations/${conv.id}/assign`, { userId: cleo.id })
  t.equal(outsider.status, 404, 'another channel’s conversation does not exist for Cleo')
  t.equal(outsider.body.error.code, 'NOT_FOUND')
  t.equal((await admin('POST', '/api/conversations/999999/assign', { userId: ben.id })).status, 404)

  for (const [who, id] of [
    ['a person who is not a member of the channel', cleo.id],
    ['a deactivated member', dan.id],
    ['nobody', 999999],
  ] as const) {
    const res = await admin('POST', `/api/conversations/${conv.id}/assign`, { userId: id })
    t.equal(res.status, 422, who)
    t.equal(res.body.error.code, 'ASSIGNEE_NOT_ELIGIBLE', who)
    t.match(res.body.error.message, /member of its channel/)
  }
  t.equal((await admin('POST', `/api/conversations/${conv.id}/assign`, { userId: 'ben' })).status, 400)
  t.equal((await admin('POST', `/api/conversations/${conv.id}/assign`, {})).status, 400)
  t.equal((await admin('POST', `/api/conversations/${conv.id}/assign`, { userId: null }, null)).status, 401)
  t.equal(await assigneeOf(conv.id), null, 'none of them changed anything')
  const events = (await s.sql.get<{ n: number }>("SELECT count(*) AS n FROM events WHERE type = 'conversation.assigned'"))!
  t.equal(events.n, 0)
})

t.test(
  'automatic assignment: round robin among available members under the cap, the pool drained when someone becomes available',
  async (t) => {
    const { s, ws, token, admin, channelId, person, customerWrites, assigneeOf, setAvailability, lines } = await setup(t)
    const ben = await person('Ben', [channelId])
    const dan = await person('Dan', [channelId])
    await person('Cleo', []) // not a member: never chosen

    const patched = await admin('PATCH', `/api/channels/${channelId}`, { autoAssign: true })
    t.equal(patched.status, 200)
    t.equal(patched.body.channel.autoAssign, true)
    t.same(patched.body.channel.members, [ben.id, dan.id])
    const listed = (await admin('GET', '/api/channels')).body.channels[0]
    t.equal(listed.autoAssign, true)
    t.same(listed.members, [ben.id, dan.id])
    t.equal((await ben.call('PATCH', `/api/channels/${channelId}`, { autoAssign: false })).status, 403, 'admins turn it on and off')

    const head = (await admin('GET', '/api/conversations')).body.eventId as string
    const benLive = await connectSse(`${s.url}/stream`, { token: ben.token, lastEventId: head })
    t.teardown(() => benLive.close())

    // Round robin in id order.
    const c1 = await customerWrites()
    const c2 = await customerWrites()
    const c3 = await customerWrites()
    t.same(await Promise.all([c1, c2, c3].map((c) => assigneeOf(c.id))), [ben.id, dan.id, ben.id])
    t.same(await lines(c1.id), ['Assigned to Ben automatically'])
    // Each assignment's notification is addressed to its assignee (the log's audience; the
    // per-user streams deliver by it), and carries no person: Parley chose.
    const audience = (
      await s.sql.all<{ user_id: number }>("SELECT user_id FROM events WHERE type = 'conversation.assigned' ORDER BY id")
    ).map((r) => r.user_id)
    t.same(audience, [ben.id, dan.id, ben.id])
    await benLive.waitFor((evs) =>
      [c1.id, c3.id].every((id) => evs.some((e) => e.event === 'conversation.assigned' && JSON.parse(e.data).conversation.id === id)),
    )
    const told = parse<{ conversation: ConversationDTO; by: unknown }>(benLive, 'conversation.assigned').filter((e) =>
      [c1.id, c3.id].includes(e.conversation.id),
    )
    t.same(
      told.map((e) => [e.conversation.id, e.by]),
      [
        [c1.id, null],
        [c3.id, null],
      ],
      'Ben is told of his two, by nobody (automatic)',
    )
    const again = await customerWrites(c1.from, 'Still there?')
    t.equal(again.id, c1.id)
    t.equal(await assigneeOf(c1.id), ben.id, 'a customer writing again to an assigned conversation changes nothing')

    // Someone away (or busy) is skipped.
    await setAvailability(dan.id, 'away')
    const c4 = await customerWrites()
    t.equal(await assigneeOf(c4.id), ben.id, 'Dan is away: Ben again')

    // At the cap: nobody takes it; it waits in the pool.
    await s.sql.run('UPDATE workspaces SET assignment_cap = 3 WHERE id = ?', [ws])
    const c5 = await customerWrites()
    const c6 = await customerWrites()
    t.equal(await assigneeOf(c5.id), null, 'Ben holds 3 of 3, Dan is away: c5 waits')
    t.equal(await assigneeOf(c6.id), null)

    // Dan becomes available: the pool's oldest first, up to his cap (he holds 1 of 3).
    await setAvailability(dan.id, 'online')
    t.equal(await s.app.services.unitLog.transact((b) => s.app.services.assignment.drainForUnit(b, ws, dan.id)), 2)
    t.same(await Promise.all([c5, c6].map((c) => assigneeOf(c.id))), [dan.id, dan.id])
    t.equal(await s.app.services.unitLog.transact((b) => s.app.services.assignment.drainForUnit(b, ws, dan.id)), 0, 'nothing left to drain')

    // A reopened conversation whose assignee went away goes to someone available with room.
    await s.sql.run('UPDATE workspaces SET assignment_cap = 10 WHERE id = ?', [ws])
    t.equal((await admin('POST', `/api/conversations/${c1.id}/status`, { status: 'resolved' })).status, 200)
    await setAvailability(ben.id, 'away')
    await customerWrites(c1.from, 'It broke again')
    t.equal(await assigneeOf(c1.id), dan.id, 'Ben went away: Dan gets the reopened conversation (he had room)')
    t.same(await lines(c1.id), ['Assigned to Ben automatically', 'Admin resolved this', 'Assigned to Dan automatically'])

    // And when nobody has room, back to the pool rather than to someone who went home.
    t.equal((await admin('POST', `/api/conversations/${c2.id}/status`, { status: 'resolved' })).status, 200)
    await setAvailability(dan.id, 'busy')
    await customerWrites(c2.from, 'Hello again')
    t.equal(await assigneeOf(c2.id), null, 'nobody available: the pool')
    t.same((await lines(c2.id)).slice(-1), ['Unassigned automatically'])

    // Deactivation returns everything open of theirs to the pool, each with a line.
    const held = (await s.sql.get<{ n: number }>("SELECT count(*) AS n FROM conversations WHERE assignee_id = ? AND status = 'open'", [
      ben.id,
    ]))!.n
    t.ok(held > 0)
    t.equal(await s.app.services.unitLog.transact((b) => s.app.services.assignment.unassignAllOfUnit(b, ws, ben.id)), held)
    t.equal((await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM conversations WHERE assignee_id = ?', [ben.id]))!.n, 0)
    void token
  },
)

t.test('turning automatic assignment on hands out the waiting pool, oldest first, round robin', async (t) => {
  const { admin, channelId, person, customerWrites, assigneeOf, lines } = await setup(t)
  const ben = await person('Ben', [channelId])
  const dan = await person('Dan', [channelId])
  const waiting = [await customerWrites(), await customerWrites(), await customerWrites()]
  t.same(await Promise.all(waiting.map((c) => assigneeOf(c.id))), [null, null, null])
  t.equal((await admin('PATCH', `/api/channels/${channelId}`, { name: 'Sales' })).status, 200)
  t.same(await Promise.all(waiting.map((c) => assigneeOf(c.id))), [null, null, null], 'another change leaves the pool alone')
  t.equal((await admin('PATCH', `/api/channels/${channelId}`, { autoAssign: true })).status, 200)
  t.same(await Promise.all(waiting.map((c) => assigneeOf(c.id))), [ben.id, dan.id, ben.id])
  t.same(await lines(waiting[1]!.id), ['Assigned to Dan automatically'])
  // The channel's setting is cached for the webhooks: the very next customer message sees the change.
  const next = await customerWrites()
  t.equal(await assigneeOf(next.id), dan.id, 'on: the very next new conversation goes round robin')
  t.equal((await admin('PATCH', `/api/channels/${channelId}`, { autoAssign: false })).status, 200)
  const later = await customerWrites()
  t.equal(await assigneeOf(later.id), null, 'off again: new conversations wait in the pool')
})

t.test('resolving frees a place under the cap: the oldest waiting conversation takes it', async (t) => {
  const { s, ws, admin, channelId, person, customerWrites, assigneeOf } = await setup(t)
  const ben = await person('Ben', [channelId])
  await s.sql.run('UPDATE workspaces SET assignment_cap = 1 WHERE id = ?', [ws])
  t.equal((await admin('PATCH', `/api/channels/${channelId}`, { autoAssign: true })).status, 200)
  const c1 = await customerWrites()
  const c2 = await customerWrites()
  const c3 = await customerWrites()
  t.same(await Promise.all([c1, c2, c3].map((c) => assigneeOf(c.id))), [ben.id, null, null], 'Ben holds 1 of 1: the others wait')
  t.equal((await ben.call('POST', `/api/conversations/${c1.id}/status`, { status: 'resolved' })).status, 200)
  t.same(
    await Promise.all([c2, c3].map((c) => assigneeOf(c.id))),
    [ben.id, null],
    'the oldest waiting one is his now, and only one (his cap)',
  )
  t.equal((await ben.call('POST', `/api/conversations/${c3.id}/status`, { status: 'resolved' })).status, 200)
  t.equal(await assigneeOf(c3.id), null, 'resolving one that was not his frees nothing of his')
})
