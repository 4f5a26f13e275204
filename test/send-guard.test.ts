// Issue 14 over real HTTP: the send guard (a reply names the newest message its agent
// had on screen; when the customer or a colleague wrote since, 409 CONVERSATION_CHANGED
// with what came, and nothing reaches Meta's emulator) and only-the-assignee-replies
// (a channel option, off by default, set by admins).
import t from 'tap'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import { apiCall, startServer, type ApiCall, type TestLike } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { echo } from './helpers/coexistence.ts'
import { PAGE_ID, item, mid, pageWebhook, postMessenger } from './helpers/ms.ts'
import { APP_SECRET } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

const CUSTOMER = '15550001111'
const PASSWORD = 'agent password 123'

async function agentOf(p: { parley: Pair['parley'] }, name: string): Promise<{ id: number; call: ApiCall }> {
  const services = p.parley.app.services
  const ws = await services.auth.defaultWorkspace()
  const email = `${name.toLowerCase()}@example.com`
  const user = await services.auth.createUser({ workspaceId: ws, email, name, password: PASSWORD, role: 'agent' })
  await setMembers(services, user.id, await channelIdsOf(services, ws))
  const { token } = await p.parley.login({ email, password: PASSWORD })
  return { id: user.id, call: apiCall(p.parley.url, token) }
}

/** A customer who wrote; the conversation and the newest message id on screen. */
async function setUp(t: TestLike) {
  const p = await startPair(t)
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.say(CUSTOMER, 'Hello, is my order on its way?')
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0].id as number
  const newest = async () =>
    Math.max(...((await p.call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).map((m) => m.id))
  const ben = await agentOf(p, 'Ben')
  let n = 0
  const send = (call: ApiCall, body: Record<string, unknown>) =>
    call('POST', `/api/conversations/${conv}/messages`, { clientMessageId: `c-${++n}`, ...body })
  const stored = async () => (await p.parley.sql.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE direction = 'out'"))!.n
  /** What the emulator received from Parley for this customer. */
  const atCustomer = async () => (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out').map((m) => m.text)
  return { p, conv, newest, ben, send, stored, atCustomer }
}

t.test('409 CONVERSATION_CHANGED when the customer wrote since; nothing is sent; force sends', async (t) => {
  const { p, conv, newest, send, stored, atCustomer } = await setUp(t)
  const seen = await newest()
  const ok = await send(p.call, { text: 'Yes, it ships today.', seenMessageId: seen })
  t.equal(ok.status, 202, 'nothing new since: sent')
  await until(async () => (await atCustomer()).includes('Yes, it ships today.'), 'the first reply at the emulator')
  const sendsBefore = (await p.emu.stats()).sendRequests

  await p.emu.say(CUSTOMER, 'Actually, can I change the address?')
  const before = await stored()
  const held = await send(p.call, { text: 'Anything else?', seenMessageId: seen })
  t.equal(held.status, 409)
  t.equal(held.body.error.code, 'CONVERSATION_CHANGED')
  t.match(held.body.error.message, /^The customer wrote since you last looked/)
  t.same(
    held.body.newer.map((m: MessageDTO) => [m.direction, m.text]),
    [['in', 'Actually, can I change the address?']],
    'newer: only what matters (not my own reply)',
  )
  t.equal(await stored(), before, 'nothing stored')

  // Held by the newest message id instead: nothing new, it goes.
  const forced = await send(p.call, { text: 'Of course: which one?', seenMessageId: seen, force: true })
  t.equal(forced.status, 202, 'force: true is "send anyway"')
  await until(async () => (await atCustomer()).includes('Of course: which one?'), 'the forced reply at the emulator')
  t.same(await atCustomer(), ['Yes, it ships today.', 'Of course: which one?'], 'the held reply never reached the emulator')
  t.equal((await p.emu.stats()).sendRequests, sendsBefore + 1, 'one send request: the forced one')

  // Without seenMessageId nothing is checked (clients that predate the guard).
  t.equal((await send(p.call, { text: 'Plain' })).status, 202)
  void conv
})

t.test('a colleague’s reply and a phone-app echo hold the reply; own messages, system lines, reactions and statuses do not', async (t) => {
  const { p, conv, newest, ben, send, atCustomer } = await setUp(t)
  const seen = await newest()

  // My own reply, its statuses (sent, delivered), an activity line (assignment) and
  // reactions (mine and the customer's) come after `seen`: none of them holds my next reply.
  const mine = await send(p.call, { text: 'First answer', seenMessageId: seen })
  t.equal(mine.status, 202)
  const first = mine.body.message as MessageDTO
  await until(async () => (await atCustomer()).includes('First answer'), 'my reply at the emulator')
  const wamid = await until(async () => {
    const m = ((await p.call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).find((x) => x.id === first.id)
    return m?.status === 'delivered' && m.providerMessageId
  }, 'the delivered status')
  const me = (await p.call('GET', '/api/me')).body.user.id as number
  t.equal((await p.call('POST', `/api/conversations/${conv}/assign`, { userId: me })).status, 200, 'a system line')
  const inbound = ((await p.call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).find(
    (m) => m.direction === 'in',
  )!
  t.equal((await send(p.call, { type: 'reaction', reaction: { messageId: inbound.id, emoji: '👍' } })).status, 202, 'my reaction')
  await p.emu.send(CUSTOMER, { type: 'reaction', reaction: { messageId: wamid, emoji: '❤️' } })
  await until(async () => {
    const m = ((await p.call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).find((x) => x.id === first.id)
    return m?.reactions && Object.values(m.reactions).includes('❤️')
  }, 'the customer’s reaction')
  const still = await send(p.call, { text: 'Second answer', seenMessageId: seen })
  t.equal(still.status, 202, 'own messages, statuses, system lines and reactions do not hold a reply')

  // Ben replies; I had not seen it.
  const seen2 = await newest()
  const bens = await send(ben.call, { text: 'Ben here: it left the warehouse.', seenMessageId: seen2 })
  t.equal(bens.status, 202)
  const held = await send(p.call, { text: 'Third answer', seenMessageId: seen2 })
  t.equal(held.status, 409)
  t.equal(held.body.error.code, 'CONVERSATION_CHANGED')
  t.match(held.body.error.message, /^Ben replied since you last looked/)
  t.same(
    held.body.newer.map((m: MessageDTO) => m.text),
    ['Ben here: it left the warehouse.'],
  )
  t.same(held.body.senders, { [ben.id]: 'Ben' }, 'the senders’ names, for "Ben replied"')
  // Ben himself is not held by his own reply.
  t.equal((await send(ben.call, { text: 'Ben again', seenMessageId: seen2 })).status, 202)

  // Notes: a colleague's holds the reply, one's own does not.
  const seenN = await newest()
  t.equal((await p.call('POST', `/api/conversations/${conv}/notes`, { text: 'my own note' })).status, 201)
  t.equal((await send(p.call, { text: 'After my note', seenMessageId: seenN })).status, 202, 'my own note: not held')
  const seenM = await newest()
  t.equal((await ben.call('POST', `/api/conversations/${conv}/notes`, { text: 'careful: VIP customer' })).status, 201)
  const byNote = await send(p.call, { text: 'After Ben’s note', seenMessageId: seenM })
  t.equal(byNote.status, 409)
  t.match(byNote.body.error.message, /^Ben added a note/)
  t.same(
    byNote.body.newer.map((m: MessageDTO) => [m.type, m.text]),
    [['note', 'careful: VIP customer']],
  )

  // The business wrote from the phone app (coexistence echo): that matters too.
  const seen3 = await newest()
  t.equal((await p.parley.webhook(echo(CUSTOMER, 'Sent from the phone'))).status, 200)
  await until(async () => (await newest()) > seen3, 'the echo stored')
  const byPhone = await send(p.call, { text: 'Fourth', seenMessageId: seen3 })
  t.equal(byPhone.status, 409)
  t.match(byPhone.body.error.message, /^A reply was sent from outside Parley/)
  t.same(
    byPhone.body.newer.map((m: MessageDTO) => m.text),
    ['Sent from the phone'],
  )
})

t.test('idempotency wins: a retried POST that was stored replays, whatever came since', async (t) => {
  const { p, newest, ben, stored } = await setUp(t)
  const seen = await newest()
  const body = { clientMessageId: 'retry-1', text: 'Once only', seenMessageId: seen }
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0].id as number
  const first = await p.call('POST', `/api/conversations/${conv}/messages`, body)
  t.equal(first.status, 202)
  t.equal((await ben.call('POST', `/api/conversations/${conv}/messages`, { clientMessageId: 'b-1', text: 'Ben' })).status, 202)
  await p.emu.say(CUSTOMER, 'and another thing')
  const count = await stored()
  const again = await p.call('POST', `/api/conversations/${conv}/messages`, body)
  t.equal(again.status, 202, 'the retry replays')
  t.equal(again.body.message.id, first.body.message.id, 'the same message')
  t.equal(await stored(), count, 'nothing new stored')
})

t.test('newer is capped at the 20 newest, oldest first', async (t) => {
  const { p, conv, newest } = await setUp(t)
  const seen = await newest()
  for (let i = 1; i <= 23; i++) {
    const res = await p.parley.webhook(textWebhook(CUSTOMER, 'Maria', `line ${i}`).payload)
    t.equal(res.status, 200)
  }
  const held = await p.call('POST', `/api/conversations/${conv}/messages`, { clientMessageId: 'cap', text: 'hi', seenMessageId: seen })
  t.equal(held.status, 409)
  t.equal(held.body.newer.length, 20)
  t.equal(held.body.newer[0].text, 'line 4')
  t.equal(held.body.newer.at(-1).text, 'line 23', 'the newest last')
})

t.test('templates are held by the same rule', async (t) => {
  const { p, conv, newest } = await setUp(t)
  const seen = await newest()
  await p.emu.say(CUSTOMER, 'hello?')
  const tpl = (await p.call('GET', `/api/templates?conversationId=${conv}`)).body
  const first = (tpl.templates as { name: string; language: string; bodyParams: unknown[]; sendable: boolean }[]).find(
    (x) => x.sendable && x.bodyParams.length === 0,
  )
  if (!first) throw new Error('the emulator has no template without parameters')
  const held = await p.call('POST', `/api/conversations/${conv}/messages`, {
    clientMessageId: 'tpl-1',
    template: { name: first.name, language: first.language },
    seenMessageId: seen,
  })
  t.equal(held.status, 409)
  t.equal(held.body.error.code, 'CONVERSATION_CHANGED')
})

t.test('Messenger: the same guard', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  t.equal(
    (await call('POST', '/api/channels', { kind: 'messenger', externalId: PAGE_ID, name: 'Page', accessToken: 'EAAPAGE' })).status,
    201,
  )
  const psid = '7000000000000999'
  await postMessenger(s.url, pageWebhook(item(psid, { message: { mid: mid(), text: 'hi page' } })), APP_SECRET)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0].id as number
  const seen = Math.max(...((await call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).map((m) => m.id))
  await postMessenger(s.url, pageWebhook(item(psid, { message: { mid: mid(), text: 'are you there?' } })), APP_SECRET)
  const held = await call('POST', `/api/conversations/${conv}/messages`, { clientMessageId: 'ms-1', text: 'yes', seenMessageId: seen })
  t.equal(held.status, 409)
  t.same(
    held.body.newer.map((m: MessageDTO) => m.text),
    ['are you there?'],
  )
  const ok = await call('POST', `/api/conversations/${conv}/messages`, {
    clientMessageId: 'ms-2',
    text: 'yes',
    seenMessageId: held.body.newer[0].id,
  })
  t.equal(ok.status, 202, 'having seen it, the reply goes')
})

t.test('only the assignee replies: off by default, admins toggle it, agents cannot', async (t) => {
  const s = await startServer(t)
  const admin = await s.login()
  const call = apiCall(s.url, admin.token)
  const services = s.app.services
  const ws = await services.auth.defaultWorkspace()
  const channel = (await call('GET', '/api/channels')).body.channels[0]
  t.equal(channel.assigneeOnly, false, 'off by default')
  const agent = async (name: string) => {
    const email = `${name.toLowerCase()}@example.com`
    const user = await services.auth.createUser({ workspaceId: ws, email, name, password: PASSWORD, role: 'agent' })
    await setMembers(services, user.id, [channel.id])
    const token = (await s.login({ email, password: PASSWORD })).token
    return { id: user.id, token, call: apiCall(s.url, token) }
  }
  const ben = await agent('Ben')
  const cy = await agent('Cy')
  // Ben's open page hears the switch live (the composer's hint), without a reload.
  const benStream = await connectSse(`${s.url}/stream`, { token: ben.token })
  t.teardown(() => benStream.close())
  t.equal((await s.webhook(textWebhook(CUSTOMER, 'Maria', 'hello').payload)).status, 200)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0].id as number
  let n = 0
  const send = (who: ApiCall, body: Record<string, unknown> = { text: 'a reply' }) =>
    who('POST', `/api/conversations/${conv}/messages`, { clientMessageId: `a-${++n}`, ...body })
  const stored = async () => (await s.sql.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE direction = 'out'"))!.n

  t.equal((await send(ben.call)).status, 202, 'off: anyone replies')

  const refused = await ben.call('PATCH', `/api/channels/${channel.id}`, { assigneeOnly: true })
  t.equal(refused.status, 403, 'an agent cannot change it')
  t.equal((await call('GET', '/api/channels')).body.channels[0].assigneeOnly, false)
  const on = await call('PATCH', `/api/channels/${channel.id}`, { assigneeOnly: true })
  t.equal(on.status, 200)
  t.equal(on.body.channel.assigneeOnly, true, 'the admin turns it on')
  t.equal((await ben.call('GET', '/api/channels')).body.channels[0].assigneeOnly, true, 'everyone sees it')
  await benStream.waitFor((evs) => evs.some((e) => e.event === 'channel.updated'))
  const heard = benStream.data<{ channel: { id: number; assigneeOnly: boolean } }>('channel.updated')[0]!
  t.same([heard.channel.id, heard.channel.assigneeOnly], [channel.id, true], 'and hears it live on its stream (channel.updated)')

  // Unassigned: nobody replies, the reason says what to do.
  const before = await stored()
  const unassigned = await send(ben.call)
  t.equal(unassigned.status, 403)
  t.equal(unassigned.body.error.code, 'ASSIGNEE_ONLY')
  t.match(unassigned.body.error.message, /Assign this conversation to yourself to reply/)
  t.equal(unassigned.body.assignee, null)
  t.equal((await send(call)).status, 403, 'admins are not exempt')
  t.equal(await stored(), before, 'nothing stored')

  // Cy is assigned: she replies; Ben is told who can.
  t.equal((await call('POST', `/api/conversations/${conv}/assign`, { userId: cy.id })).status, 200)
  t.equal((await send(cy.call)).status, 202, 'the assignee replies')
  const other = await send(ben.call)
  t.equal(other.status, 403)
  t.match(other.body.error.message, /^Only Cy, who is assigned, can reply/)
  t.same(other.body.assignee, { id: cy.id, name: 'Cy' })
  const inbound = ((await call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).find(
    (m) => m.direction === 'in',
  )!
  const reaction = await send(ben.call, { type: 'reaction', reaction: { messageId: inbound.id, emoji: '👍' } })
  t.equal(reaction.status, 403, 'a reaction is a reply')
  t.equal(
    (await ben.call('POST', `/api/conversations/${conv}/notes`, { text: 'a note is not a reply' })).status,
    201,
    'notes are never blocked',
  )

  // "Assign to me", then Ben replies (and Cy no longer can).
  t.equal((await ben.call('POST', `/api/conversations/${conv}/assign`, { userId: ben.id })).status, 200)
  t.equal((await send(ben.call)).status, 202, 'after assigning himself, Ben replies')
  t.equal((await send(cy.call)).status, 403)

  // Off again: anyone.
  t.equal((await call('PATCH', `/api/channels/${channel.id}`, { assigneeOnly: false })).body.channel.assigneeOnly, false)
  t.equal((await send(cy.call)).status, 202)
})
