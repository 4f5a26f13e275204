// What a real account sends besides `messages` (issue 11): the business's own messages
// sent from the WhatsApp Business app on its phone (`smb_message_echoes`), and customers
// stopping or resuming marketing messages inside WhatsApp (`user_preferences`). Signed
// webhooks over real HTTP, a real SSE client, the emulator as Meta.
import t from 'tap'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import { connectSse } from './helpers/sse.ts'
import { status, statusWebhook } from './helpers/wa.ts'
import { echo, echoId, fixture, preference } from './helpers/coexistence.ts'
import { action, createCampaign, importCsv, waitCampaign } from './helpers/campaigns.ts'
import type { ContactDetailDTO, ConversationDTO, MessageDTO } from '../src/events/types.ts'

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

const count = async (p: Pair, sql: string, ...args: unknown[]) =>
  (await p.parley.sql.get<{ n: number }>(`SELECT count(*) AS n FROM ${sql}`, args))!.n

/** Posts a signed webhook; Meta gets its 200 only once it is committed. */
async function post(t: { equal: (...args: any[]) => unknown }, p: Pair, body: unknown) {
  const res = await p.parley.webhook(body)
  t.equal(res.status, 200, 'acknowledged')
}

async function conversationOf(p: Pair, phone: string): Promise<ConversationDTO> {
  const list = (await p.call('GET', '/api/conversations?status=all')).body.conversations as ConversationDTO[]
  const c = list.find((x) => x.contact.phone === phone)
  if (!c) throw new Error(`no conversation with ${phone}`)
  return c
}

async function contactByPhone(p: Pair, phone: string): Promise<ContactDetailDTO> {
  const list = (await p.call('GET', `/api/contacts?q=${phone}`)).body.contacts as ContactDetailDTO[]
  const c = list.find((x) => x.phone === phone)
  if (!c) throw new Error(`no contact ${phone}`)
  return c
}

t.test('a message sent from the phone app shows once as outbound, is never sent, and takes its ticks', async (t) => {
  const p = await startPair(t)
  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => sse.close())
  const maria = '15550001111'
  const joao = '15550002222'
  await p.emu.customer('Maria', maria)
  await p.emu.customer('João', joao)
  await p.emu.say(maria, 'Do you have it in blue?')
  await p.emu.say(joao, 'Hello')
  const before = await conversationOf(p, maria)
  t.equal(before.unreadCount, 1)
  let list = (await p.call('GET', '/api/conversations')).body.conversations as ConversationDTO[]
  t.same(
    list.map((c) => c.contact.phone),
    [joao, maria],
    'João wrote last',
  )

  const body = echo(maria, 'Yes, in blue and red — sent from my phone')
  const id = echoId(body)
  await post(t, p, body)
  await sse.waitFor((evs) => evs.some((e) => e.event === 'message.created' && e.data.includes(id)))
  const created = sse
    .data<{ message: MessageDTO; conversation: ConversationDTO }>('message.created')
    .find((d) => d.message.providerMessageId === id)!
  t.match(created.message, {
    direction: 'out',
    type: 'text',
    text: 'Yes, in blue and red — sent from my phone',
    status: 'sent',
    senderUserId: null,
    clientMessageId: null,
  })
  t.equal(created.message.context?.source, 'whatsapp_business_app', 'marked as sent from the phone app')
  t.match(created.conversation, {
    id: before.id,
    lastMessagePreview: 'Yes, in blue and red — sent from my phone',
    lastMessageDirection: 'out',
    lastMessageStatus: 'sent',
    // Not the customer's message: no unread, the window as the customer left it.
    unreadCount: 1,
    windowExpiresAt: before.windowExpiresAt,
  })
  list = (await p.call('GET', '/api/conversations')).body.conversations as ConversationDTO[]
  t.same(
    list.map((c) => c.contact.phone),
    [maria, joao],
    'the list reorders like after a reply',
  )

  // Meta retries and duplicates: stored once, nothing emitted again.
  const events = await count(p, 'events')
  await post(t, p, body)
  await post(t, p, { ...body, entry: [...body.entry, ...body.entry] })
  t.equal(await count(p, 'messages WHERE provider_message_id = ?', id), 1, 'stored once')
  t.equal(await count(p, 'events'), events, 'a duplicate emits nothing')

  // Never sent again: no outbox row, nothing reached Meta.
  t.equal(await count(p, 'outbox'), 0, 'no outbox row')
  t.equal((await p.emu.stats()).sendRequests, 0, 'the emulator received no send')
  t.equal(await count(p, 'raw_webhooks'), 0, 'not kept as an unknown payload')

  // Statuses for the echo's wamid move its ticks (delivered may be skipped; read wins).
  await post(t, p, statusWebhook(status(id, 'delivered', maria)))
  await post(t, p, statusWebhook(status(id, 'read', maria)))
  await post(t, p, statusWebhook(status(id, 'delivered', maria)))
  const msgs = (await p.call('GET', `/api/conversations/${before.id}/messages`)).body.messages as MessageDTO[]
  const stored = msgs.find((m) => m.providerMessageId === id)!
  t.equal(stored.status, 'read', 'ticks follow the status webhooks, forward only')
  await sse.waitFor((evs) => evs.some((e) => e.event === 'message.updated' && e.data.includes(id) && e.data.includes('"status":"read"')))
  t.equal((await conversationOf(p, maria)).lastMessageStatus, 'read')
  t.equal((await p.emu.stats()).sendRequests, 0, 'still nothing sent')
})

t.test('an echo to a customer Parley has not met creates them; a status that came first is applied', async (t) => {
  const p = await startPair(t)
  const ana = '15550003333'
  const body = echo(ana, 'Hi Ana, your table is booked for 8 pm')
  const id = echoId(body)
  // The delivered status outran the echo (Meta does not order its webhooks).
  await post(t, p, statusWebhook(status(id, 'delivered', ana)))
  t.equal(await count(p, 'pending_statuses'), 1, 'kept until its message appears')
  await post(t, p, body)
  const conv = await conversationOf(p, ana)
  t.match(conv, { unreadCount: 0, windowExpiresAt: null, lastMessageDirection: 'out', lastMessageStatus: 'delivered' })
  t.match(conv.contact, { phone: ana, externalId: ana, name: null })
  t.equal(await count(p, 'pending_statuses'), 0, 'applied')

  // A photo from the phone (the phone uploaded it to Meta: here, to the emulator's media
  // store) is downloaded like a customer's; a reaction from the phone to the customer's
  // message shows on it like Parley's own.
  await p.emu.customer('Ana', ana)
  const said = await p.emu.say(ana, 'Thanks!')
  const photo = p.emu.emulator.storeMedia({ bytes: PNG, mimeType: 'image/png', filename: null })
  const image = echo(ana, '', { type: 'image', image: { mime_type: 'image/png', sha256: photo.sha256, id: photo.id, caption: 'The menu' } })
  delete image.entry[0].changes[0].value.message_echoes[0].text
  await post(t, p, image)
  const react = echo(ana, '', { type: 'reaction', reaction: { message_id: said.id, emoji: '👍' } })
  delete react.entry[0].changes[0].value.message_echoes[0].text
  await post(t, p, react)
  const messages = async () => (await p.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
  const img = await until(async () => (await messages()).find((m) => m.type === 'image' && m.media?.url), 'the photo downloaded')
  t.match(img, {
    direction: 'out',
    text: 'The menu',
    media: { id: photo.id, url: /^\/api\/media\/\d+$/ },
    context: { source: 'whatsapp_business_app' },
  })
  const file = await fetch(p.parley.url + (img.media!.url as string), { headers: { authorization: `Bearer ${p.token}` } })
  t.same(Buffer.from(await file.arrayBuffer()), PNG, 'the bytes the phone sent')
  const msgs = await messages()
  t.same(msgs.find((m) => m.providerMessageId === said.id)?.reactions, { business: '👍' }, 'the reaction shows on the customer message')
  t.equal((await conversationOf(p, ana)).unreadCount, 1, 'only the customer message is unread')
  t.equal(await count(p, 'outbox'), 0)
  t.equal((await p.emu.stats()).sendRequests, 0)
})

t.test('edits and revokes from the phone are kept raw with their reason; other fields as before', async (t) => {
  const p = await startPair(t)
  await post(t, p, fixture('wa-smb-echo-text'))
  await post(t, p, fixture('wa-smb-echo-revoke'))
  await post(t, p, {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '100000000000001',
        changes: [
          { field: 'history', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: '100000000000002' }, history: [] } },
        ],
      },
    ],
  })
  // A preference Parley does not model (another category) is kept, not guessed at.
  const other = preference('15550001111', 'stop', 1767262000, 'Sheena Nelson')
  other.entry[0].changes[0].value.user_preferences[0].category = 'utility_messages'
  await post(t, p, other)
  const kept = await p.parley.sql.all<{ reason: string; body: string }>(`SELECT reason, body FROM raw_webhooks ORDER BY id`)
  t.same(
    kept.map((k) => k.reason),
    ['smb_message_echoes:revoke', 'field:history', 'user_preferences'],
  )
  t.match(
    JSON.parse(kept[0]!.body),
    { metadata: { phone_number_id: '100000000000002' }, echo: { type: 'revoke' } },
    'with the number it came from',
  )
  t.equal(await count(p, 'messages'), 1, 'the echo itself stored, the revoke not made a message')
  t.equal((await contactByPhone(p, '15550001111')).optOut, null, 'another category opts nobody out')
})

t.test('user_preferences: stop opts out (campaigns skip), resume opts back in, by Meta’s time not arrival', async (t) => {
  const p = await startPair(t)
  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => sse.close())
  const maria = '15550001111'
  const joao = '15550002222'
  await p.emu.customer('Maria', maria)
  await p.emu.customer('João', joao)
  await importCsv(p, `phone,name,order,tags\n+${maria},Maria,#1,vip\n+${joao},João,#2,vip\n`)
  const t0 = Math.floor(Date.now() / 1000) - 600

  await post(t, p, preference(maria, 'stop', t0, 'Maria S.'))
  const out = await contactByPhone(p, maria)
  t.match(out.optOut, { source: 'whatsapp_stop', at: t0 * 1000, text: null })
  t.equal(out.name, 'Maria', 'the imported name stays')
  await sse.waitFor((evs) => evs.some((e) => e.event === 'contact.updated' && e.data.includes('"source":"whatsapp_stop"')))
  const updates = () => sse.data<{ contact: ContactDetailDTO }>('contact.updated').filter((d) => d.contact.id === out.id).length
  const seen = updates()
  await post(t, p, preference(maria, 'stop', t0, 'Maria S.'))
  t.equal(await count(p, 'contacts WHERE opted_out_at = ?', t0 * 1000), 1, 'a duplicate changes nothing')

  const c1 = await createCampaign(p)
  await action(p, c1.id, 'start', {})
  const done = await waitCampaign(p, c1.id, (c) => c.status === 'completed' && c.counts.delivered === 1, 'first campaign done')
  t.same(done.skips, [{ reason: 'opted_out', label: 'Opted out', count: 1 }], 'skipped like any opt-out')
  t.equal((await p.emu.messages(maria)).filter((m) => m.direction === 'out').length, 0, 'Maria received nothing')
  t.equal(updates(), seen, 'the duplicate emitted no contact.updated')

  // Resume (newer): back in, with its own source. A late older stop does not undo it.
  await post(t, p, preference(maria, 'resume', t0 + 300, 'Maria S.'))
  let back = await contactByPhone(p, maria)
  t.equal(back.optOut, null, 'opted back in')
  t.same(back.optIn, { at: (t0 + 300) * 1000, source: 'whatsapp_resume' })
  await sse.waitFor((evs) => evs.some((e) => e.event === 'contact.updated' && e.data.includes('"source":"whatsapp_resume"')))
  await post(t, p, preference(maria, 'stop', t0 + 100, 'Maria S.'))
  await post(t, p, preference(maria, 'resume', t0 + 300, 'Maria S.'))
  back = await contactByPhone(p, maria)
  t.equal(back.optOut, null, 'an older stop delivered late does not override the newer resume')

  const c2 = await createCampaign(p, { name: 'Again' })
  await action(p, c2.id, 'start', {})
  await waitCampaign(p, c2.id, (c) => c.status === 'completed' && c.counts.delivered === 2, 'second campaign reached both')
  t.equal((await p.emu.messages(maria)).filter((m) => m.direction === 'out').length, 1)

  // A newer stop opts out again; a resume older than it does not reverse it.
  await post(t, p, preference(maria, 'stop', t0 + 500, 'Maria S.'))
  await post(t, p, preference(maria, 'resume', t0 + 400, 'Maria S.'))
  t.match((await contactByPhone(p, maria)).optOut, { source: 'whatsapp_stop', at: (t0 + 500) * 1000 })

  // João writes STOP (opted out by keyword), then in WhatsApp resumes and stops again;
  // the last two arrive stop first. The latest word is the stop: he stays out.
  const written = await p.emu.say(joao, 'STOP')
  const tw = Math.floor(written.timestamp / 1000)
  await post(t, p, preference(joao, 'stop', tw + 120, 'João'))
  t.match((await contactByPhone(p, joao)).optOut, { source: 'whatsapp_stop', at: (tw + 120) * 1000 }, 'the newer stop is the opt-out now')
  await post(t, p, preference(joao, 'resume', tw + 60, 'João'))
  t.match((await contactByPhone(p, joao)).optOut, { source: 'whatsapp_stop' }, 'the older resume, delivered late, does not reverse it')
})

t.test('user_preferences for someone Parley has not met creates the contact, named from contacts[]', async (t) => {
  const p = await startPair(t)
  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => sse.close())
  const stranger = '15550009999'
  await post(t, p, preference(stranger, 'stop', Math.floor(Date.now() / 1000), 'Sheena Nelson'))
  const c = await contactByPhone(p, stranger)
  t.match(c, { name: 'Sheena Nelson', profileName: 'Sheena Nelson', externalId: stranger, optOut: { source: 'whatsapp_stop' } })
  await sse.waitFor((evs) => evs.some((e) => e.event === 'contact.updated' && e.data.includes('Sheena Nelson')))
  t.equal(await count(p, 'conversations'), 0, 'a preference is no conversation')
  const resumeOnly = '15550008888'
  await post(t, p, preference(resumeOnly, 'resume', Math.floor(Date.now() / 1000)))
  t.match(await contactByPhone(p, resumeOnly), { name: null, optOut: null, optIn: { source: 'whatsapp_resume' } })
  await until(async () => (await p.call('GET', '/api/contacts?optedOut=true')).body.contacts.length === 1, 'one opted out')
})
