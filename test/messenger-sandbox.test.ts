// The sandbox plays Messenger too: the emulator answers the Send API as Meta does and
// sends signed echoes and delivery/read watermarks to Parley's real /webhooks/messenger;
// simulated users write through the same route. Real HTTP, real SQLite, a real SSE
// stream; nothing of Parley replaced.
import t from 'tap'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import { agentPage, ensureWebBuild, launchBrowser, watchPage, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'
import { plainReason } from '../src/domain/sending/meta-errors.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'

const DAY = 24 * 3600_000

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const sandbox = startMessengerSandbox

t.test("an agent's reply: one send, the echo not duplicated, delivered by watermark, read by watermark, live", async (t) => {
  // Every delivery watermark without mids: the watermark alone must settle it.
  const sb = await sandbox(t, { SANDBOX_MESSENGER_NO_MIDS_RATE: '1' })
  const stream = await connectSse(`${sb.s.url}/stream`, { token: sb.token })
  t.teardown(() => stream.close())

  const { psid, conv } = await sb.chat('Lena', 'Bonjour, ça marche ? @shop / 50%')
  const inbound = (await sb.messages(conv.id))[0]!
  t.equal(inbound.text, 'Bonjour, ça marche ? @shop / 50%', 'escaped and signed as Meta does, verified by the real route')

  const sent = await sb.reply(conv.id, 'Oui, tout va bien.')
  t.equal(sent.status, 202)
  const id = sent.body.message.id as number
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
  const all = await sb.messages(conv.id)
  t.equal(all.length, 2, 'the echo of our own send did not become a second message')
  const out = all.find((m) => m.id === id)!
  const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
  t.equal(sim.length, 1)
  t.equal(out.providerMessageId, sim[0].mid, 'the mid from the Send API answer')
  t.match(sim[0], { messagingType: 'RESPONSE', tag: null, metadata: `parley:${id}` })

  t.equal((await sb.call('POST', `/api/sandbox/messenger/users/${psid}/read`)).body.read, 1)
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'read'), 'read')

  await stream.waitFor((evs) =>
    evs.some((e) => e.event === 'message.updated' && JSON.parse(e.data).message.id === id && JSON.parse(e.data).message.status === 'read'),
  )
  const statuses = stream
    .data<{ message: MessageDTO }>('message.updated')
    .filter((d) => d.message.id === id)
    .map((d) => d.message.status)
  t.ok(
    statuses.includes('sent') && statuses.includes('delivered') && statuses.includes('read'),
    `every tick on the stream: ${statuses.join(',')}`,
  )
  t.same(
    statuses.filter((x, i) => x !== statuses[i - 1]),
    ['sending', 'sent', 'delivered', 'read'].filter((x) => statuses.includes(x)),
    'ticks only move forward',
  )
  const stats = await sb.stats()
  t.equal(stats.acceptedByMetadata[`parley:${id}`], 1)
  t.equal(rawKept(sb.s), 0, 'every emulator payload parsed')
})

function rawKept(s: { db: { $client: { prepare(sql: string): { get(): unknown } } } }): number {
  return (s.db.$client.prepare('SELECT count(*) AS n FROM raw_webhooks').get() as { n: number }).n
}

t.test('three days after the last message: sent with the HUMAN_AGENT tag and accepted', async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Omar', 'Is my order coming?', Date.now() - 3 * DAY)
  const sent = await sb.reply(conv.id, 'Sorry for the wait: it ships today.')
  t.equal(sent.status, 202)
  const id = sent.body.message.id as number
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
  const sim = (await sb.atUser(psid)).filter((m) => m.direction === 'out')
  t.match(sim, [{ messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', text: 'Sorry for the wait: it ships today.' }])
  t.same((await sb.stats()).rejected, {})
})

t.test("the emulator's window refusal (code 10) ends as a failed message in Messenger's words", async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Ines', 'Hello?')
  // Meta's clock says otherwise: the user last wrote 8 days ago.
  t.equal((await sb.call('PATCH', `/api/sandbox/messenger/users/${psid}`, { lastInboundAt: Date.now() - 8 * DAY })).status, 200)
  const sent = await sb.reply(conv.id, 'Still there?')
  t.equal(sent.status, 202)
  const id = sent.body.message.id as number
  const failed = await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'failed'), 'failed')
  t.equal(failed.error?.code, 10)
  t.match(JSON.stringify(failed.error), plainReason(10, null, 'messenger'))
  t.same((await sb.stats()).rejected, { 10: 1 })
  t.equal((await sb.atUser(psid)).filter((m) => m.direction === 'out').length, 0, 'nothing reached the user')

  // The refusal as Meta words it, straight from the emulator.
  const page = (await sb.call('GET', '/api/sandbox/messenger')).body.pages[0].pageId as string
  const token = sb.s.app.services.secrets.open(
    (sb.s.db.$client.prepare(`SELECT access_token AS t FROM channels WHERE kind = 'messenger'`).get() as { t: string }).t,
  )
  const res = await fetch(`${sb.s.url}/sandbox/graph/v23.0/${page}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text: 'x' } }),
  })
  t.equal(res.status, 400)
  t.match(await res.json(), {
    error: {
      message: /^\(#10\) This message is sent outside of allowed window/,
      type: 'OAuthException',
      code: 10,
      error_subcode: 2018278,
      fbtrace_id: String,
    },
  })
  const bad = await fetch(`${sb.s.url}/sandbox/graph/v23.0/${page}/messages`, {
    method: 'POST',
    headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
    body: JSON.stringify({ recipient: { id: psid }, messaging_type: 'RESPONSE', message: { text: 'x' } }),
  })
  t.match(await bad.json(), { error: { code: 190, type: 'OAuthException' } })
})

t.test("a Messenger user's every kind of message arrives in the inbox", async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Kai', 'Hi there')
  t.equal(conv.channelKind, 'messenger')
  const sent = await sb.reply(conv.id, 'Hi Kai! What can we do for you?')
  const pageMsgId = sent.body.message.id as number
  const pageMsg = await until(async () => (await sb.messages(conv.id)).find((m) => m.id === pageMsgId && m.providerMessageId), 'sent')

  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
  await sb.say(psid, { type: 'image', data: png, mimeType: 'image/png' })
  await sb.say(psid, { type: 'quick_reply', text: 'Track my order', payload: 'TRACK' })
  await sb.say(psid, { type: 'reply', text: 'About this:', mid: pageMsg.providerMessageId })
  await sb.say(psid, { type: 'postback', title: 'Talk to someone', payload: 'HUMAN' })
  await sb.say(psid, { type: 'reaction', emoji: '❤', mid: pageMsg.providerMessageId })
  const reacted = (await sb.messages(conv.id)).find((m) => m.id === pageMsgId)!
  t.same(Object.values(reacted.reactions ?? {}), ['❤'], 'the reaction lands on the Page message')
  await sb.say(psid, { type: 'unreaction', mid: pageMsg.providerMessageId })
  t.same((await sb.messages(conv.id)).find((m) => m.id === pageMsgId)!.reactions ?? {}, {}, 'and is removed')

  const inbound = (await sb.messages(conv.id)).filter((m) => m.direction === 'in')
  t.equal(inbound.length, 5, 'text, image, quick reply, reply, postback')
  const [, image, quick, replyTo, postback] = inbound
  t.equal(image!.type, 'image')
  const url = String((image!.media as { url: string }).url)
  const bytes = await fetch(url)
  t.equal(bytes.status, 200, 'the attachment URL serves the image')
  t.equal(bytes.headers.get('content-type'), 'image/png')
  t.match(quick, { text: 'Track my order', data: { quickReply: 'TRACK' } })
  t.match(replyTo, { text: 'About this:', replyToMessageId: pageMsgId })
  t.match(postback, { type: 'postback', text: 'Talk to someone', data: { payload: 'HUMAN' } })
  t.equal(rawKept(sb.s), 0, 'nothing kept raw')
  const convs = (await sb.call('GET', '/api/conversations?status=all')).body.conversations as ConversationDTO[]
  t.equal(convs.filter((c) => c.channelKind === 'messenger').length, 1, 'one Messenger conversation')
})

t.test('a retried POST with the same clientMessageId: the emulator counts exactly one send', async (t) => {
  const sb = await sandbox(t)
  const { psid, conv } = await sb.chat('Ada', 'Ping')
  const before = (await sb.stats()).sendRequests
  const [a, b] = await Promise.all([sb.reply(conv.id, 'Pong', 'same-1'), sb.reply(conv.id, 'Pong', 'same-1')])
  const c = await sb.reply(conv.id, 'Pong', 'same-1')
  t.equal(a.body.message.id, b.body.message.id)
  t.equal(a.body.message.id, c.body.message.id)
  const id = a.body.message.id as number
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
  const stats = await sb.stats()
  t.equal(stats.sendRequests - before, 1, 'one Send API call')
  t.same(stats.acceptedByMetadata, { [`parley:${id}`]: 1 })
  t.equal((await sb.atUser(psid)).filter((m) => m.direction === 'out').length, 1)
})

t.test("the simulator page plays a Messenger user in Chromium, the Page's replies live with their ticks", async (t) => {
  await ensureWebBuild()
  const sb = await sandbox(t)
  const browser = await launchBrowser(t)
  const { context } = await agentPage(t, browser, sb.s.url)
  const sim = await context.newPage()
  watchPage(t, sim, 'simulator')
  await sim.goto(`${sb.s.url}/sandbox`)
  await sim.click('button:has-text("Messenger user")')
  await sim.fill('input[aria-label="Messenger user name"]', 'Noor')
  await sim.click('button:has-text("Add Messenger user")')
  await sim.waitForSelector('.chat-head h2:has-text("Noor")')
  const psid = (await sb.call('GET', '/api/sandbox/messenger/users')).body.users[0].psid as string

  await sim.fill('textarea[aria-label=Message]', 'Hello Page')
  await sim.keyboard.press('Enter')
  const conv = await until(async () => sb.conversationOf(psid).catch(() => undefined), 'Messenger conversation in Parley')
  const sent = await sb.reply(conv.id, 'Hello Noor, how can we help?')
  const id = sent.body.message.id as number
  // The open chat "sees" it: a read watermark, blue ticks in Parley and on the page.
  await sim.waitForSelector('.msg.theirs:has-text("how can we help") .status.read', { timeout: LIVE_MS })
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'read'), 'read in Parley')

  await sim.click('.buttons button:has-text("Track my order")')
  await sim.click('.buttons button:has-text("Talk to someone")')
  const msg = sim.locator('.msg.theirs', { hasText: 'how can we help' })
  await msg.hover()
  await msg.locator('button[aria-label=React]').click()
  await msg.locator('button[aria-label="React ❤"]').click()
  await until(
    async () => Object.values((await sb.messages(conv.id)).find((m) => m.id === id)?.reactions ?? {}).includes('❤'),
    'reaction in Parley',
  )
  await msg.hover()
  await msg.locator('button[aria-label="Reply to this message"]').click()
  await sim.fill('textarea[aria-label=Message]', 'About that')
  await sim.keyboard.press('Enter')
  const all = await until(async () => {
    const ms = await sb.messages(conv.id)
    return ms.some((m) => m.text === 'About that') ? ms : undefined
  }, 'quoted reply in Parley')
  t.match(
    all.find((m) => m.text === 'Track my order'),
    { data: { quickReply: 'TRACK_ORDER' } },
  )
  t.match(
    all.find((m) => m.type === 'postback'),
    { text: 'Talk to someone', data: { payload: 'HUMAN_AGENT' } },
  )
  t.equal(all.find((m) => m.text === 'About that')!.replyToMessageId, id)
})
