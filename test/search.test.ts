// Issue 15 over real HTTP: GET /api/search finds every kind of message (text, caption, file
// name, location, button and list replies, templates, notes) and contacts by name and by a
// piece of their number; diacritics and case are ignored; phrases and the last word's
// prefix; each filter; one result per conversation, newest first, in keyset pages that never
// repeat; an agent never sees (nor counts) another channel's conversation; a bad query is a
// 400 BAD_QUERY in words; and a customer's `<script>` comes back as plain text with ranges.
import t from 'tap'
import { ADMIN, apiCall, startServer, type ApiCall, type TestLike, type TestServer } from './helpers/server.ts'
import { pluck } from './helpers/sql-reads-pga.ts'
import { contact, envelope, inbound, text, value } from './helpers/wa.ts'
import { setMembers } from './helpers/members.ts'

const SECOND = { phoneNumberId: '100000000000003', secret: 'second-app-secret' }
const PASSWORD = 'agent password 123'

interface Result {
  conversationId: number
  messageId: number | null
  snippet: string
  highlights: [number, number][]
  timestamp: number
  conversation: { id: number; channelId: number; contact: { name: string | null } }
}
interface Page {
  results: Result[]
  nextCursor: string | null
}

async function world(t: TestLike) {
  const s: TestServer = await startServer(t)
  const admin = await s.login()
  const call = apiCall(s.url, admin.token)
  const created = await call('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: SECOND.phoneNumberId,
    name: 'Support line',
    displayPhoneNumber: '15550003000',
    accessToken: 'EAA-second',
    appSecret: SECOND.secret,
    verifyToken: 'second-verify',
  })
  if (created.status !== 201) throw new Error(`channel: ${created.status}`)
  const y = created.body.channel.id as number
  const x = ((await call('GET', '/api/channels')).body.channels as { id: number; externalId: string }[]).find(
    (c) => c.externalId !== SECOND.phoneNumberId,
  )!.id
  const services = s.app.services
  const ws = await services.auth.defaultWorkspace()
  const adminId = (await pluck<number>(s.sql, 'SELECT id FROM users WHERE email = ?', [ADMIN.email]))!
  const agent = async (name: string, channelIds: number[]) => {
    const email = `${name.toLowerCase()}@example.com`
    const user = await services.auth.createUser({ workspaceId: ws, email, name, password: PASSWORD, role: 'agent' })
    await setMembers(services, user.id, channelIds)
    const { token } = await s.login({ email, password: PASSWORD })
    return { id: user.id, call: apiCall(s.url, token) }
  }
  /** A customer's message of any type, on X or on Y; returns the stored message's id. */
  const send = async (from: string, name: string, message: Record<string, unknown>, on: 'x' | 'y' = 'x') => {
    const payload = envelope(
      value({ ...(on === 'y' ? { phoneNumberId: SECOND.phoneNumberId } : {}), contacts: [contact(from, name)], messages: [message] }),
    )
    const res = await s.webhook(payload, on === 'y' ? { secret: SECOND.secret } : {})
    if (res.status !== 200) throw new Error(`webhook: ${res.status}`)
    return (await pluck<number>(s.sql, 'SELECT id FROM messages WHERE provider_message_id = ?', [message.id]))!
  }
  const convOf = async (messageId: number) =>
    (await pluck<number>(s.sql, 'SELECT conversation_id FROM messages WHERE id = ?', [messageId]))!
  return { s, ws, call, adminId, x, y, agent, send, convOf }
}

const search = async (call: ApiCall, q: string, extra = '') => {
  const res = await call<Page>('GET', `/api/search?q=${encodeURIComponent(q)}${extra}`)
  if (res.status !== 200) throw new Error(`search ${q}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}
const ids = (p: Page) => p.results.map((r) => r.messageId)

t.test('every kind of message is found, by its own words', async (t) => {
  const w = await world(t)
  const from = '5511900000001'
  const textId = await w.send(from, 'Maria Souza', text(from, 'I want the blue sofa for my living room'))
  const imageId = await w.send(
    from,
    'Maria Souza',
    inbound(from, 'image', { id: 'img1', mime_type: 'image/jpeg', sha256: 'aa', caption: 'Photo of the scratched armrest' }),
  )
  const docId = await w.send(
    from,
    'Maria Souza',
    inbound(from, 'document', { id: 'doc1', mime_type: 'application/pdf', sha256: 'bb', filename: 'invoice-march.pdf' }),
  )
  const locId = await w.send(
    from,
    'Maria Souza',
    inbound(from, 'location', { latitude: -23.5, longitude: -46.6, name: 'Padaria São Jorge', address: 'Rua Augusta 1500' }),
  )
  const buttonReplyId = await w.send(
    from,
    'Maria Souza',
    inbound(from, 'interactive', { type: 'button_reply', button_reply: { id: 'b1', title: 'Track my parcel' } }),
  )
  const listReplyId = await w.send(
    from,
    'Maria Souza',
    inbound(from, 'interactive', { type: 'list_reply', list_reply: { id: 'l1', title: 'Weekend delivery', description: 'x' } }),
  )
  const buttonId = await w.send(from, 'Maria Souza', inbound(from, 'button', { text: 'Unsubscribe promotions', payload: 'STOP' }))
  const conv = await w.convOf(textId)

  // A template the business sent, stored by the one writer as the sender stores it.
  const services = w.s.app.services
  const { store } = services
  const contactId = (await services.units.read(() => store.conversations.conversationDTOFor({ userId: w.adminId }, w.ws, conv)))!.contact.id
  const template = (await services.unitLog.transact(function* (batch) {
    return yield* services.writer.record(
      batch,
      (yield* store.conversations.conversationByChannelContact(w.x, contactId))!,
      {
        direction: 'out',
        type: 'template',
        text: 'Your order 4471 has shipped and arrives Thursday',
        status: 'queued',
        timestamp: Date.now(),
        clientMessageId: 'tpl-1',
      },
      { by: 'agent', now: Date.now() },
    )
  }))!
  const note = await w.call('POST', `/api/conversations/${conv}/notes`, { text: 'Customer prefers morning courier slots' })
  t.equal(note.status, 201)
  const noteId = note.body.note.id as number

  for (const [q, id, what] of [
    ['living room', textId, 'text'],
    ['armrest', imageId, 'image caption'],
    ['invoice', docId, 'document file name (prefix of invoice-march.pdf)'],
    ['augusta', locId, 'location address'],
    ['padaria', locId, 'location name'],
    ['parcel', buttonReplyId, 'button reply title'],
    ['weekend delivery', listReplyId, 'list reply title'],
    ['unsubscribe', buttonId, 'button text'],
    ['thursday', template.message.id, 'template text'],
    ['courier', noteId, 'note'],
  ] as const) {
    const page = await search(w.call, q)
    t.same(ids(page), [id], `${what}: "${q}"`)
    t.equal(page.results[0]!.conversationId, conv)
    t.equal(page.results[0]!.conversation.id, conv, 'the conversation as the viewer sees it')
  }

  // Diacritics and case: São = sao = SAO; the text keeps its accents.
  for (const q of ['sao jorge', 'SÃO JORGE', 'São']) {
    const page = await search(w.call, q)
    t.same(ids(page), [locId], q)
    t.match(page.results[0]!.snippet, /São Jorge/)
  }
  // Phrases and the last word's prefix.
  t.same(ids(await search(w.call, '"blue sofa"')), [textId], 'an exact phrase')
  t.same(ids(await search(w.call, '"sofa blue"')), [], 'the words in another order are not the phrase')
  t.same(ids(await search(w.call, 'blue so')), [textId], 'the last word is a prefix')
  t.same(ids(await search(w.call, 'bl sofa')), [], 'only the last one')
  const hl = (await search(w.call, 'blue sofa')).results[0]!
  t.same(
    hl.highlights.map(([a, b]) => hl.snippet.slice(a, b)),
    ['blue', 'sofa'],
    'highlights are ranges of the matched words in the snippet',
  )

  // The contact: by name, and by any 3+ digits of the number (messageId null: found by the contact).
  for (const q of ['souza', '90000', '+55 11 9000', '1190']) {
    const page = await search(w.call, q)
    t.same(
      page.results.map((r) => [r.conversationId, r.messageId]),
      [[conv, null]],
      `contact: "${q}"`,
    )
  }
  t.match((await search(w.call, 'souza')).results[0], { snippet: 'Maria Souza · 5511900000001', highlights: [[6, 11]] })
  // Reactions and system lines are not searchable; the text a reaction points at is.
  t.same(ids(await search(w.call, 'resolved')), [], 'system lines are not search results')
})

t.test('filters: from, in, label, assignee, status, before/after', async (t) => {
  const w = await world(t)
  const ana = await w.agent('Ana', [w.x, w.y])
  const a = await w.send('5511911110001', 'Alice', text('5511911110001', 'question about the lamp'))
  const b = await w.send('5511922220002', 'Bruno', text('5511922220002', 'lamp arrived broken'), 'y')
  const convA = await w.convOf(a)
  const convB = await w.convOf(b)
  // Ana answers A with a note mentioning the lamp; B is resolved and labelled.
  t.equal((await ana.call('POST', `/api/conversations/${convA}/notes`, { text: 'lamp replacement ordered' })).status, 201)
  const noteA = (await pluck<number>(w.s.sql, `SELECT id FROM messages WHERE type = 'note'`))!
  t.equal((await w.call('POST', `/api/conversations/${convB}/status`, { status: 'resolved' })).status, 200)
  const label = await w.call('POST', '/api/labels', { name: 'Damaged', color: '#cc0000' })
  t.equal(label.status, 201)
  t.equal((await w.call('PUT', `/api/conversations/${convB}/labels`, { labelIds: [label.body.label.id] })).status, 200)
  await w.s.app.services.units.transact(() => w.s.app.services.store.conversations.updateConversation(convA, { assigneeId: ana.id }))

  const convs = (p: Page) => p.results.map((r) => r.conversationId).sort()
  t.same(convs(await search(w.call, 'lamp')), [convA, convB].sort())
  t.same(ids(await search(w.call, 'lamp from:customer')), [b, a], 'from:customer: newest first')
  t.same(ids(await search(w.call, 'lamp from:agent')), [noteA], 'from:agent: replies and notes')
  t.same(ids(await search(w.call, 'lamp from:ana')), [noteA], 'from:<agent name>, any case')
  t.same(ids(await search(w.call, 'lamp from:"Nobody Here"')), [], 'an unknown agent: nothing')
  t.same(convs(await search(w.call, 'lamp in:"support line"')), [convB], 'in:<channel name>')
  t.same(convs(await search(w.call, 'lamp label:damaged')), [convB], 'label:')
  t.same(convs(await search(ana.call, 'lamp assignee:me')), [convA], 'assignee:me')
  t.same(convs(await search(w.call, 'lamp assignee:none')), [convB], 'assignee:none')
  t.same(convs(await search(w.call, 'lamp assignee:ana')), [convA], 'assignee:<name>')
  t.same(convs(await search(w.call, 'lamp status:resolved')), [convB], 'status:')
  t.same(convs(await search(w.call, 'lamp status:open')), [convA])
  const today = new Date().toISOString().slice(0, 10)
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
  t.same(convs(await search(w.call, `lamp after:${today}`)), [convA, convB].sort(), 'after: includes its day')
  t.same(convs(await search(w.call, `lamp before:${today}`)), [], 'before: excludes its day')
  t.same(convs(await search(w.call, `lamp after:${tomorrow}`)), [])
  // Filters alone are a query too.
  t.same(convs(await search(w.call, 'label:damaged')), [convB], 'a filter without words')
  t.same(ids(await search(w.call, 'from:agent')), [noteA])
})

t.test('scope: an agent never sees another channel’s conversation, in results or in paging', async (t) => {
  const w = await world(t)
  const bea = await w.agent('Bea', [w.x])
  const mine = await w.send('5511933330003', 'Carla Mendes', text('5511933330003', 'the walnut table please'))
  const theirs = await w.send('5511944440004', 'Carla Secreta', text('5511944440004', 'the walnut table too'), 'y')
  t.same(ids(await search(w.call, 'walnut')), [theirs, mine], 'an admin sees both channels')
  const page = await search(bea.call, 'walnut', '&limit=1')
  t.same(ids(page), [mine], 'the agent: only her channel')
  t.equal(page.nextCursor, null, 'and no next page that would count the other one')
  t.same((await search(bea.call, 'secreta')).results, [], 'nor its contact by name')
  t.same((await search(bea.call, '44440004')).results, [], 'nor by number')
  t.same((await search(bea.call, 'in:"support line"')).results, [], 'nor by naming its channel')
  const nobody = await w.agent('Nobody', [])
  t.same((await search(nobody.call, 'walnut')).results, [], 'an agent without channels finds nothing')
})

t.test('one result per conversation, newest first, keyset pages without repeats', async (t) => {
  const w = await world(t)
  const expected: number[] = []
  for (let i = 0; i < 5; i++) {
    const from = `55119555500${10 + i}`
    await w.send(from, `Pager ${i}`, text(from, `old mention of cushions ${i}`))
    const newest = await w.send(from, `Pager ${i}`, text(from, `new mention of cushions ${i}`))
    expected.unshift(newest)
  }
  const seen: number[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: Page = await search(w.call, 'cushions', `&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    t.ok(page.results.length <= 2)
    seen.push(...ids(page).map(Number))
    cursor = page.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3)
  t.same(seen, expected, 'each conversation once, at its newest matching message, newest first')
  const bad = await w.call('GET', '/api/search?q=cushions&cursor=nonsense')
  t.equal(bad.status, 400)
  t.equal(bad.body.error.code, 'BAD_CURSOR')
})

t.test('a bad query is a 400 BAD_QUERY in words, never a 500 or FTS5 text', async (t) => {
  const w = await world(t)
  await w.send('5511966660006', 'Dora', text('5511966660006', 'sofa OR NEAR(bed) "quoted" * -x'))
  for (const [q, says] of [
    ['"blue sofa', /quote is not closed/],
    ['color:blue', /"color:" is not a filter/],
    ['before:2026-13-01', /YYYY-MM-DD/],
    ['after:yesterday', /YYYY-MM-DD/],
    ['status:closed', /status: is one of open, pending, snoozed, resolved/],
    ['from:', /from: needs a value/],
    ['', /Type a word/],
    ['   ', /Type a word/],
    ['!!! ---', /Type a word/],
    ['status:open status:resolved', /only once/],
  ] as const) {
    const res = await w.call('GET', `/api/search?q=${encodeURIComponent(q)}`)
    t.equal(res.status, 400, `"${q}"`)
    t.equal(res.body.error.code, 'BAD_QUERY')
    t.match(res.body.error.message, says)
    t.notMatch(res.body.error.message, /fts5|syntax error/i)
  }
  // FTS5's own operators typed by a person are words, not syntax.
  for (const q of ['sofa OR', 'NEAR(bed)', 'sofa AND', '*', 'sofa -x', 'col:', 'http://example.com']) {
    const res = await w.call('GET', `/api/search?q=${encodeURIComponent(q)}`)
    t.not(res.status, 500, q)
  }
  t.equal((await search(w.call, 'sofa OR')).results.length, 1, '"OR" is a word here')
  const none = await w.call('GET', '/api/search')
  t.equal(none.status, 400, 'q is required')
  t.equal(none.body.error.code, 'BAD_QUERY')
})

t.test('a customer’s <script> comes back as plain text with ranges', async (t) => {
  const w = await world(t)
  const id = await w.send('5511977770007', 'Eve', text('5511977770007', '<script>alert("pwned")</script> my chair'))
  const r = (await search(w.call, 'chair')).results[0]!
  t.equal(r.messageId, id)
  t.equal(r.snippet, '<script>alert("pwned")</script> my chair', 'the text as the customer wrote it, no markup added')
  t.same(r.highlights, [[35, 40]])
  t.equal(r.snippet.slice(35, 40), 'chair')
})
