// Issue 13 over real HTTP: every REST read and write of a conversation, a message, a
// media file or a contact's thread is scoped by the caller's channels (outside them:
// 404, and lists leave it out), unread is per person (and assigning never changes it),
// the customer's waiting time starts with their message and ends with a person's reply,
// and the Mine / Unassigned / All views and their counts.
import t from 'tap'
import { ADMIN, type TestLike } from './helpers/server.ts'
import { type Person, twoChannelServer } from './helpers/team-fixtures.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'
import { echo } from './helpers/coexistence.ts'
import { uploadMedia } from './helpers/media-files.ts'
import { connectSse } from './helpers/sse.ts'
import { replayAudienceOf } from '../src/domain/accounts/access.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'
import { setMembers } from './helpers/members.ts'

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

/** A workspace with two WhatsApp numbers: X (the configured one) and Y. */
async function team(t: TestLike) {
  const ts = await twoChannelServer(t)
  const { s, api: call, first: x, second: y, agent, customerWrites, workspaceId: ws } = ts
  const services = s.app.services
  const adminId = (await s.sql.get<{ id: number }>('SELECT id FROM users WHERE email = ?', [ADMIN.email]))!.id

  /** The customer writes on X, or on Y. */
  const write = (from: string, body: string, on: 'x' | 'y' = 'x') =>
    customerWrites(from, `Customer ${from.slice(-4)}`, body, on === 'x' ? 'first' : 'second')
  const convOf = async (from: string, channelId: number) =>
    (await s.sql.get<{ id: number }>(
      'SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.external_id = ? AND v.channel_id = ?',
      [from, channelId],
    ))!.id
  const assign = (conversationId: number, userId: number | null) =>
    services.units.transact(() => services.store.conversations.updateConversation(conversationId, { assigneeId: userId }))
  return { s, ws, call, adminId, x, y, agent, write, convOf, assign, admin: { id: adminId, token: ts.adminToken, call } as Person }
}

const ids = (list: ConversationDTO[]) => list.map((c) => c.id)

t.test('isolation matrix: every route with a conversation, message, media or contact id answers 404 outside my channels', async (t) => {
  const { s, x, y, agent, write, convOf, admin } = await team(t)
  const ana = await agent('Ana', [x])
  const ben = await agent('Ben', [y])
  const cy = await agent('Cy', [])
  await write('15550001111', 'Hello on X')
  await write('15550002222', 'Hello on Y', 'y')
  const cx = await convOf('15550001111', x)
  const cyConv = await convOf('15550002222', y)

  // Ana sends a picture on X: her upload becomes the message's file.
  const up = await uploadMedia(s.url, ana.token, PNG, 'image/png', 'receipt.png')
  t.equal(up.status, 201)
  const sent = await ana.call('POST', `/api/conversations/${cx}/messages`, {
    clientMessageId: 'a-1',
    type: 'image',
    mediaId: up.body.media.id,
  })
  t.equal(sent.status, 202, 'a member sends on her channel')
  const msg = sent.body.message as MessageDTO
  // An upload of Ana's not sent yet is hers alone.
  const draft = (await uploadMedia(s.url, ana.token, PNG, 'image/png', 'draft.png')).body.media.id as number
  const inbound = ((await ana.call('GET', `/api/conversations/${cx}/messages`)).body.messages as MessageDTO[]).find(
    (m) => m.direction === 'in',
  )!
  const contactX = (await ana.call('GET', `/api/conversations/${cx}`)).body.conversation.contact.id as number

  const messageCount = async () => (await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM messages'))!.n
  const before = await messageCount()
  const routes: [string, string, unknown?][] = [
    ['GET', `/api/conversations/${cx}`],
    ['GET', `/api/conversations/${cx}/messages`],
    ['POST', `/api/conversations/${cx}/messages`, { clientMessageId: 'b-1', text: 'not mine' }],
    [
      'POST',
      `/api/conversations/${cx}/messages`,
      { clientMessageId: 'b-2', type: 'reaction', reaction: { messageId: inbound.id, emoji: '👍' } },
    ],
    ['POST', `/api/conversations/${cx}/messages`, { clientMessageId: 'b-3', text: 'quoting', replyToMessageId: inbound.id }],
    ['POST', `/api/conversations/${cx}/messages/${msg.id}/retry`],
    ['POST', `/api/conversations/${cx}/read`, {}],
    ['POST', `/api/conversations/${cx}/status`, { status: 'resolved' }],
    ['GET', `/api/media/${msg.media!.localId as number}`],
    ['GET', `/api/media/${draft}`],
    ['GET', `/api/templates?conversationId=${cx}`],
    // Referencing someone else's upload from a conversation of one's own.
    ['POST', `/api/conversations/${cyConv}/messages`, { clientMessageId: 'b-4', type: 'image', mediaId: draft }],
  ]
  for (const [method, path, body] of routes) {
    for (const who of [ben, cy]) {
      const res = await who.call(method, path, body)
      t.equal(res.status, 404, `${who === ben ? 'Ben' : 'Cy'}: ${method} ${path}`)
      t.notOk(JSON.stringify(res.body).includes('Hello on X'), 'nothing of it in the answer')
    }
  }
  t.equal(await messageCount(), before, 'the refused writes stored nothing')
  t.equal(
    (await s.sql.get<{ status: string }>('SELECT status FROM conversations WHERE id = ?', [cx]))!.status,
    'open',
    'nor changed the status',
  )

  // With access: 200 (the media bytes, the thread, every read).
  for (const path of [`/api/conversations/${cx}`, `/api/conversations/${cx}/messages`, `/api/media/${msg.media!.localId as number}`]) {
    t.equal((await s.get(path, ana.token)).status, 200, `Ana: GET ${path}`)
    t.equal((await s.get(path, admin.token)).status, 200, `admin: GET ${path}`)
  }
  t.equal((await ana.call('POST', `/api/conversations/${cx}/read`, {})).status, 200)
  t.equal((await s.get(`/api/media/${draft}`, ana.token)).status, 200, 'her own draft')

  // Lists leave out what is not mine, whatever the filter.
  for (const q of ['', '?status=all', `?channel=${x}`, '?kind=whatsapp', '?q=1111', '?view=all', '?view=unassigned', '?view=mine']) {
    t.notOk(ids((await ben.call('GET', `/api/conversations${q}`)).body.conversations).includes(cx), `Ben's list${q} leaves X out`)
    t.same(ids((await cy.call('GET', `/api/conversations${q}`)).body.conversations), [], `Cy's list${q} is empty`)
  }
  t.same(ids((await ben.call('GET', '/api/conversations')).body.conversations), [cyConv])
  t.same(ids((await ana.call('GET', '/api/conversations')).body.conversations), [cx])
  t.same((await cy.call('GET', '/api/conversations/counts')).body, { mine: 0, unassigned: 0, all: 0 })

  // A contact is the workspace's; its thread shows only my channels' conversations.
  t.equal((await ben.call('GET', `/api/contacts/${contactX}`)).status, 200, 'contacts are shared')
  t.same((await ben.call('GET', `/api/contacts/${contactX}/conversations`)).body.conversations, [], 'but not its thread on X')
  t.same(ids((await ana.call('GET', `/api/contacts/${contactX}/conversations`)).body.conversations), [cx])
  t.equal((await ana.call('GET', '/api/contacts/999999/conversations')).status, 404)

  // A change of channels applies to the next request.
  await setMembers(s.app.services, ben.id, [x, y])
  t.equal((await ben.call('GET', `/api/conversations/${cx}`)).status, 200, 'added to X: 200 at once')
  await setMembers(s.app.services, ben.id, [y])
  t.equal((await ben.call('GET', `/api/conversations/${cx}`)).status, 404, 'removed: 404 at once')
})

t.test('unread is per person: A reads, B still has it; assigning changes nobody’s count', async (t) => {
  const { s, ws, x, agent, write, convOf, assign, admin } = await team(t)
  const ana = await agent('Ana', [x])
  const ben = await agent('Ben', [x])
  await write('15550001111', 'one')
  await write('15550001111', 'two')
  const c = await convOf('15550001111', x)
  const unreadOf = async (p: Person) => ((await p.call('GET', `/api/conversations/${c}`)).body.conversation as ConversationDTO).unreadCount
  const listUnreadOf = async (p: Person) =>
    ((await p.call('GET', '/api/conversations')).body.conversations as ConversationDTO[]).find((v) => v.id === c)!.unreadCount
  t.equal(await unreadOf(ana), 2, 'before reading: all of the customer’s messages')
  t.equal(await unreadOf(ben), 2)

  const list = await ana.call('GET', '/api/conversations')
  const sse = await connectSse(`${s.url}/stream`, { token: ana.token, lastEventId: list.body.eventId })
  t.teardown(() => sse.close())
  const read = await ana.call('POST', `/api/conversations/${c}/read`, {})
  t.equal(read.status, 200)
  t.equal(read.body.conversation.unreadCount, 0, 'the reader’s own count')
  await sse.waitFor((evs) => evs.some((e) => e.event === 'conversation.updated'))
  const ev = JSON.parse(sse.events.find((e) => e.event === 'conversation.updated')!.data) as {
    conversation: ConversationDTO
    readBy?: number
  }
  t.equal(ev.conversation.unreadCount, 0, 'the reader’s stream hears her count')
  t.equal(ev.readBy, ana.id, 'marked as her own read')
  const logged = await s.sql.get(
    `SELECT user_id AS "userId", channel_id AS "channelId" FROM events WHERE type = 'conversation.updated' ORDER BY id DESC LIMIT 1`,
  )
  t.same(logged, { userId: ana.id, channelId: x }, 'addressed to the reader alone')
  const benAccess = await s.app.services.units.read(() => s.app.services.access.ofUnit({ workspaceId: ws, userId: ben.id, role: 'agent' }))
  const benReplay = await s.app.services.events.read(ws, 0, Number.MAX_SAFE_INTEGER, 1000, replayAudienceOf(benAccess))
  t.notOk(
    benReplay.some((e) => e.type === 'conversation.updated'),
    'another person’s replay has no read of Ana’s',
  )
  t.equal(await unreadOf(ana), 0)
  t.equal(await unreadOf(ben), 2, 'B still unread')
  t.equal(await listUnreadOf(ben), 2, 'in the list too')
  t.equal(await listUnreadOf(admin), 2, 'and the admin, who never read it')

  // Reading again with nothing new: no event.
  const events = async () => (await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM events'))!.n
  const n = await events()
  await ana.call('POST', `/api/conversations/${c}/read`, {})
  t.equal(await events(), n, 'nothing to announce')

  // Assigning (the assign route is another part's; the column is what it sets) marks nothing unread.
  await assign(c, ben.id)
  t.equal(await unreadOf(ana), 0, 'assigning changes nobody’s count')
  t.equal(await unreadOf(ben), 2)
  const got = (await ben.call('GET', `/api/conversations/${c}`)).body.conversation as ConversationDTO
  t.same(got.assignee, { id: ben.id, name: 'Ben' })
  await assign(c, null)
  t.equal(await unreadOf(ana), 0)

  // The customer again: one more for each; a reaction counts for nobody.
  await write('15550001111', 'three')
  t.equal(await unreadOf(ana), 1)
  t.equal(await listUnreadOf(ana), 1)
  t.equal(await unreadOf(ben), 3)
  const lastIn = ((await ana.call('GET', `/api/conversations/${c}/messages`)).body.messages as MessageDTO[]).at(-1)!
  const reaction = envelope(
    value({
      contacts: [contact('15550001111', 'Customer 1111')],
      messages: [{ ...text('15550001111', ''), type: 'reaction', reaction: { message_id: lastIn.providerMessageId, emoji: '❤️' } }],
    }),
  )
  t.equal((await s.webhook(reaction)).status, 200)
  t.equal(await unreadOf(ana), 1, 'a reaction is not unread')
  // A new member starts with the channel read (for the code that adds members).
  const cy = await agent('Cy', [x])
  await s.app.services.units.transact(() => s.app.services.store.conversations.startReadsAt(cy.id, [x], Date.now()))
  t.equal(await unreadOf(cy), 0)
})

t.test('waiting: the customer’s message starts it, a person’s reply ends it, a campaign does not', async (t) => {
  const { s, ws, x, agent, write, convOf } = await team(t)
  const ana = await agent('Ana', [x])
  const waiting = async (c: number) =>
    ((await ana.call('GET', `/api/conversations/${c}`)).body.conversation as ConversationDTO).waitingSince
  await write('15550001111', 'anyone there?')
  const c = await convOf('15550001111', x)
  const first = await waiting(c)
  t.type(first, 'number', 'set by the customer’s message')
  const firstTs = ((await ana.call('GET', `/api/conversations/${c}/messages`)).body.messages as MessageDTO[])[0]!.timestamp
  t.equal(first, firstTs, 'since their message')
  await write('15550001111', 'hello?')
  t.equal(await waiting(c), first, 'a second message keeps the first’s time')

  t.equal((await ana.call('POST', `/api/conversations/${c}/messages`, { clientMessageId: 'r-1', text: 'Hi!' })).status, 202)
  t.equal(await waiting(c), null, 'an agent’s reply ends it')

  await write('15550001111', 'thanks, one more thing')
  t.type(await waiting(c), 'number')
  t.equal((await s.webhook(echo('15550001111', 'answered from my phone'))).status, 200)
  t.equal(await waiting(c), null, 'a reply from the phone app ends it')

  // A campaign's message (the writer's `broadcast`) is not a reply.
  await write('15550001111', 'and now?')
  const w = await waiting(c)
  t.type(w, 'number')
  const { store, writer, unitLog } = s.app.services
  const contactId = (await s.app.services.units.read(() => store.conversations.conversationDTO(ws, c)))!.contact.id
  await unitLog.transact(function* (batch) {
    const row = (yield* store.conversations.conversationByChannelContact(x, contactId))!
    yield* writer.record(
      batch,
      row,
      {
        direction: 'out',
        type: 'template',
        text: 'Our sale',
        status: 'queued',
        timestamp: Date.now(),
        createdAt: Date.now(),
        updatedAt: Date.now(),
      },
      { by: 'broadcast', now: Date.now() },
    )
  })
  t.equal(await waiting(c), w, 'a broadcast leaves it waiting')
  // An automatic reply (away, greeting: sent by Parley for nobody) neither.
  await unitLog.transact(function* (batch) {
    const row = (yield* store.conversations.conversationByChannelContact(x, contactId))!
    const at = Date.now()
    yield* writer.record(
      batch,
      row,
      { direction: 'out', type: 'text', text: 'We are closed', status: 'queued', timestamp: at, createdAt: at, updatedAt: at },
      { by: 'agent', automatic: true, now: at },
    )
  })
  t.equal(await waiting(c), w, 'an automatic reply leaves it waiting')
  const ev = (await s.sql.get<{ payload: string }>(`SELECT payload FROM events WHERE type = 'message.created' ORDER BY id DESC LIMIT 1`))!
    .payload
  t.equal((JSON.parse(ev) as { conversation: ConversationDTO }).conversation.waitingSince, w, 'events carry it')
})

t.test('views and counts: Mine, Unassigned, All within my channels; exact keyset pages', async (t) => {
  const { x, y, agent, write, convOf, assign, admin } = await team(t)
  const ana = await agent('Ana', [x])
  const ben = await agent('Ben', [x])
  // Interleaved on X and Y, so Y's rows sit between Ana's on every page.
  const numbers = ['15550000001', '15550000002', '15550000003', '15550000004', '15550000005', '15550000006']
  for (const [i, n] of numbers.entries()) await write(n, `hi ${i}`, i % 2 === 0 ? 'x' : 'y')
  const onX = await Promise.all(numbers.filter((_, i) => i % 2 === 0).map((n) => convOf(n, x)))
  const onY = await Promise.all(numbers.filter((_, i) => i % 2 === 1).map((n) => convOf(n, y)))
  const [mine, bens, pool] = onX as [number, number, number]
  await assign(mine, ana.id)
  await assign(bens, ben.id)
  await assign(onY[0]!, ana.id) // assigned to her on a channel she cannot see: not hers to count
  const view = async (p: Person, q: string) => ids((await p.call('GET', `/api/conversations${q}`)).body.conversations)

  t.same(await view(ana, '?view=mine'), [mine])
  t.same(await view(ana, '?view=unassigned'), [pool])
  t.same(await view(ana, '?view=all'), [pool, bens, mine], 'newest first, X only')
  t.same(await view(ana, ''), [pool, bens, mine], 'all is the default')
  t.same((await ana.call('GET', '/api/conversations/counts')).body, { mine: 1, unassigned: 1, all: 3 })
  t.same((await ben.call('GET', '/api/conversations/counts')).body, { mine: 1, unassigned: 1, all: 3 })
  t.same((await admin.call('GET', '/api/conversations/counts')).body, { mine: 0, unassigned: 3, all: 6 })

  // Counts are of open conversations; the views combine with the status filter.
  await ana.call('POST', `/api/conversations/${mine}/status`, { status: 'resolved' })
  t.same((await ana.call('GET', '/api/conversations/counts')).body, { mine: 0, unassigned: 1, all: 2 })
  t.same(await view(ana, '?view=mine&status=open'), [])
  t.same(await view(ana, '?view=mine&status=resolved'), [mine])
  t.same(await view(ana, `?view=unassigned&channel=${x}`), [pool])
  t.same(await view(ana, `?view=all&channel=${y}`), [], 'a filter cannot widen the scope')

  // Pages of one: exactly my rows, in order, none twice, none of Y's.
  const seen: number[] = []
  let cursor: string | null = null
  do {
    const page: { body: { conversations: ConversationDTO[]; nextCursor: string | null } } = await ana.call(
      'GET',
      `/api/conversations?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
    )
    seen.push(...ids(page.body.conversations))
    cursor = page.body.nextCursor
  } while (cursor)
  t.same(seen, [pool, bens, mine])
  const adminPages: number[] = []
  cursor = null
  do {
    const page: { body: { conversations: ConversationDTO[]; nextCursor: string | null } } = await admin.call(
      'GET',
      `/api/conversations?limit=2&view=unassigned${cursor ? `&cursor=${cursor}` : ''}`,
    )
    adminPages.push(...ids(page.body.conversations))
    cursor = page.body.nextCursor
  } while (cursor)
  t.same(adminPages.sort(), [pool, ...onY.slice(1)].sort(), 'the admin’s unassigned, every channel')
})
