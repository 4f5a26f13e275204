// ConversationDTO.lastMessageStatus / lastMessageError (issue 5: "a failed send" in the
// list preview), over real HTTP: a customer writes, an agent answers through the real
// outbox and the sandbox's Graph emulator, and Meta's failed status webhook arrives.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): its sends go to the sandbox's Graph emulator, and it seeds with SQLite's synchronous runNow.
import t from 'tap'
import { startServer, type TestServer } from './helpers/server.ts'
import { status, statusWebhook, textWebhook } from './helpers/wa.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'
import { plainReason } from '../src/domain/sending/meta-errors.ts'

const CUSTOMER = '4915100000901'

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function api(s: TestServer, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

t.test('the list and a single conversation carry the last message status, and why it failed', async (t) => {
  // The emulator stays silent (its first status would come in 10 minutes): the test
  // plays Meta's status webhooks itself.
  const s = await startServer(t, { sqlite: true, env: { SANDBOX_SENT_DELAY_MS: '600000', SANDBOX_DELIVERED_DELAY_MS: '600000' } })
  const { token } = await s.login()
  t.equal((await s.webhook(textWebhook(CUSTOMER, 'Fiona', 'Where is my parcel?').payload)).status, 200)

  const list = async () => (await api(s, token, 'GET', '/api/conversations')).body.conversations as ConversationDTO[]
  const one = async (id: number) => (await api(s, token, 'GET', `/api/conversations/${id}`)).body.conversation as ConversationDTO
  const [conv] = await list()
  t.match(conv, { lastMessageDirection: 'in', lastMessageStatus: 'received', lastMessageError: null }, 'an inbound last message')

  const sent = await api(s, token, 'POST', `/api/conversations/${conv!.id}/messages`, { text: 'It left today.', clientMessageId: 'dto-1' })
  t.equal(sent.status, 202)
  const mine = sent.body.message as MessageDTO
  // Graph accepted it: the message has its wamid and is `sent`.
  const named = await until(async () => {
    const msgs = (await api(s, token, 'GET', `/api/conversations/${conv!.id}/messages`)).body.messages as MessageDTO[]
    return msgs.find((m) => m.id === mine.id && m.providerMessageId !== null && m.status === 'sent')
  }, 'the wamid')
  t.match(await one(conv!.id), { lastMessageId: mine.id, lastMessageStatus: 'sent', lastMessageError: null })

  const failed = statusWebhook(
    status(named.providerMessageId!, 'failed', CUSTOMER, {
      errors: [
        {
          code: 131026,
          title: 'Message undeliverable',
          message: 'Message undeliverable',
          error_data: { details: 'Unable to deliver message.' },
        },
      ],
    }),
  )
  t.equal((await s.webhook(failed)).status, 200)
  const after = await until(async () => {
    const c = await one(conv!.id)
    return c.lastMessageStatus === 'failed' && c
  }, 'the failure')
  t.equal(after.lastMessageError, plainReason(131026), 'the plain-language reason, as the bubble words it')
  const listed = (await list()).find((c) => c.id === conv!.id)!
  t.match(listed, { lastMessageStatus: 'failed', lastMessageError: plainReason(131026) }, 'the list says the same')

  // The customer writes again: the last message is theirs, the failure leaves the preview.
  t.equal((await s.webhook(textWebhook(CUSTOMER, 'Fiona', 'Hello?').payload)).status, 200)
  t.match(await one(conv!.id), { lastMessageDirection: 'in', lastMessageStatus: 'received', lastMessageError: null })
})

t.test('a conversation without messages has no last status (the left join)', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const { token } = await s.login()
  const ws = await s.app.services.auth.defaultWorkspace()
  const store = s.app.services.store
  // A conversation opened without a message yet (as a campaign recipient's is).
  const contact = store.runNow(store.contacts.upsertContact(ws, 'whatsapp', '4915100000902', 'Gus', '4915100000902', Date.now()))
  const conv = store.runNow(store.conversations.findOrOpenConversation(ws, 1, contact.id, Date.now()))
  const c = (await api(s, token, 'GET', `/api/conversations/${conv.id}`)).body.conversation as ConversationDTO
  t.match(c, { lastMessageId: null, lastMessageStatus: null, lastMessageError: null })
  const listed = ((await api(s, token, 'GET', '/api/conversations')).body.conversations as ConversationDTO[]).find((x) => x.id === conv.id)
  t.match(listed, { lastMessageId: null, lastMessageStatus: null, lastMessageError: null })
})
