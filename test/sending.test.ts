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

const statusesOf = (events: { message: MessageDTO }[], id: number) =>
  events.filter((e) => e.message.id === id).map((e) => e.message.status)

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
  t.same(seq.filter((s, i) => s !== seq[i - 1]), ['sending', 'sent', 'delivered', 'read'], 'every transition, in order')

  const final = updated().filter((e) => e.message.id === msg.id).at(-1)!.message
  t.match(final.providerMessageId, /^wamid\./)
  t.ok(final.sentAt && final.deliveredAt && final.readAt, 'each step has its time')

  const atCustomer = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
  t.equal(atCustomer.length, 1)
  t.equal(atCustomer[0]!.text, 'Yes! It ships today.')
  t.equal(atCustomer[0]!.id, final.providerMessageId)
  t.equal(atCustomer[0]!.status, 'read')
})
