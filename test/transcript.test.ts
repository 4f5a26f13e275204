// Issue 15: a conversation's transcript over real HTTP — text and HTML for every kind of
// entry (text, image with caption, document, location, template from a campaign, a
// reaction, a note, a status line, a failed reply), notes left out unless asked for,
// customer text escaped in the HTML, admins only, 404 outside the workspace, the
// download's headers, and a log with no secret in it.
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { apiCall, PHONE_NUMBER_ID } from './helpers/server.ts'
import { teamServer } from './helpers/team-fixtures.ts'
import { contact, envelope, inbound, value } from './helpers/wa.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { setMembers } from './helpers/members.ts'

const NAUGHTY = `<script>alert("x")</script> & "quotes" <img src=x onerror=alert(1)>`
const CUSTOMER = 'Maria <b>Bold</b>'
const PHONE = '15550007001'

async function conversation(t: Test) {
  const lines: string[] = []
  const logStream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const ts = await teamServer(t, { env: { LOG_LEVEL: 'info' }, logStream })
  const { s } = ts
  const { services } = s.app
  await services.units.transact(() => services.settings.update(ts.workspaceId, { timezone: 'America/Sao_Paulo' }))
  services.settings.forget(ts.workspaceId)
  const first = inbound(PHONE, 'text', { body: NAUGHTY })
  const messages = [
    first,
    inbound(PHONE, 'image', { id: 'media-1', mime_type: 'image/jpeg', caption: 'the receipt' }),
    inbound(PHONE, 'document', { id: 'media-2', mime_type: 'application/pdf', filename: 'invoice.pdf' }),
    inbound(PHONE, 'location', { latitude: -23.55, longitude: -46.63, name: 'Blue Sofa Shop', address: 'Rua Augusta 1' }),
    inbound(PHONE, 'reaction', { message_id: first.id, emoji: '👍' }),
  ]
  for (const m of messages) {
    const res = await s.webhook(envelope(value({ contacts: [contact(PHONE, CUSTOMER)], messages: [m] })))
    t.equal(res.status, 200)
  }
  const conv = (await ts.api<{ conversations: Array<{ id: number }> }>('GET', '/api/conversations')).body.conversations[0]!.id
  t.equal((await ts.api('POST', `/api/conversations/${conv}/notes`, { text: 'Refund approved <b>secretly</b>' })).status, 201)
  t.equal((await ts.api('POST', `/api/conversations/${conv}/status`, { status: 'resolved' })).status, 200)

  const agent = await ts.addAgent('Ana Lima', 'ana@example.com')
  const channel = (await s.sql.get<{ id: number }>('SELECT id FROM channels WHERE external_id = ?', [PHONE_NUMBER_ID]))!.id
  await setMembers(services, agent.id, [channel])
  const { store, writer, unitLog } = services
  const contactId = (await services.units.read(() => store.conversations.conversationDTO(ts.workspaceId, conv)))!.contact.id
  const row = function* () {
    return (yield* store.conversations.conversationByChannelContact(channel, contactId))!
  }
  const at = Date.now()
  await unitLog.transact(function* (batch) {
    yield* writer.record(
      batch,
      yield* row(),
      {
        direction: 'out',
        type: 'template',
        text: 'Spring sale: 20% off sofas',
        data: { template: { name: 'spring_sale', language: 'en' } },
        context: { campaign: { id: 1, name: 'Spring' } },
        status: 'delivered',
        timestamp: at,
        createdAt: at,
        updatedAt: at,
      },
      { by: 'broadcast', now: at },
    )
  })
  await unitLog.transact(function* (batch) {
    yield* writer.record(
      batch,
      yield* row(),
      {
        direction: 'out',
        type: 'text',
        text: 'We will call you',
        senderUserId: agent.id,
        status: 'failed',
        errorCode: 131047,
        errorTitle: 'Re-engagement message',
        errorDetail: 'More than 24 hours have passed',
        timestamp: at + 1,
        createdAt: at + 1,
        updatedAt: at + 1,
      },
      { by: 'agent', now: at + 1 },
    )
  })
  const agentCall = apiCall(s.url, await ts.tokenOf('ana@example.com'))
  return { ts, s, conv, agentCall, lines, admin: ts.adminToken }
}

const get = (url: string, token: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } })

t.test('the text transcript: header, every kind of entry, notes when asked for, headers of a download', async (t) => {
  const { s, conv, admin, lines } = await conversation(t)
  const res = await get(`${s.url}/api/conversations/${conv}/transcript?format=text&notes=true`, admin)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
  t.match(res.headers.get('content-disposition'), new RegExp(`^attachment; filename="conversation-${conv}-\\d{4}-\\d{2}-\\d{2}\\.txt"$`))
  t.equal(res.headers.get('cache-control'), 'private, no-store')
  const body = await res.text()
  t.match(body, `Conversation with ${CUSTOMER}`)
  t.match(body, `Contact: ${CUSTOMER} (+${PHONE})`)
  t.match(body, /\nChannel: WhatsApp( \(.+\))?\n/)
  t.match(body, /Exported: \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(America\/Sao_Paulo\) by Admin/)
  t.match(body, 'Internal notes: included')
  t.match(body, NAUGHTY, 'the customer’s text as they wrote it (plain text needs no escaping)')
  t.match(body, '[Image: the receipt]')
  t.match(body, '[Document: invoice.pdf]')
  t.match(body, '[Location: Blue Sofa Shop, Rua Augusta 1 (-23.55000, -46.63000)]')
  t.match(body, '[Reaction: 👍 to “<script>alert("x")</script>')
  t.match(body, /\d\d:\d\d {2}Note \(internal\) · Admin\n {4}Refund approved <b>secretly<\/b>/)
  t.match(body, /\d\d:\d\d {2}-- Resolved by Admin --/)
  t.match(body, /\d\d:\d\d {2}Campaign Spring\n {4}\[Template: spring_sale\]\n {4}Spring sale: 20% off sofas/)
  t.match(body, /\d\d:\d\d {2}Ana Lima {2}\[Not delivered: More than 24 hours have passed\]\n {4}We will call you/)
  t.match(body, /-- End of transcript: 9 entries --\n$/)
  // In id order, times in the workspace's timezone (São Paulo, UTC−3).
  const order = ['alert', '[Image', '[Document', '[Location', '[Reaction', 'Refund approved', 'Resolved by', 'Spring sale', 'We will call']
  const at = order.map((w) => body.indexOf(w))
  t.same(
    at,
    [...at].sort((a, b) => a - b),
    'in id order',
  )
  const local = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'America/Sao_Paulo',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  })
  // The last entry's minute in São Paulo (the minute may turn while the test runs: either is right).
  const last = /(\d\d:\d\d) {2}Ana Lima/.exec(body)![1]
  const now = Date.now()
  t.ok([local.format(now), local.format(now - 60_000)].includes(last!), `${last} is São Paulo time`)

  const log = lines.join('')
  t.match(log, '"msg":"transcript exported"', 'the export is logged')
  t.notMatch(log, admin, 'without the token')
  t.notMatch(log, 'Refund approved', 'and without the conversation’s text')
})

t.test('notes=false (and the default) leave the notes out', async (t) => {
  const { s, conv, admin } = await conversation(t)
  for (const q of ['format=text&notes=false', 'format=text']) {
    const body = await (await get(`${s.url}/api/conversations/${conv}/transcript?${q}`, admin)).text()
    t.notMatch(body, 'Refund approved', q)
    t.notMatch(body, 'Note (internal)', q)
    t.match(body, 'Internal notes: not included', q)
    t.match(body, 'Resolved by Admin', `${q}: status lines stay`)
    t.match(body, '8 entries', q)
  }
})

t.test('the HTML transcript: a self-contained page, every text escaped', async (t) => {
  const { s, conv, admin } = await conversation(t)
  const res = await get(`${s.url}/api/conversations/${conv}/transcript?format=html&notes=true`, admin)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'text/html; charset=utf-8')
  t.match(res.headers.get('content-disposition'), new RegExp(`^attachment; filename="conversation-${conv}-\\d{4}-\\d{2}-\\d{2}\\.html"$`))
  t.match(res.headers.get('content-security-policy'), /^default-src 'none'; style-src 'unsafe-inline'/)
  const html = await res.text()
  t.match(html, /^<!doctype html>/)
  t.match(html, `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;`)
  t.match(html, '@media print')
  t.notMatch(html, /<script/i, 'no script element anywhere')
  t.notMatch(html, /<img/i, 'no image element from the customer’s text')
  t.notMatch(html, /<b>/, 'no markup from the note or the name')
  // The page's own tags (escaped text has no `<`): none with a handler or a source.
  const tags = html.match(/<[^>]*>/g) ?? []
  t.ok(tags.length > 20)
  t.same(
    tags.filter((tag) => /\son\w+=|\ssrc=|\shref=|^<(link|iframe|object|embed|form|base)\b/i.test(tag)),
    [],
    'no event handler, nothing loaded from anywhere',
  )
  t.match(html, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot; &lt;img src=x onerror=alert(1)&gt;')
  t.match(html, '<title>Conversation with Maria &lt;b&gt;Bold&lt;/b&gt;</title>')
  t.match(html, 'Refund approved &lt;b&gt;secretly&lt;/b&gt;')
  t.match(html, '<article class="msg note"')
  t.match(html, '[Image: the receipt]')
  t.match(html, '[Document: invoice.pdf]')
  t.match(html, '[Location: Blue Sofa Shop, Rua Augusta 1')
  t.match(html, '[Template: spring_sale]')
  t.match(html, '<span class="who">Campaign Spring</span>')
  t.match(html, '<span class="mark">Not delivered: More than 24 hours have passed</span>')
  t.match(html, /<p class="system" data-id="\d+">Resolved by Admin · <time/)
  t.match(html, /<\/html>\n$/)
  const noNotes = await (await get(`${s.url}/api/conversations/${conv}/transcript?format=html&notes=false`, admin)).text()
  t.notMatch(noNotes, 'Refund approved')
  t.notMatch(noNotes, 'class="msg note"')
})

t.test('admins only; another workspace’s or an unknown conversation is 404; bad parameters are 400', async (t) => {
  const { s, conv, agentCall, admin } = await conversation(t)
  const refused = await agentCall('GET', `/api/conversations/${conv}/transcript?format=text`)
  t.equal(refused.status, 403, 'an agent, even on the conversation’s channel')
  t.equal(refused.body.error.code, 'FORBIDDEN')
  t.equal((await agentCall('GET', '/api/conversations/999999/transcript')).status, 403, 'learns nothing of other ids either')
  t.equal((await fetch(`${s.url}/api/conversations/${conv}/transcript`)).status, 401, 'no session')

  const ws2 = (await s.sql.get<{ id: number }>(`INSERT INTO workspaces(name) VALUES ('Other shop') RETURNING id`))!
  await s.app.services.auth.createUser({
    workspaceId: ws2.id,
    email: 'other@example.com',
    name: 'Other',
    password: 'other password 1',
    role: 'admin',
  })
  const other = apiCall(s.url, (await s.login({ email: 'other@example.com', password: 'other password 1' })).token)
  const hidden = await other('GET', `/api/conversations/${conv}/transcript?format=html`)
  t.equal(hidden.status, 404, 'another workspace’s admin')
  t.equal(hidden.body.error.code, 'NOT_FOUND')
  const call = apiCall(s.url, admin)
  t.equal((await call('GET', '/api/conversations/999999/transcript')).status, 404)
  const bad = await call('GET', `/api/conversations/${conv}/transcript?format=pdf`)
  t.equal(bad.status, 400)
  t.equal(bad.body.error.code, 'VALIDATION_FAILED')
  t.equal((await call('GET', `/api/conversations/${conv}/transcript?notes=yes`)).status, 400)
})

t.test('a long conversation comes out whole, in order, across pages', async (t) => {
  const { ts, s, conv, admin } = await conversation(t)
  const { services } = s.app
  const { store, writer, unitLog } = services
  const dto = (await services.units.read(() => store.conversations.conversationDTO(ts.workspaceId, conv)))!
  const at = Date.now()
  await unitLog.transact(function* (batch) {
    for (let i = 0; i < 1234; i++) {
      yield* writer.record(
        batch,
        (yield* store.conversations.conversationByChannelContact(dto.channelId, dto.contact.id))!,
        { direction: 'in', type: 'text', text: `line ${i}`, status: 'received', timestamp: at + i, createdAt: at, updatedAt: at },
        { by: 'customer', now: at },
      )
    }
  })
  const body = await (await get(`${s.url}/api/conversations/${conv}/transcript?format=text`, admin)).text()
  const seen = [...body.matchAll(/ {4}line (\d+)\n/g)].map((m) => Number(m[1]))
  t.equal(seen.length, 1234)
  t.ok(
    seen.every((n, i) => n === i),
    'each once, in order',
  )
  t.match(body, `${8 + 1234} entries`)
})

t.test('the words of each entry: who, what, marks (pure)', async (t) => {
  const { entryOf } = await import('../src/domain/transcript/entries.ts')
  const { textRenderer } = await import('../src/domain/transcript/text.ts')
  const { escapeHtml } = await import('../src/domain/transcript/escape.ts')
  const base: MessageDTO = {
    id: 1,
    conversationId: 1,
    direction: 'out',
    type: 'text',
    text: 'hi',
    media: null,
    data: null,
    context: null,
    replyToMessageId: null,
    reactions: null,
    providerMessageId: null,
    clientMessageId: null,
    senderUserId: null,
    status: 'sent',
    sentAt: null,
    deliveredAt: null,
    readAt: null,
    failedAt: null,
    error: null,
    timestamp: Date.UTC(2026, 11, 6, 12, 0),
  }
  const look = {
    customer: 'Maria',
    timeZone: 'Europe/Lisbon',
    userName: (id: number) => (id === 7 ? 'Ana' : null),
    messageText: (id: number) => (id === 3 ? 'the   earlier\nmessage' : null),
    providerMessageText: () => null,
  }
  const e = (m: Partial<MessageDTO>) => entryOf({ ...base, ...m }, look)
  t.match(e({ context: { source: 'whatsapp_business_app' } }), { speaker: 'phone', who: 'Phone app' })
  t.match(e({ context: { automatic: 'away' } }), { speaker: 'automatic', who: 'Parley' })
  t.match(e({ senderUserId: 7, replyToMessageId: 3 }), { speaker: 'agent', who: 'Ana', replyTo: 'the earlier message' })
  t.match(e({ status: 'unknown' }), { marks: ['Delivery not confirmed'] })
  t.match(e({ type: 'deleted', text: null }), { kind: '[Deleted message]', marks: ['Deleted'] })
  t.match(e({ direction: 'in', type: 'audio', text: null, media: { voice: true } }), { who: 'Maria', kind: '[Voice message]' })
  t.match(e({ direction: 'in', type: 'reaction', text: null, data: { message_id: 'wamid.x' } }), { kind: '[Reaction removed]' })
  t.match(
    e({ direction: 'in', type: 'contacts', text: null, data: [{ name: { formatted_name: 'Bob' }, phones: [{ phone: '+1 555' }] }] }),
    { kind: '[Contact: Bob +1 555]' },
  )
  t.match(e({ direction: 'in', type: 'unsupported', text: null, data: { type: 'poll' } }), { kind: '[Unsupported message: poll]' })
  const line = (data: unknown) => e({ direction: 'system', type: 'activity', text: 'fallback', data }).text
  t.equal(line({ action: 'assigned', actor: { userId: 7, name: 'Ana' }, target: { userId: 8, name: 'Ben' } }), 'Assigned to Ben by Ana')
  t.equal(line({ action: 'assigned', actor: { userId: 7, name: 'Ana' }, target: { userId: 7, name: 'Ana' } }), 'Taken by Ana')
  t.equal(line({ action: 'assigned', actor: null, target: { userId: 8, name: 'Ben' } }), 'Assigned to Ben by Parley')
  // 09:00 in Lisbon (UTC+0 in December).
  t.equal(
    line({ action: 'snoozed', actor: { userId: 7, name: 'Ana' }, until: Date.UTC(2026, 11, 7, 9, 0) }),
    'Snoozed until 2026-12-07 09:00 by Ana',
  )
  t.equal(line({ action: 'unsnoozed', actor: null, reason: 'customer' }), 'Snooze ended: the customer wrote')
  t.equal(line(null), 'fallback')
  t.match(e({ direction: 'system', type: 'note', text: 'n', senderUserId: 99 }), {
    speaker: 'note',
    who: 'Note (internal) · a former teammate',
  })

  t.equal(escapeHtml(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;')
  const r = textRenderer('Europe/Lisbon')
  const block = r.entry(e({ direction: 'in', text: 'red\u001b[31m alert\r\nsecond line\u0007' }))
  t.equal(
    block,
    '\n== Sunday, 2026-12-06 ==\n\n12:00  Maria\n    red[31m alert\n    second line\n',
    'control characters dropped, lines indented',
  )
})
