// Internal notes and mentions (issue 14) over real HTTP and real SSE: a note is a
// timeline entry of type `note` that changes nothing about its conversation; `@Name`
// mentions a teammate who can see the channel (anyone else refuses the note, by name);
// the mention reaches that person alone; only the author deletes a note; the Mentions
// list pages, counts unread, marks read and follows the person's channels.
import t, { type Test } from 'tap'
import type { TestServer } from './helpers/server.ts'
import { type Person, SECOND_CHANNEL, twoChannelServer } from './helpers/team-fixtures.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'
import { mentionedNames } from '../src/domain/notes/mention-parse.ts'
import type { MentionDTO, MessageDTO } from '../src/events/types.ts'
import { setMembers } from './helpers/members.ts'

const SECOND_NUMBER = SECOND_CHANNEL.phoneNumberId
const SECOND_SECRET = SECOND_CHANNEL.secret

interface Team {
  s: TestServer
  first: number
  second: number
  admin: Person
  /** First channel only. */
  ana: Person
  /** Second channel only. */
  ben: Person
  /** First channel too. */
  cleo: Person
  /** A conversation on the first channel. */
  conv: number
}

async function team(t: Test): Promise<Team> {
  const ts = await twoChannelServer(t)
  t.equal(ts.secondStatus, 201)
  const { s, first, second, agent } = ts
  const adminId = (await s.sql.get<{ id: number }>("SELECT id FROM users WHERE role = 'admin'"))!.id
  const res = await s.webhook(
    envelope(value({ contacts: [contact('15550007001', 'Maria')], messages: [text('15550007001', 'where is my order?')] })),
  )
  t.equal(res.status, 200)
  const conv = (await ts.api<{ conversations: Array<{ id: number }> }>('GET', '/api/conversations')).body.conversations[0]!.id
  return {
    s,
    first,
    second,
    admin: { id: adminId, token: ts.adminToken, call: ts.api },
    ana: await agent('Ana Lima', [first]),
    ben: await agent('Ben', [second]),
    cleo: await agent('Cleo', [first]),
    conv,
  }
}

const stream = (tm: Team, p: Person) => connectSse(`${tm.s.url}/stream`, { token: p.token })
const types = (c: SseClient) => c.events.map((e) => e.event).filter((e) => e !== 'ping')

t.test('the @ parser: whole names after a non-word character, longest first, any case', async (t) => {
  const names = ['Ana', 'Ana Lima', 'Ben']
  t.same([...mentionedNames('@ana lima can you check?', names)], ['ana lima'])
  t.same([...mentionedNames('@Ana, and @BEN.', names)].sort(), ['ana', 'ben'])
  t.same([...mentionedNames('mail ana@example.com or @Anabel', names)], [], 'an address or a longer word is nobody')
  t.same([...mentionedNames('(@Ben)', names)], ['ben'])
})

t.test('a note: a timeline entry of type note that leaves the conversation as it was', async (t) => {
  const tm = await team(t)
  const before = (await tm.ana.call('GET', `/api/conversations/${tm.conv}`)).body.conversation
  const adminSse = await stream(tm, tm.admin)
  t.teardown(() => adminSse.close())
  await until(async () => tm.s.app.services.hub.size === 1, 'the stream')

  const res = await tm.ana.call<{ note: MessageDTO }>('POST', `/api/conversations/${tm.conv}/notes`, {
    text: '  Customer called: <b>refund</b> approved  ',
  })
  t.equal(res.status, 201)
  const note = res.body.note
  t.match(note, {
    conversationId: tm.conv,
    direction: 'system',
    type: 'note',
    text: 'Customer called: <b>refund</b> approved',
    senderUserId: tm.ana.id,
  })

  const timeline = (await tm.cleo.call<{ messages: MessageDTO[] }>('GET', `/api/conversations/${tm.conv}/messages`)).body.messages
  t.same(
    timeline.map((m) => [m.type, m.text]),
    [
      ['text', 'where is my order?'],
      ['note', 'Customer called: <b>refund</b> approved'],
    ],
    'a teammate on the channel sees it in the timeline, as type note',
  )
  const after = (await tm.ana.call('GET', `/api/conversations/${tm.conv}`)).body.conversation
  for (const k of [
    'lastMessageId',
    'lastMessagePreview',
    'lastMessageDirection',
    'lastActivityAt',
    'unreadCount',
    'windowExpiresAt',
    'waitingSince',
    'status',
  ])
    t.same(after[k], before[k], `${k} unchanged`)

  await adminSse.waitFor(() => types(adminSse).includes('message.created'))
  const ev = adminSse.data<{ message: MessageDTO; conversation: { id: number } }>('message.created')[0]!
  t.equal(ev.message.id, note.id, 'message.created carries the note to the channel')
  t.equal(ev.conversation.id, tm.conv)
  t.notOk(types(adminSse).includes('conversation.updated'), 'the conversation did not change')
  t.equal((await tm.s.sql.get<{ n: number }>('SELECT count(*) AS n FROM outbox'))!.n, 0, 'nothing queued to send')

  // Someone outside the channel: 404, as if it did not exist.
  const outside = await tm.ben.call('POST', `/api/conversations/${tm.conv}/notes`, { text: 'hello' })
  t.equal(outside.status, 404)
  t.equal(outside.body.error.code, 'NOT_FOUND')
  t.equal((await tm.ana.call('POST', `/api/conversations/${tm.conv}/notes`, { text: '   ' })).status, 400, 'blank text')
  t.equal((await tm.ana.call('POST', `/api/conversations/999999/notes`, { text: 'x' })).status, 404)
})

t.test('mentions: to the person named alone; nobody outside the channel; the whole note refused by name', async (t) => {
  const tm = await team(t)
  const [adminSse, anaSse, benSse, cleoSse] = (await Promise.all([tm.admin, tm.ana, tm.ben, tm.cleo].map((p) => stream(tm, p)))) as [
    SseClient,
    SseClient,
    SseClient,
    SseClient,
  ]
  t.teardown(() => {
    for (const c of [adminSse, anaSse, benSse, cleoSse]) c.close()
  })
  await until(async () => tm.s.app.services.hub.size === 4, 'four streams')

  // Ben works the other channel: naming him refuses the note, typed or picked.
  for (const body of [{ text: '@Ben can you look?' }, { text: '@Ben can you look?', mentions: [tm.ben.id] }]) {
    const refused = await tm.ana.call('POST', `/api/conversations/${tm.conv}/notes`, body)
    t.equal(refused.status, 422)
    t.equal(refused.body.error.code, 'MENTION_NO_ACCESS')
    t.match(refused.body.error.message, /^Ben cannot be mentioned here: they do not work the channel/)
  }
  const unknown = await tm.ana.call('POST', `/api/conversations/${tm.conv}/notes`, { text: '@Zed hi', mentions: [987654] })
  t.equal(unknown.status, 422)
  t.equal(unknown.body.error.code, 'MENTION_UNKNOWN')
  const timeline = async () =>
    (await tm.admin.call<{ messages: MessageDTO[] }>('GET', `/api/conversations/${tm.conv}/messages`)).body.messages
  t.equal((await timeline()).length, 1, 'a refused note is not stored')

  // Cleo (picked) and the admin (typed by hand: admins see every channel); Ana naming herself tells nobody.
  const res = await tm.ana.call<{ note: MessageDTO }>('POST', `/api/conversations/${tm.conv}/notes`, {
    text: '@Cleo and @admin: the refund. @Ana Lima will call back',
    mentions: [tm.cleo.id],
  })
  t.equal(res.status, 201)
  const noteId = res.body.note.id
  await cleoSse.waitFor(() => types(cleoSse).includes('mention.created'))
  await adminSse.waitFor(() => types(adminSse).includes('mention.created'))
  const cleoMention = cleoSse.data<{ mention: MentionDTO }>('mention.created')[0]!.mention
  t.match(cleoMention, {
    conversationId: tm.conv,
    messageId: noteId,
    author: { id: tm.ana.id, name: 'Ana Lima' },
    text: '@Cleo and @admin: the refund. @Ana Lima will call back',
    readAt: null,
    contact: { name: 'Maria', phone: '15550007001' },
  })
  t.equal(adminSse.data<{ mention: MentionDTO }>('mention.created').length, 1)
  // Ana's own stream got the note (message.created) and after it no mention; Ben got nothing of the channel.
  await anaSse.waitFor(() => anaSse.data<{ message: MessageDTO }>('message.created').some((e) => e.message.id === noteId))
  t.notOk(types(anaSse).includes('mention.created'), 'the author is not mentioned by naming herself')
  t.notOk(types(cleoSse).filter((x) => x === 'mention.created').length > 1)
  // A later event on Ben's channel arrives after; had anything of this reached him, it would be first.
  await tm.s.webhook(
    envelope(
      value({ phoneNumberId: SECOND_NUMBER, contacts: [contact('15550007002', 'Otto')], messages: [text('15550007002', 'hi support')] }),
    ),
    { secret: SECOND_SECRET },
  )
  await benSse.waitFor(() => types(benSse).includes('message.created'))
  t.same(
    benSse.data<{ message: MessageDTO }>('message.created').map((e) => e.message.text),
    ['hi support'],
    'Ben (another channel) received neither the note nor a mention',
  )
  t.notOk(types(benSse).includes('mention.created'))

  const cleoList = await tm.cleo.call<{ mentions: MentionDTO[]; unread: number; nextCursor: string | null }>('GET', '/api/mentions')
  t.equal(cleoList.status, 200)
  t.same(
    cleoList.body.mentions.map((m) => m.id),
    [cleoMention.id],
  )
  t.equal(cleoList.body.unread, 1)
  t.equal(cleoList.body.nextCursor, null)
  t.same((await tm.ben.call('GET', '/api/mentions')).body, { mentions: [], nextCursor: null, unread: 0 })
  t.same((await tm.ana.call('GET', '/api/mentions')).body.mentions, [], 'no mention of oneself')

  // On replay from the start, the same audience: Cleo's mention is hers alone. A note
  // written after the streams opened comes after everything replayed: once it is in,
  // the replay is complete.
  const { epoch } = tm.s.app.services.events
  const [cleoReplay, anaReplay] = await Promise.all(
    [tm.cleo, tm.ana].map((p) => connectSse(`${tm.s.url}/stream`, { token: p.token, lastEventId: `${epoch}:0` })),
  )
  t.teardown(() => {
    cleoReplay!.close()
    anaReplay!.close()
  })
  const marker = (await tm.cleo.call<{ note: MessageDTO }>('POST', `/api/conversations/${tm.conv}/notes`, { text: 'marker' })).body.note.id
  for (const c of [cleoReplay!, anaReplay!])
    await c.waitFor(() => c.data<{ message: MessageDTO }>('message.created').some((e) => e.message.id === marker))
  t.same(
    cleoReplay!.data<{ mention: MentionDTO }>('mention.created').map((e) => e.mention.id),
    [cleoMention.id],
    'replayed to Cleo',
  )
  t.notOk(types(anaReplay!).includes('mention.created'), 'never replayed to anyone else')

  // Stored: one row per person named, in the same transaction as the note.
  const rows = await tm.s.sql.all<{ u: number }>('SELECT user_id AS u FROM mentions WHERE message_id = ? ORDER BY user_id', [noteId])
  t.same(
    rows.map((r) => r.u),
    [tm.admin.id, tm.cleo.id].sort((a, b) => a - b),
  )
})

t.test('only the author deletes a note: its mentions go with it, and the channel hears message.deleted', async (t) => {
  const tm = await team(t)
  const created = await tm.ana.call<{ note: MessageDTO }>('POST', `/api/conversations/${tm.conv}/notes`, { text: 'ping @Cleo' })
  const noteId = created.body.note.id
  t.equal((await tm.cleo.call('GET', '/api/mentions')).body.unread, 1)
  const cleoSse = await stream(tm, tm.cleo)
  t.teardown(() => cleoSse.close())
  await until(async () => tm.s.app.services.hub.size === 1, 'the stream')

  const path = `/api/conversations/${tm.conv}/notes/${noteId}`
  const byAdmin = await tm.admin.call('DELETE', path)
  t.equal(byAdmin.status, 403, 'not even an admin deletes someone else’s note')
  t.equal(byAdmin.body.error.code, 'NOTE_NOT_YOURS')
  const byCleo = await tm.cleo.call('DELETE', path)
  t.equal(byCleo.status, 403)
  const byBen = await tm.ben.call('DELETE', path)
  t.equal(byBen.status, 404, 'another channel’s note does not exist for Ben')
  // The customer's message is not a note.
  const customerMsg = (await tm.ana.call<{ messages: MessageDTO[] }>('GET', `/api/conversations/${tm.conv}/messages`)).body.messages[0]!
  t.equal((await tm.ana.call('DELETE', `/api/conversations/${tm.conv}/notes/${customerMsg.id}`)).status, 404)
  // The right note under another conversation's id: 404.
  await tm.s.webhook(envelope(value({ contacts: [contact('15550007003', 'Nora')], messages: [text('15550007003', 'hello')] })))
  const other = (await tm.admin.call<{ conversations: Array<{ id: number }> }>('GET', '/api/conversations')).body.conversations.find(
    (c) => c.id !== tm.conv,
  )!.id
  t.equal((await tm.ana.call('DELETE', `/api/conversations/${other}/notes/${noteId}`)).status, 404)

  const mine = await tm.ana.call('DELETE', path)
  t.equal(mine.status, 204)
  await cleoSse.waitFor(() => types(cleoSse).includes('message.deleted'))
  t.same(cleoSse.data('message.deleted'), [{ messageId: noteId, conversationId: tm.conv }])
  const timeline = (await tm.ana.call<{ messages: MessageDTO[] }>('GET', `/api/conversations/${tm.conv}/messages`)).body.messages
  t.notOk(
    timeline.some((m) => m.id === noteId),
    'gone from the timeline',
  )
  t.same((await tm.cleo.call('GET', '/api/mentions')).body, { mentions: [], nextCursor: null, unread: 0 }, 'and from Cleo’s mentions')
  t.equal((await tm.ana.call('DELETE', path)).status, 404, 'deleting twice: 404')
})

t.test('the Mentions list: newest first in keyset pages, read by id or all, other tabs told; only channels one still sees', async (t) => {
  const tm = await team(t)
  const ids: number[] = []
  for (let i = 1; i <= 5; i++) {
    const r = await tm.ana.call<{ note: MessageDTO }>('POST', `/api/conversations/${tm.conv}/notes`, { text: `note ${i} for @Cleo` })
    t.equal(r.status, 201)
    ids.push(r.body.note.id)
  }
  const seen: MentionDTO[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const q: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
    const page: { status: number; body: { mentions: MentionDTO[]; nextCursor: string | null; unread: number } } = await tm.cleo.call(
      'GET',
      `/api/mentions${q}`,
    )
    t.equal(page.status, 200)
    t.equal(page.body.unread, 5)
    seen.push(...page.body.mentions)
    cursor = page.body.nextCursor
    pages++
  } while (cursor)
  t.equal(pages, 3)
  t.same(
    seen.map((m) => m.text),
    ['note 5 for @Cleo', 'note 4 for @Cleo', 'note 3 for @Cleo', 'note 2 for @Cleo', 'note 1 for @Cleo'],
    'newest first, each once',
  )
  t.same(
    seen.map((m) => m.messageId),
    [...ids].reverse(),
  )
  t.equal((await tm.cleo.call('GET', '/api/mentions?cursor=not-a-cursor')).status, 400)

  const sse = await stream(tm, tm.cleo)
  const other = await stream(tm, tm.ana)
  t.teardown(() => {
    sse.close()
    other.close()
  })
  await until(async () => tm.s.app.services.hub.size === 2, 'two streams')
  // Someone else's ids change nothing of theirs.
  const foreign = await tm.ana.call('POST', '/api/mentions/read', { ids: [seen[0]!.id] })
  t.same(foreign.body, { mentionIds: [], unread: 0 })
  const one = await tm.cleo.call('POST', '/api/mentions/read', { ids: [seen[0]!.id, seen[1]!.id] })
  t.equal(one.status, 200)
  t.same(one.body, { mentionIds: [seen[1]!.id, seen[0]!.id], unread: 3 })
  await sse.waitFor(() => types(sse).includes('mentions.read'))
  t.match(sse.data('mentions.read')[0], { mentionIds: [seen[1]!.id, seen[0]!.id], unread: 3 })
  const list = (await tm.cleo.call<{ mentions: MentionDTO[] }>('GET', '/api/mentions')).body.mentions
  t.same(
    list.map((m) => m.readAt !== null),
    [true, true, false, false, false],
  )
  const all = await tm.cleo.call('POST', '/api/mentions/read')
  t.same(all.body.unread, 0)
  t.equal(all.body.mentionIds.length, 3)
  await sse.waitFor(() => sse.data('mentions.read').length === 2)
  t.same((await tm.cleo.call('POST', '/api/mentions/read', {})).body, { mentionIds: [], unread: 0 }, 'nothing left: no event')
  t.notOk(types(other).includes('mentions.read'), 'only Cleo’s own streams hear her reads')

  // A new unread one, then Cleo leaves the channel: her list and count no longer show its mentions.
  await tm.ana.call('POST', `/api/conversations/${tm.conv}/notes`, { text: 'one more @Cleo' })
  t.equal((await tm.cleo.call('GET', '/api/mentions')).body.unread, 1)
  await setMembers(tm.s.app.services, tm.cleo.id, [tm.second])
  t.same((await tm.cleo.call('GET', '/api/mentions')).body, { mentions: [], nextCursor: null, unread: 0 })
  await setMembers(tm.s.app.services, tm.cleo.id, [tm.first])
  t.equal((await tm.cleo.call('GET', '/api/mentions')).body.mentions.length, 6, 'back on the channel: back in the list')
})

t.test('a deactivated teammate: typed, their name is just text; picked, the note is refused by name', async (t) => {
  const tm = await team(t)
  t.equal((await tm.admin.call('PATCH', `/api/users/${tm.cleo.id}`, { disabled: true })).status, 200)
  const picked = await tm.ana.call('POST', `/api/conversations/${tm.conv}/notes`, { text: '@Cleo see this', mentions: [tm.cleo.id] })
  t.equal(picked.status, 422)
  t.equal(picked.body.error.code, 'MENTION_NO_ACCESS')
  t.match(picked.body.error.message, /^Cleo cannot be mentioned here: their account is deactivated/)
  const typed = await tm.ana.call('POST', `/api/conversations/${tm.conv}/notes`, { text: '@Cleo said so last week' })
  t.equal(typed.status, 201)
  t.equal((await tm.s.sql.get<{ n: number }>('SELECT count(*) AS n FROM mentions'))!.n, 0, 'nobody mentioned')
})
