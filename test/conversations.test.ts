// Conversation list and history: ordering, keyset pagination, read marking, cursors.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { contact, envelope, text, textWebhook, value } from './helpers/wa.ts'

interface ConvPage {
  conversations: Array<{ id: number; unreadCount: number; contact: { phone: string }; lastMessagePreview: string }>
  nextCursor: string | null
  eventId: string
}
interface MsgPage {
  messages: Array<{ id: number; text: string }>
  nextCursor: string | null
  eventId: string
}

t.test('list: most recent activity first, keyset pages, no overlap', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  for (let i = 0; i < 25; i++) {
    await s.webhook(textWebhook(`1555000${1000 + i}`, `Customer ${i}`, `hello ${i}`).payload)
  }
  // Customer 3 writes again: back to the top.
  await s.webhook(textWebhook('15550001003', 'Customer 3', 'me again').payload)
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await s.get(`/api/conversations?limit=10${cursor ? `&cursor=${cursor}` : ''}`, token)
    t.equal(res.status, 200)
    const page = (await res.json()) as ConvPage
    t.match(page.eventId, /^[A-Za-z0-9_-]+:\d+$/)
    seen.push(...page.conversations.map((c) => c.contact.phone))
    cursor = page.nextCursor
    pages++
  } while (cursor)
  t.equal(pages, 3)
  t.equal(seen.length, 25)
  t.equal(new Set(seen).size, 25, 'no conversation twice')
  t.equal(seen[0], '15550001003', 'latest activity first')
  t.equal(seen[1], '15550001024')
  t.equal(seen[24], '15550001000')

  const bad = await s.get('/api/conversations?cursor=!!!', token)
  t.equal(bad.status, 400)
  t.match(await bad.json(), { error: { code: 'BAD_CURSOR' } })
})

t.test('messages: newest page first, chronological within a page', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const msgs = Array.from({ length: 45 }, (_, i) => text('15550001111', `m${i}`))
  await s.webhook(envelope(value({ contacts: [contact('15550001111', 'Alice')], messages: msgs })))
  const all: string[] = []
  let cursor: string | null = null
  const firstPages: string[][] = []
  do {
    const page: MsgPage = (await (
      await s.get(`/api/conversations/1/messages?limit=20${cursor ? `&cursor=${cursor}` : ''}`, token)
    ).json()) as MsgPage
    firstPages.push(page.messages.map((m) => m.text))
    all.unshift(...page.messages.map((m) => m.text))
    cursor = page.nextCursor
  } while (cursor)
  t.same(firstPages[0]!.slice(-2), ['m43', 'm44'], 'first page ends with the newest')
  t.same(
    all,
    Array.from({ length: 45 }, (_, i) => `m${i}`),
  )
  t.equal((await s.get('/api/conversations/999/messages', token)).status, 404)
  t.equal((await s.get('/api/conversations/abc/messages', token)).status, 400)
})

t.test('read clears the unread count and tells every stream', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  await s.webhook(
    envelope(value({ contacts: [contact('15550001111', 'Alice')], messages: [text('15550001111', 'a'), text('15550001111', 'b')] })),
  )
  const list = (await (await s.get('/api/conversations', token)).json()) as ConvPage
  t.equal(list.conversations[0]!.unreadCount, 2)
  // The stream opened from the list's eventId misses nothing and repeats nothing.
  const sse = await connectSse(`${s.url}/stream?lastEventId=${encodeURIComponent(list.eventId)}`, { token })
  t.teardown(() => sse.close())
  const read = await fetch(`${s.url}/api/conversations/1/read`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  t.equal(read.status, 200)
  t.match(await read.json(), { conversation: { id: 1, unreadCount: 0 } })
  await sse.waitFor((ev) => ev.length === 1)
  t.equal(sse.events[0]!.event, 'conversation.updated')
  t.match(JSON.parse(sse.events[0]!.data), { conversation: { id: 1, unreadCount: 0 } })
  // Marking read again changes nothing and emits nothing.
  await fetch(`${s.url}/api/conversations/1/read`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  await s.webhook(textWebhook('15550002222', 'Bob', 'marker').payload)
  await sse.waitFor((ev) => ev.length === 2)
  t.equal(sse.events[1]!.event, 'message.created')
})
