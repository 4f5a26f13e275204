// Resolve and reopen (issue 11 point 1) over real HTTP and real SSE: the status change
// is a `conversation.updated` event and a system line (`message.created`, direction
// `system`) that every stream and every replay sees, and that changes nothing else —
// not the preview, the unread count, the window or the last message's status.
import t from 'tap'
import { startServer, apiCall, type TestLike, type TestServer } from './helpers/server.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { otherWorkspaceAdmin } from './helpers/team-fixtures.ts'
import { textWebhook } from './helpers/wa.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'

const CUSTOMER = '15550001111'

async function setup(t: TestLike) {
  const s: TestServer = await startServer(t)
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const hook = await s.webhook(textWebhook(CUSTOMER, 'Maria', 'Where is my parcel?').payload)
  if (hook.status !== 200) throw new Error(`webhook answered ${hook.status}`)
  const list = await call('GET', '/api/conversations')
  const conv = list.body.conversations[0] as ConversationDTO
  return { s, token, call, conv, eventId: list.body.eventId as string }
}

const parse = <T>(sse: SseClient, type: string) => sse.events.filter((e) => e.event === type).map((e) => JSON.parse(e.data) as T)

t.test('resolve: a conversation.updated and a system line for every stream, nothing else changes', async (t) => {
  const { s, token, call, conv, eventId } = await setup(t)
  t.equal(conv.status, 'open')
  t.equal(conv.unreadCount, 1)
  const live = await connectSse(`${s.url}/stream`, { token, lastEventId: eventId })
  t.teardown(() => live.close())

  const res = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'resolved' })
  t.equal(res.status, 200)
  const after = res.body.conversation as ConversationDTO
  t.equal(after.status, 'resolved')
  // Everything but the status is as it was.
  t.same({ ...after, status: 'open' }, conv, 'preview, unread count, window, last message status and order unchanged')

  await live.waitFor((evs) => evs.some((e) => e.event === 'conversation.updated') && evs.some((e) => e.event === 'message.created'))
  const updated = parse<{ conversation: ConversationDTO }>(live, 'conversation.updated')
  t.equal(updated.length, 1)
  t.equal(updated[0]!.conversation.status, 'resolved')
  const created = parse<{ message: MessageDTO; conversation: ConversationDTO }>(live, 'message.created')
  t.equal(created.length, 1)
  const line = created[0]!.message
  t.equal(line.direction, 'system')
  t.equal(line.type, 'activity')
  t.same(line.data, { action: 'resolved', actor: { userId: line.senderUserId, name: 'Admin' } })
  t.equal(line.text, 'Admin resolved this')
  t.equal(created[0]!.conversation.lastMessagePreview, 'Where is my parcel?', 'the event’s conversation keeps the preview')
  t.equal(created[0]!.conversation.unreadCount, 1)

  // The history holds the line; the list moves it to Resolved.
  const history = (await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
  t.same(
    history.map((m) => m.direction),
    ['in', 'system'],
  )
  t.same((await call('GET', '/api/conversations?status=open')).body.conversations, [], 'gone from Open')
  t.same(
    (await call('GET', '/api/conversations?status=resolved')).body.conversations.map((c: ConversationDTO) => c.id),
    [conv.id],
  )

  // Idempotent: the same status again is 200, no second line, no event.
  const again = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'resolved' })
  t.equal(again.status, 200)
  t.equal(again.body.conversation.status, 'resolved')
  t.equal((await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages.length, 2, 'no second line')

  // Reopen: its own line; the customer still sees nothing of either.
  const reopen = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'open' })
  t.equal(reopen.status, 200)
  t.equal(reopen.body.conversation.status, 'open')
  await live.waitFor(() => parse(live, 'message.created').length === 2)
  const lines = parse<{ message: MessageDTO }>(live, 'message.created').map((e) => e.message.text)
  t.same(lines, ['Admin resolved this', 'Admin reopened this'], 'the idempotent call added nothing in between')
  const sends = (await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM outbox'))!
  t.equal(sends.n, 0, 'nothing queued for the customer')

  // A stream that connects later replays both changes from the page's cursor.
  const replay = await connectSse(`${s.url}/stream`, { token, lastEventId: eventId })
  t.teardown(() => replay.close())
  await replay.waitFor(() => parse(replay, 'message.created').length === 2 && parse(replay, 'conversation.updated').length === 2)
  t.same(
    replay.events.filter((e) => e.event !== 'ping').map((e) => e.event),
    ['message.created', 'conversation.updated', 'message.created', 'conversation.updated'],
    'replayed in order',
  )
  t.same(
    parse<{ message: MessageDTO }>(replay, 'message.created').map((e) => e.message.text),
    ['Admin resolved this', 'Admin reopened this'],
  )
})

t.test('bad status 400, unknown or another workspace’s conversation 404', async (t) => {
  const { s, call, conv } = await setup(t)
  const bad = await call('POST', `/api/conversations/${conv.id}/status`, { status: 'closed' })
  t.equal(bad.status, 400)
  t.ok(bad.body.error.code, 'a named code')
  t.equal((await call('POST', `/api/conversations/${conv.id}/status`, {})).status, 400)
  const missing = await call('POST', `/api/conversations/999999/status`, { status: 'resolved' })
  t.equal(missing.status, 404)
  t.equal(missing.body.error.code, 'NOT_FOUND')

  const { call: theirs } = await otherWorkspaceAdmin(s)
  const foreign = await theirs('POST', `/api/conversations/${conv.id}/status`, { status: 'resolved' })
  t.equal(foreign.status, 404)
  t.equal((await call('GET', `/api/conversations/${conv.id}`)).body.conversation.status, 'open', 'untouched')
  t.equal((await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages.length, 1, 'no line written')
})

t.test('a customer writing to a resolved conversation reopens it, without a line of its own', async (t) => {
  const { s, token, call, conv } = await setup(t)
  await call('POST', `/api/conversations/${conv.id}/read`)
  t.equal((await call('POST', `/api/conversations/${conv.id}/status`, { status: 'resolved' })).status, 200)
  const cursor = (await call('GET', '/api/conversations?status=all')).body.eventId as string
  const live = await connectSse(`${s.url}/stream`, { token, lastEventId: cursor })
  t.teardown(() => live.close())

  t.equal((await s.webhook(textWebhook(CUSTOMER, 'Maria', 'Sorry, one more question').payload)).status, 200)
  await live.waitFor(() => parse(live, 'message.created').length === 1)
  const ev = parse<{ message: MessageDTO; conversation: ConversationDTO }>(live, 'message.created')[0]!
  t.equal(ev.message.direction, 'in')
  t.equal(ev.conversation.status, 'open', 'reopened by the customer’s message, live')
  t.equal(ev.conversation.unreadCount, 1)
  t.equal(ev.conversation.lastMessagePreview, 'Sorry, one more question')
  const history = (await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
  t.same(
    history.map((m) => m.text),
    ['Where is my parcel?', 'Admin resolved this', 'Sorry, one more question'],
  )
  t.same(
    (await call('GET', '/api/conversations?status=open')).body.conversations.map((c: ConversationDTO) => c.id),
    [conv.id],
  )
})
