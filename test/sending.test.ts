// Replies end to end over real HTTP: Parley's API → outbox → Graph client → emulator,
// and the emulator's signed status webhooks → Parley's webhook route → SSE.
import t from 'tap'
import { connectSse } from './helpers/sse.ts'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import type { MessageDTO } from '../src/events/types.ts'

const CUSTOMER = '15550001111'

/** A customer who wrote (window open) and the conversation Parley made for them. */
async function conversationWith(p: Pair, phone = CUSTOMER, name = 'Maria') {
  await p.emu.customer(name, phone)
  await p.emu.say(phone, 'Hello, is my order on its way?')
  const list = await p.call('GET', '/api/conversations')
  const conv = list.body.conversations.find((c: any) => c.contact.externalId === phone)
  return { id: conv.id as number, eventId: list.body.eventId as string }
}

const statusesOf = (events: { message: MessageDTO }[], id: number) => events.filter((e) => e.message.id === id).map((e) => e.message.status)

t.test('send → sent → delivered → read, each step an event on the stream', async (t) => {
  const p = await startPair(t)
  const conv = await conversationWith(p)
  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token, lastEventId: conv.eventId })
  t.teardown(() => sse.close())

  const res = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Yes! It ships today.', clientMessageId: 'c-1' })
  t.equal(res.status, 202)
  const msg = res.body.message as MessageDTO
  t.equal(msg.status, 'queued')
  t.equal(msg.direction, 'out')
  t.equal(msg.clientMessageId, 'c-1')

  const updated = () => sse.data<{ message: MessageDTO }>('message.updated')
  await sse.waitFor(() => statusesOf(updated(), msg.id).includes('delivered'))
  const created = sse.data<{ message: MessageDTO; conversation: any }>('message.created').find((e) => e.message.id === msg.id)
  t.ok(created, 'message.created carries the new message')
  t.equal(created!.message.clientMessageId, 'c-1', '…with the clientMessageId for the optimistic bubble')
  t.equal(created!.conversation.lastMessageDirection, 'out')

  // The customer opens the chat: read receipts come back as a webhook.
  t.equal(await p.emu.read(CUSTOMER), 1)
  await sse.waitFor(() => statusesOf(updated(), msg.id).includes('read'))
  const seq = statusesOf(updated(), msg.id)
  t.same(
    seq.filter((s, i) => s !== seq[i - 1]),
    ['sending', 'sent', 'delivered', 'read'],
    'every transition, in order',
  )

  const final = updated()
    .filter((e) => e.message.id === msg.id)
    .at(-1)!.message
  t.match(final.providerMessageId, /^wamid\./)
  t.ok(final.sentAt && final.deliveredAt && final.readAt, 'each step has its time')

  const atCustomer = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
  t.equal(atCustomer.length, 1)
  t.equal(atCustomer[0]!.text, 'Yes! It ships today.')
  t.equal(atCustomer[0]!.id, final.providerMessageId)
  t.equal(atCustomer[0]!.status, 'read')
})

t.test('the same clientMessageId sent again (even concurrently) is one message and one Graph send', async (t) => {
  const p = await startPair(t)
  const conv = await conversationWith(p)
  const body = { text: 'Only once, please', clientMessageId: 'dup-1' }
  const path = `/api/conversations/${conv.id}/messages`
  const first = await Promise.all([p.call('POST', path, body), p.call('POST', path, body), p.call('POST', path, body)])
  t.same(
    first.map((r) => r.status),
    [202, 202, 202],
  )
  const ids = new Set(first.map((r) => r.body.message.id))
  t.equal(ids.size, 1, 'one message for three POSTs')
  const id = [...ids][0]
  await until(async () => (await p.emu.messages(CUSTOMER)).some((m) => m.direction === 'out' && m.status === 'delivered'), 'delivered')
  // A browser retrying long after the send still gets the same message, now delivered.
  const late = await p.call('POST', path, body)
  t.equal(late.status, 202)
  t.equal(late.body.message.id, id)
  t.equal(late.body.message.status, 'delivered')
  const stats = await p.emu.stats()
  t.equal(stats.sendRequests, 1, 'the emulator received one send request')
  t.equal((await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out').length, 1)
  // The same id in another conversation is a client bug, not a resend.
  const other = await conversationWith(p, '15550002222', 'Bob')
  const clash = await p.call('POST', `/api/conversations/${other.id}/messages`, body)
  t.equal(clash.status, 409)
  t.equal(clash.body.error.code, 'CLIENT_MESSAGE_ID_REUSED')
})

t.test('window closed: free text refused up front; an approved template is sent', async (t) => {
  const p = await startPair(t)
  await p.emu.customer('Quiet Carla', CUSTOMER)
  // Carla last wrote 25 hours ago (delivered to Parley then; the emulator agrees).
  const longAgo = Date.now() - 25 * 3600_000
  await p.emu.api('PATCH', `/api/sandbox/customers/${CUSTOMER}`, { lastInboundAt: longAgo })
  const { textWebhook } = await import('./helpers/wa.ts')
  const hook = textWebhook(CUSTOMER, 'Quiet Carla', 'Are you open on Sundays?')
  hook.payload.entry[0]!.changes[0]!.value.messages![0] = {
    ...(hook.payload.entry[0]!.changes[0]!.value.messages![0] as object),
    timestamp: String(Math.floor(longAgo / 1000)),
  }
  t.equal((await p.parley.webhook(hook.payload)).status, 200)
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  t.ok(conv.windowExpiresAt < Date.now(), 'the conversation knows its window closed')

  const refused = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Yes we are!', clientMessageId: 'w-1' })
  t.equal(refused.status, 422)
  t.equal(refused.body.error.code, 'WINDOW_CLOSED')
  t.match(refused.body.error.message, /template/)
  t.equal((await p.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages.length, 1, 'nothing stored')

  const templates = (await p.call('GET', '/api/templates')).body.templates
  t.same(
    templates.map((x: any) => `${x.name}/${x.language}`),
    ['appointment_reminder/fr', 'follow_up/en', 'hello_world/en_US', 'order_update/en'],
    'approved templates only, with their languages',
  )
  const order = templates.find((x: any) => x.name === 'order_update')
  t.same(
    order.bodyParams.map((x: any) => x.name),
    ['1', '2', '3'],
  )
  t.same(order.buttons, ['Track my order', 'Talk to someone'])
  t.same(
    templates.find((x: any) => x.name === 'follow_up').bodyParams.map((x: any) => x.name),
    ['first_name', 'topic'],
  )

  const wrongCount = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'w-2',
    template: { name: 'order_update', language: 'en', bodyParams: ['Carla'] },
  })
  t.equal(wrongCount.status, 422)
  t.equal(wrongCount.body.error.code, 'TEMPLATE_PARAMETERS')
  const unknown = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'w-3',
    template: { name: 'spring_sale', language: 'en' },
  })
  t.equal(unknown.body.error.code, 'TEMPLATE_NOT_FOUND', 'a template still pending approval cannot be sent')

  const sent = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'w-4',
    template: { name: 'order_update', language: 'en', bodyParams: ['Carla', '#1042', 'Friday'] },
  })
  t.equal(sent.status, 202)
  t.equal(sent.body.message.type, 'template')
  t.equal(sent.body.message.text, 'Hi Carla, your order #1042 has shipped and should arrive by Friday.')
  const named = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'w-5',
    template: { name: 'follow_up', language: 'en', bodyParams: { first_name: 'Carla', topic: 'Sundays' } },
  })
  t.equal(named.status, 202)
  await until(async () => {
    const out = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
    return out.length === 2 && out.every((m) => m.status === 'delivered')
  }, 'both templates delivered')
  const atCustomer = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out').map((m) => m.text)
  t.same(atCustomer, [
    'Hi Carla, your order #1042 has shipped and should arrive by Friday.',
    'Hi Carla, we have an answer to your question about Sundays. Reply to this message to continue.',
  ])
})

t.test('Meta’s own window check: accepted, then failed with 131047 and a plain reason', async (t) => {
  const p = await startPair(t)
  // The emulator knows Dana but never saw her write; Parley got a (forged but signed)
  // fresh message, so Parley's window is open while Meta's is not.
  await p.emu.customer('Dana', CUSTOMER)
  const { textWebhook } = await import('./helpers/wa.ts')
  t.equal((await p.parley.webhook(textWebhook(CUSTOMER, 'Dana', 'hi').payload)).status, 200)
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  const res = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Hello Dana', clientMessageId: 'm-1' })
  t.equal(res.status, 202)
  const failed = await until(async () => {
    const msgs = (await p.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
    return msgs.find((m) => m.id === res.body.message.id && m.status === 'failed')
  }, 'failed status')
  t.match(failed.providerMessageId, /^wamid\./, 'Meta accepted it first')
  t.equal(failed.error?.code, 131047)
  t.match(failed.error?.detail, /24 hours/)
  t.equal((await p.emu.stats()).sendRequests, 1, 'permanent: one attempt')
})

t.test('quoted replies and reactions, both ways', async (t) => {
  const p = await startPair(t)
  const conv = await conversationWith(p)
  const history = async () => (await p.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
  const inbound = (await history())[0]!

  const quote = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    text: 'About that order: it left this morning.',
    clientMessageId: 'q-1',
    replyToMessageId: inbound.id,
  })
  t.equal(quote.status, 202)
  t.equal(quote.body.message.replyToMessageId, inbound.id)
  const react = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    type: 'reaction',
    clientMessageId: 'r-1',
    reaction: { messageId: inbound.id, emoji: '👍' },
  })
  t.equal(react.status, 202)
  const out = await until(async () => {
    const o = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
    return o.length === 2 && o.every((m) => m.status === 'sent' || m.status === 'delivered') ? o : undefined
  }, 'both at the customer')
  t.equal(out[0]!.contextId, inbound.providerMessageId, 'the customer sees the quote')
  t.same(out[1]!.reaction, { messageId: inbound.providerMessageId, emoji: '👍' })
  t.same((await history()).find((m) => m.id === inbound.id)!.reactions, { business: '👍' })
  const reactionMsg = await until(
    async () => (await history()).find((m) => m.id === react.body.message.id && m.status === 'sent'),
    'reaction sent',
  )
  t.equal(reactionMsg.deliveredAt, null, 'a reaction gets only a sent status')

  // The customer quotes the business's reply, then reacts to it.
  const business = out[0]!
  await p.emu.say(CUSTOMER, 'Great, thanks!', { contextId: business.id })
  await p.emu.send(CUSTOMER, { type: 'reaction', reaction: { messageId: business.id, emoji: '❤️' } })
  const after = await history()
  const mine = after.find((m) => m.providerMessageId === business.id)!
  const theirs = after.find((m) => m.text === 'Great, thanks!')!
  t.equal(theirs.replyToMessageId, mine.id, 'the inbound reply points at the business message')
  t.same(Object.values(mine.reactions ?? {}), ['❤️'])

  // Quoting something WhatsApp never had is refused.
  const bad = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    text: 'x',
    clientMessageId: 'q-2',
    replyToMessageId: 999999,
  })
  t.equal(bad.status, 422)
  t.equal(bad.body.error.code, 'REPLY_TARGET_INVALID')
})

t.test('requests that cannot be sent are refused with named codes', async (t) => {
  const p = await startPair(t)
  const conv = await conversationWith(p)
  const post = (body: unknown) => p.call('POST', `/api/conversations/${conv.id}/messages`, body)
  t.equal((await post({ text: '   ', clientMessageId: 'e-1' })).body.error.code, 'INVALID_MESSAGE')
  t.equal((await post({ text: 'x'.repeat(4097), clientMessageId: 'e-2' })).body.error.code, 'INVALID_MESSAGE')
  t.equal((await post({ text: 'no id' })).body.error.code, 'VALIDATION_FAILED')
  t.equal((await p.call('POST', '/api/conversations/9999/messages', { text: 'x', clientMessageId: 'e-3' })).status, 404)
  const anon = await fetch(`${p.parley.url}/api/conversations/${conv.id}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'x', clientMessageId: 'e-4' }),
  })
  t.equal(anon.status, 401)
  t.equal((await p.emu.stats()).sendRequests, 0)
})

t.test('templates for a conversation’s number; values as a list fill named parameters in order', async (t) => {
  const p = await startPair(t)
  const conv = await conversationWith(p)
  const listed = await p.call('GET', `/api/templates?conversationId=${conv.id}`)
  t.equal(listed.status, 200)
  t.equal(listed.body.templates.length, 4)
  t.equal((await p.call('GET', '/api/templates?conversationId=9999')).status, 404)
  const res = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'n-1',
    template: { name: 'follow_up', language: 'en', bodyParams: ['Maria', 'your parcel'], headerParams: [] },
  })
  t.equal(res.status, 202)
  t.equal(res.body.message.text, 'Hi Maria, we have an answer to your question about your parcel. Reply to this message to continue.')
  await until(async () => (await p.emu.messages(CUSTOMER)).find((m) => m.type === 'template' && m.status === 'delivered'), 'delivered')
})

t.test(
  'opening a conversation marks the customer’s messages read on WhatsApp — once per unread batch, and only when enabled',
  async (t) => {
    const p = await startPair(t)
    const conv = await conversationWith(p)
    const open = () => p.call('POST', `/api/conversations/${conv.id}/read`)
    t.equal((await open()).status, 200)
    await until(async () => (await p.emu.stats()).markReads === 1, 'marked read at Meta')
    t.equal((await p.emu.messages(CUSTOMER))[0]!.readByBusiness, true, 'blue ticks on the customer’s phone')
    await open() // nothing unread any more: no call
    await p.emu.say(CUSTOMER, 'Also, can I change the address?')
    await open()
    await until(async () => (await p.emu.stats()).markReads === 2, 'the new message marked read')
    const reply = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Sure', clientMessageId: 'mr-1' })
    await until(async () => (await p.emu.messages(CUSTOMER)).find((m) => m.text === 'Sure' && m.status === 'delivered'), 'reply delivered')
    t.equal(reply.status, 202)
    t.equal((await p.emu.stats()).markReads, 2, 'one call per batch of unread messages')

    const off = await startPair(t, { env: { WHATSAPP_MARK_READ: 'false' } })
    const c2 = await conversationWith(off)
    await off.call('POST', `/api/conversations/${c2.id}/read`)
    await off.call('POST', `/api/conversations/${c2.id}/messages`, { text: 'Hello', clientMessageId: 'mr-2' })
    await until(async () => (await off.emu.messages(CUSTOMER)).find((m) => m.text === 'Hello' && m.status === 'delivered'), 'delivered')
    t.equal((await off.emu.stats()).markReads, 0, 'WHATSAPP_MARK_READ=false: never')
  },
)
