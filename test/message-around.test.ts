// Issue 15: GET /api/conversations/:id/messages?around=<messageId> — the history around
// one message (a search result opens there), with cursors to page older (`cursor`) and
// newer (`after`) from it until both ends, scoped like the rest of the history: another
// channel's conversation, or a message of another conversation, answers 404.
import t, { type Test } from 'tap'
import { apiCall, startServer, type ApiCall } from './helpers/server.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { setMembers } from './helpers/members.ts'

const SECOND = { phoneNumberId: '100000000000003', secret: 'second-app-secret' }
const PASSWORD = 'agent password 123'
const ALICE = '4915100000001'
const BOB = '4915100000002'

interface Page {
  messages: MessageDTO[]
  nextCursor: string | null
  newerCursor: string | null
  hasNewer: boolean
  eventId: string
}

async function world(t: Test) {
  const s = await startServer(t)
  const admin = apiCall(s.url, (await s.login()).token)
  const created = await admin('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: SECOND.phoneNumberId,
    name: 'Support line',
    displayPhoneNumber: '15550003000',
    accessToken: 'EAA-second',
    appSecret: SECOND.secret,
    verifyToken: 'second-verify',
  })
  t.equal(created.status, 201)
  const y = created.body.channel.id as number
  const x = ((await admin('GET', '/api/channels')).body.channels as { id: number }[]).find((c) => c.id !== y)!.id
  // Alice writes 25 messages on X in one delivery (ids ascending in that order); Bob 3 on Y.
  const many = Array.from({ length: 25 }, (_, i) => text(ALICE, `m${i + 1}`))
  t.equal((await s.webhook(envelope(value({ contacts: [contact(ALICE, 'Alice')], messages: many })))).status, 200)
  const onY = envelope(
    value({ phoneNumberId: SECOND.phoneNumberId, contacts: [contact(BOB, 'Bob')], messages: [1, 2, 3].map((i) => text(BOB, `b${i}`)) }),
  )
  t.equal((await s.webhook(onY, { secret: SECOND.secret })).status, 200)
  const convOf = async (from: string) =>
    (await s.sql.get<{ id: number }>('SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.external_id = ?', [
      from,
    ]))!.id
  const idsOf = async (conversationId: number) =>
    (await s.sql.all<{ id: number }>('SELECT id FROM messages WHERE conversation_id = ? ORDER BY id', [conversationId])).map((r) => r.id)
  const services = s.app.services
  const ws = await services.auth.defaultWorkspace()
  const agent = async (name: string, channelIds: number[]): Promise<ApiCall> => {
    const email = `${name.toLowerCase()}@example.com`
    const user = await services.auth.createUser({ workspaceId: ws, email, name, password: PASSWORD, role: 'agent' })
    await setMembers(services, user.id, channelIds)
    return apiCall(s.url, (await s.login({ email, password: PASSWORD })).token)
  }
  const alice = await convOf(ALICE)
  const bob = await convOf(BOB)
  return { s, admin, agent, x, y, alice, bob, aliceIds: await idsOf(alice), bobIds: await idsOf(bob) }
}

const texts = (p: Page) => p.messages.map((m) => m.text)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`)

t.test('around the first, a middle and the last message: about half before and half after, oldest to newest', async (t) => {
  const w = await world(t)
  const get = async (q: string) => {
    const r = await w.admin<Page>('GET', `/api/conversations/${w.alice}/messages?${q}`)
    t.equal(r.status, 200, q)
    return r.body
  }
  const id = (n: number) => w.aliceIds[n - 1]!

  const middle = await get(`around=${id(13)}&limit=10`)
  t.same(texts(middle), range(9, 18), 'four before, the message, five after')
  t.ok(middle.nextCursor, 'older messages exist')
  t.ok(middle.newerCursor, 'newer messages exist')
  t.equal(middle.hasNewer, true)
  t.match(middle.eventId, /\S/, 'the event id it is current to')

  const first = await get(`around=${id(1)}&limit=10`)
  t.same(texts(first), range(1, 10), 'nothing before the first: the page fills after it')
  t.equal(first.nextCursor, null, 'nothing older')
  t.equal(first.hasNewer, true)

  const last = await get(`around=${id(25)}&limit=10`)
  t.same(texts(last), range(16, 25), 'nothing after the last: the page fills before it')
  t.equal(last.newerCursor, null, 'the live end')
  t.equal(last.hasNewer, false)
  t.ok(last.nextCursor)

  const one = await get(`around=${id(5)}&limit=1`)
  t.same(texts(one), ['m5'], 'a page of one is the message itself')
  t.ok(one.nextCursor && one.newerCursor)

  const all = await get(`around=${id(13)}`)
  t.same(texts(all), range(1, 25), 'the default page holds the whole short history')
  t.equal(all.nextCursor, null)
  t.equal(all.hasNewer, false)

  // The newest page is the live end; an older page knows newer messages follow it.
  const newest = await get('limit=10')
  t.same(texts(newest), range(16, 25))
  t.equal(newest.hasNewer, false)
  t.equal(newest.newerCursor, null)
  const older = await get(`limit=10&cursor=${newest.nextCursor}`)
  t.same(texts(older), range(6, 15))
  t.equal(older.hasNewer, true, 'a page further back has newer messages after it')
  const back = await get(`limit=10&after=${older.newerCursor}`)
  t.same(texts(back), range(16, 25), 'paging newer from it reaches the live end')
  t.equal(back.hasNewer, false)
})

t.test('paging both ways from a message until both ends: every message once, in order', async (t) => {
  const w = await world(t)
  const get = async (q: string) => {
    const r = await w.admin<Page>('GET', `/api/conversations/${w.alice}/messages?${q}`)
    t.equal(r.status, 200, q)
    return r.body
  }
  const start = await get(`around=${w.aliceIds[11]}&limit=4`)
  t.same(texts(start), range(11, 14))
  let seen = start.messages.map((m) => m.id)
  // Older, 4 at a time, until the start of the conversation.
  let cursor = start.nextCursor
  let pages = 0
  while (cursor) {
    const p = await get(`cursor=${cursor}&limit=4`)
    t.ok(p.hasNewer, 'every older page has newer messages after it')
    seen = [...p.messages.map((m) => m.id), ...seen]
    cursor = p.nextCursor
    t.ok(++pages < 10, 'older pages end')
  }
  // Newer, 4 at a time, until the live end.
  let after = start.newerCursor
  let last: Page | null = null
  while (after) {
    last = await get(`after=${after}&limit=4`)
    t.ok(last.messages.length > 0 && last.messages.length <= 4)
    seen = [...seen, ...last.messages.map((m) => m.id)]
    after = last.newerCursor
    t.ok(++pages < 20, 'newer pages end')
  }
  t.equal(last?.hasNewer, false, 'the last newer page is the live end')
  t.same(seen, w.aliceIds, 'all 25, each once, oldest to newest')

  // After the newest message: an empty page, nothing either way beyond it.
  const { encodeCursor } = await import('../src/http/paging.ts')
  const end = await get(`after=${encodeCursor([w.aliceIds[24]!])}`)
  t.same(end.messages, [])
  t.equal(end.hasNewer, false)

  // A message arriving later is on the next newer page from the old end.
  t.equal((await w.s.webhook(envelope(value({ contacts: [contact(ALICE, 'Alice')], messages: [text(ALICE, 'm26')] })))).status, 200)
  const more = await get(`after=${encodeCursor([w.aliceIds[24]!])}`)
  t.same(texts(more), ['m26'])
})

t.test('around is scoped like the history: other channels, other conversations, bad requests', async (t) => {
  const w = await world(t)
  const onX = await w.agent('Ana', [w.x])
  const onY = await w.agent('Bruno', [w.y])
  const target = w.aliceIds[12]!

  const ok = await onX<Page>('GET', `/api/conversations/${w.alice}/messages?around=${target}&limit=5`)
  t.equal(ok.status, 200, 'an agent of the channel reads around the message')
  t.same(texts(ok.body), range(11, 15))

  const outside = await onY('GET', `/api/conversations/${w.alice}/messages?around=${target}`)
  t.equal(outside.status, 404, 'another channel: 404, as if it did not exist')
  t.equal(outside.body.error.code, 'NOT_FOUND')
  t.notMatch(JSON.stringify(outside.body), /m13/, 'and nothing of it')
  const outsideAfter = await onY('GET', `/api/conversations/${w.alice}/messages?after=${ok.body.newerCursor}`)
  t.equal(outsideAfter.status, 404, 'paging newer in another channel: 404')
  const outsideOlder = await onY('GET', `/api/conversations/${w.alice}/messages?cursor=${ok.body.nextCursor}`)
  t.equal(outsideOlder.status, 404, 'paging older in another channel: 404')

  // A message of Bob's conversation asked for around Alice's: 404, for anyone.
  for (const call of [w.admin, onX]) {
    const wrong = await call('GET', `/api/conversations/${w.alice}/messages?around=${w.bobIds[0]}`)
    t.equal(wrong.status, 404, "another conversation's message")
    t.equal(wrong.body.error.code, 'NOT_FOUND')
    t.notMatch(JSON.stringify(wrong.body), /b1/)
  }
  // Bob's conversation through Bob's channel only.
  t.equal((await onX('GET', `/api/conversations/${w.bob}/messages?around=${w.bobIds[0]}`)).status, 404)
  t.equal((await onY('GET', `/api/conversations/${w.bob}/messages?around=${w.bobIds[0]}`)).status, 200)
  const missing = await w.admin('GET', `/api/conversations/${w.alice}/messages?around=999999`)
  t.equal(missing.status, 404, 'no such message')
  t.equal((await w.admin('GET', `/api/conversations/999999/messages?around=${target}`)).status, 404, 'no such conversation')

  const both = await w.admin('GET', `/api/conversations/${w.alice}/messages?around=${target}&cursor=${ok.body.nextCursor}`)
  t.equal(both.status, 400, 'one direction at a time')
  t.equal(both.body.error.code, 'PAGING_CONFLICT')
  const badAfter = await w.admin('GET', `/api/conversations/${w.alice}/messages?after=not-a-cursor`)
  t.equal(badAfter.status, 400)
  t.equal(badAfter.body.error.code, 'BAD_CURSOR')
  const badAround = await w.admin('GET', `/api/conversations/${w.alice}/messages?around=abc`)
  t.equal(badAround.status, 400, 'around is a message id')
  t.notMatch(JSON.stringify(badAround.body), /stack|at /)
})
