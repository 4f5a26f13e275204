// The sandbox's window buttons (issue 11, point 4): the simulator moves the 24-hour window
// the way Meta's world does — by what the customer's messages say. "Wrote 25 h ago" is a
// message whose webhook carries a timestamp 25 hours old (as a late delivery does); Parley
// counts the window from the customer's newest message, so the inbox and the emulator
// agree, and the template-only composer (WhatsApp) and the HUMAN_AGENT follow-up
// (Messenger) can be shown from the sandbox. Real HTTP, real SQLite, a real SSE stream,
// real Chromium; the emulator in the sandbox-mode process is Meta.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): the sandbox is SQLite's only.
import t from 'tap'
import { apiCall, startServer, type TestLike } from './helpers/server.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import { agentPage, ensureWebBuild, launchBrowser, watchPage, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'
import type { ConversationDTO } from '../src/events/types.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const HOUR = 3600_000
const DAY = 24 * HOUR

async function whatsappSandbox(t: TestLike) {
  const s = await startServer(t, {
    sqlite: true,
    env: { WHATSAPP_PHONE_NUMBER_ID: '', SANDBOX_SENT_DELAY_MS: '20', SANDBOX_DELIVERED_DELAY_MS: '60' },
  })
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const customer = async (name: string) => {
    const r = await call('POST', '/api/sandbox/customers', { name })
    if (r.status !== 201) throw new Error(`customer: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.customer.phone as string
  }
  const say = async (phone: string, input: Record<string, unknown>) => {
    const r = await call('POST', `/api/sandbox/customers/${phone}/messages`, input)
    if (r.status !== 201 || r.body.delivered !== true) throw new Error(`say: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.message as { id: string; timestamp: number }
  }
  const conversationOf = async (phone: string) => {
    const convs = (await call('GET', '/api/conversations?status=all')).body.conversations as ConversationDTO[]
    return convs.find((c) => c.contact.externalId === phone)
  }
  const atCustomer = async (phone: string) => (await call('GET', `/api/sandbox/customers/${phone}/messages`)).body
  return { s, token, call, customer, say, conversationOf, atCustomer }
}

t.test('WhatsApp: a message dated 25 h ago closes the window in Parley, live, and free text is refused up front', async (t) => {
  const sb = await whatsappSandbox(t)
  const stream = await connectSse(`${sb.s.url}/stream`, { token: sb.token })
  t.teardown(() => stream.close())

  const phone = await sb.customer('Yusuf')
  const writtenAt = Date.now() - 25 * HOUR
  const m = await sb.say(phone, { type: 'text', text: 'Hello? (written 25 hours ago)', timestamp: writtenAt })
  t.equal(m.timestamp, writtenAt, 'the emulator keeps the date the customer wrote it')

  const conv = (await sb.conversationOf(phone))!
  t.ok(conv, 'the conversation is in the inbox')
  t.ok(conv.windowExpiresAt !== null && conv.windowExpiresAt <= Date.now(), 'Parley counts the window from the webhook: closed')
  t.equal(conv.windowExpiresAt, Math.floor(writtenAt / 1000) * 1000 + DAY, "24 h after the message's own (whole-second) timestamp")
  const history = (await sb.call('GET', `/api/conversations/${conv.id}/messages`)).body.messages
  t.equal(history[0].timestamp, Math.floor(writtenAt / 1000) * 1000)

  // The inbox learns it live: the conversation event carries the window it ticks from.
  const carries = (e: { event: string; data: string }) =>
    (e.event === 'message.created' || e.event === 'conversation.updated') &&
    (JSON.parse(e.data) as { conversation?: ConversationDTO }).conversation?.id === conv.id
  await stream.waitFor((evs) => evs.some(carries))
  const live = (JSON.parse(stream.events.filter(carries).at(-1)!.data) as { conversation: ConversationDTO }).conversation
  t.equal(live.windowExpiresAt, conv.windowExpiresAt, 'the live event carries windowExpiresAt')

  // Both sides agree: the simulator says closed, Parley refuses free text before queueing anything.
  t.equal((await sb.atCustomer(phone)).customer.windowOpen, false)
  const text = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Still there?', clientMessageId: 'w-1' })
  t.equal(text.status, 422)
  t.equal(text.body.error.code, 'WINDOW_CLOSED')
  const tpl = await sb.call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'w-2',
    template: { name: 'order_update', language: 'en', bodyParams: ['Yusuf', '#7', 'Monday'] },
  })
  t.equal(tpl.status, 202, 'a template goes through')
  await until(
    async () => (await sb.atCustomer(phone)).messages.find((x: { direction: string }) => x.direction === 'out'),
    'the template reached the customer',
  )
})

t.test('WhatsApp: a late message dated earlier never moves the window back, on either side', async (t) => {
  const sb = await whatsappSandbox(t)
  const phone = await sb.customer('Aiko')
  await sb.say(phone, { type: 'text', text: 'Hi, quick question' })
  await sb.say(phone, { type: 'text', text: 'written yesterday, delivered now', timestamp: Date.now() - 25 * HOUR })
  const conv = (await sb.conversationOf(phone))!
  t.ok(conv.windowExpiresAt! > Date.now() + 23 * HOUR, 'still counted from the newest message')
  const sim = await sb.atCustomer(phone)
  t.equal(sim.customer.windowOpen, true, 'the emulator agrees')
  t.same(
    sim.messages.map((m: { text: string }) => m.text),
    ['written yesterday, delivered now', 'Hi, quick question'],
    'the simulator shows them in the order written',
  )
  const text = await sb.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Sure, ask away', clientMessageId: 'a-1' })
  t.equal(text.status, 202)
  await until(
    async () =>
      (await sb.atCustomer(phone)).messages.find(
        (m: { direction: string; status: string }) => m.direction === 'out' && m.status !== 'failed',
      ),
    'accepted by the emulator',
  )
})

t.test('Messenger: "a day ago" is HUMAN_AGENT follow-up mode, "8 days ago" is closed', async (t) => {
  const sb = await startMessengerSandbox(t)
  const day = await sb.chat('Rhea', 'Hello? (written a day ago)', Date.now() - DAY - HOUR)
  t.ok(day.conv.windowExpiresAt! <= Date.now(), 'past the 24-hour window in Parley')
  t.ok(day.conv.windowExpiresAt! - DAY + 7 * DAY > Date.now(), 'inside the 7 days of the human-agent tag')
  const sent = await sb.reply(day.conv.id, 'Sorry for the wait!')
  t.equal(sent.status, 202)
  const out = await until(async () => (await sb.atUser(day.psid)).find((m) => m.direction === 'out'), 'reply at the user')
  t.match(out, { messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' }, 'sent as a human-agent follow-up, accepted by Meta')
  t.same((await sb.stats()).rejected, {})

  const week = await sb.chat('Tomas', 'Hello? (written 8 days ago)', Date.now() - 8 * DAY - HOUR)
  const users = (await sb.call('GET', '/api/sandbox/messenger/users')).body.users as { psid: string; humanAgentOpen: boolean }[]
  t.equal(users.find((u) => u.psid === week.psid)!.humanAgentOpen, false, 'the emulator says closed')
  const refused = await sb.reply(week.conv.id, 'Anyone there?')
  t.equal(refused.status, 422, 'Parley says closed too, before sending anything')
  t.equal(refused.body.error.code, 'MESSENGER_WINDOW_CLOSED')
  t.equal((await sb.atUser(week.psid)).filter((m) => m.direction === 'out').length, 0)
})

t.test(
  'Chromium: the simulator\'s buttons turn the inbox to "Template only" and follow-up mode live; the header names the channel',
  async (t) => {
    await ensureWebBuild()
    const s = await startServer(t, {
      sqlite: true,
      env: { WHATSAPP_PHONE_NUMBER_ID: '', SANDBOX_SENT_DELAY_MS: '20', SANDBOX_DELIVERED_DELAY_MS: '60' },
    })
    const browser = await launchBrowser(t)
    const { context, page } = await agentPage(t, browser, s.url)
    const sim = await context.newPage()
    watchPage(t, sim, 'simulator')
    await sim.goto(`${s.url}/sandbox`)
    await sim.waitForSelector('text=Customer simulator')
    t.match(await sim.locator('header.top').innerText(), /WhatsApp customers .* business number \+\d+/s, 'the WhatsApp tab names WhatsApp')

    await sim.fill('input[aria-label="Customer name"]', 'Dana')
    await sim.click('button:has-text("Add customer")')
    await sim.waitForSelector('.chat-head h2:has-text("Dana")')
    await sim.click('button:has-text("Wrote 25 h ago")')
    await sim.waitForSelector('.chat-head:has-text("window closed")', { timeout: LIVE_MS })

    // The inbox, open in the other tab all along: the row appears, already template-only.
    const row = page.locator('[role=option]', { hasText: 'Dana' })
    await row.locator('.win-template:has-text("Template only")').waitFor({ timeout: LIVE_MS })
    await row.click()
    await page.waitForSelector('form.composer.template', { timeout: LIVE_MS })

    // A customer who wrote just now keeps the window open; the simulator says why instead of pretending.
    await sim.fill('input[aria-label="Customer name"]', 'Eli')
    await sim.click('button:has-text("Add customer")')
    await sim.waitForSelector('.chat-head h2:has-text("Eli")')
    await sim.fill('textarea[aria-label=Message]', 'Hi there')
    await sim.keyboard.press('Enter')
    await page.locator('[role=option]', { hasText: 'Eli' }).locator('.win-open').waitFor({ timeout: LIVE_MS })
    await sim.waitForSelector('.chat-head:has-text("window open")', { timeout: LIVE_MS })
    await sim.click('button:has-text("Wrote 25 h ago")')
    await sim.waitForSelector('.flash:has-text("stays open")')
    t.equal(await page.locator('[role=option]', { hasText: 'Eli' }).locator('.win-open').count(), 1, 'still open in the inbox')

    // The Messenger tab: its header names Messenger and the Page, never WhatsApp.
    await sim.click('button:has-text("Messenger user")')
    await sim.waitForSelector('header.top:has-text("Messenger users")')
    const header = await sim.locator('header.top').innerText()
    t.match(header, /Facebook Page “Messenger sandbox”/)
    t.notMatch(header, /WhatsApp customers|business number/, 'no WhatsApp words on the Messenger tab')
    await sim.waitForSelector('header.top .live.on', { timeout: LIVE_MS })

    await sim.fill('input[aria-label="Messenger user name"]', 'Farah')
    await sim.click('button:has-text("Add Messenger user")')
    await sim.waitForSelector('.chat-head h2:has-text("Farah")')
    await sim.click('button:has-text("Wrote a day ago")')
    await page.locator('[role=option]', { hasText: 'Farah' }).locator('.win-human_agent').waitFor({ timeout: LIVE_MS })

    await sim.fill('input[aria-label="Messenger user name"]', 'Gus')
    await sim.click('button:has-text("Add Messenger user")')
    await sim.waitForSelector('.chat-head h2:has-text("Gus")')
    await sim.click('button:has-text("Wrote 8 days ago")')
    await page.locator('[role=option]', { hasText: 'Gus' }).locator('.win-closed').waitFor({ timeout: LIVE_MS })
  },
)
