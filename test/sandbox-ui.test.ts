// The customer simulator page in Chromium, against a sandbox-mode Parley: a newcomer
// plays a customer, and every action lands in Parley as a signed webhook would.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): the sandbox is SQLite's only.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { agentPage, ensureWebBuild, launchBrowser, watchPage, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'
import { until } from './helpers/emulator.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { mp4, oggOpus } from './helpers/media-files.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

t.test('the simulator: write as a customer, see replies with their ticks, tap, react, quote, send a photo', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t, {
    sqlite: true,
    env: { WHATSAPP_PHONE_NUMBER_ID: '', SANDBOX_SENT_DELAY_MS: '20', SANDBOX_DELIVERED_DELAY_MS: '60' },
  })
  const { token } = await s.login()
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(s.url + p, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    return (await res.json()) as any
  }
  const browser = await launchBrowser(t)
  // Signed in through the inbox; the simulator shares the session cookie.
  const { context } = await agentPage(t, browser, s.url)
  const sim = await context.newPage()
  watchPage(t, sim, 'simulator')
  await sim.goto(`${s.url}/sandbox`)
  await sim.waitForSelector('text=Customer simulator')

  await sim.fill('input[aria-label="Customer name"]', 'Maria <b>Test</b>')
  await sim.fill('input[aria-label="Customer number"]', '+1 555 000 1111')
  await sim.click('button:has-text("Add customer")')
  await sim.waitForSelector('.chat-head h2:has-text("Maria <b>Test</b>")')
  await sim.waitForSelector('.live.on', { timeout: LIVE_MS })

  await sim.fill('textarea[aria-label=Message]', 'Hello from the simulator')
  await sim.keyboard.press('Enter')
  const conv = await until(async () => (await api('GET', '/api/conversations')).conversations[0], 'conversation in Parley')
  t.equal(conv.contact.name, 'Maria <b>Test</b>', 'the name arrives as text')
  const history = async () => (await api('GET', `/api/conversations/${conv.id}/messages`)).messages as MessageDTO[]
  t.equal((await history())[0]!.text, 'Hello from the simulator')

  // The business answers; the open chat reads it (blue ticks back in Parley).
  const reply = await api('POST', `/api/conversations/${conv.id}/messages`, { text: 'Hi Maria, how can we help?', clientMessageId: 'ui-1' })
  await sim.waitForSelector('.msg.theirs:has-text("how can we help") .status', { timeout: LIVE_MS })
  await until(async () => (await history()).find((m) => m.id === reply.message.id && m.status === 'read'), 'read in Parley')
  await sim.waitForSelector('.msg.theirs:has-text("how can we help") .status.read', { timeout: LIVE_MS })

  // A template with quick replies: the customer taps one.
  await api('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 'ui-2',
    template: { name: 'order_update', language: 'en', bodyParams: ['Maria', '#42', 'Friday'] },
  })
  await sim.click('.buttons button:has-text("Track my order")', { timeout: LIVE_MS })
  const tap = await until(async () => (await history()).find((m) => m.type === 'button'), 'button tap in Parley')
  t.equal(tap.text, 'Track my order')

  // React to the business's first reply, then quote it.
  const first = sim.locator('.msg.theirs', { hasText: 'how can we help' })
  await first.hover()
  await first.locator('button[aria-label=React]').click()
  await first.locator('button[aria-label="React 👍"]').click()
  await until(
    async () => Object.values((await history()).find((m) => m.id === reply.message.id)?.reactions ?? {}).includes('👍'),
    'reaction in Parley',
  )
  await first.hover()
  await first.locator('button[aria-label="Reply to this message"]').click()
  await sim.fill('textarea[aria-label=Message]', 'Where is my parcel?')
  await sim.keyboard.press('Enter')
  const quoted = await until(async () => (await history()).find((m) => m.text === 'Where is my parcel?'), 'quoted reply')
  t.equal(quoted.replyToMessageId, reply.message.id)

  // A photo with a caption goes through the Graph media flow into Parley.
  await sim.setInputFiles('input[type=file]', { name: 'parcel.png', mimeType: 'image/png', buffer: PNG })
  await sim.fill('textarea[aria-label=Message]', 'this one')
  await sim.click('button[aria-label=Send]')
  // The whole chain (the browser's upload, the webhook, Parley's download from the Graph
  // emulator) on a busy machine: waited for as a state, with room; a miss says how far it got.
  const img = await until(
    async () => (await history()).find((m) => m.type === 'image' && m.media?.url),
    'image stored in Parley',
    30_000,
  ).catch(async (err: Error) => {
    const seen = (await history()).filter((m) => m.type === 'image').map((m) => ({ text: m.text, media: m.media }))
    const media = s.db.$client.prepare('SELECT id, state, attempts, last_error, next_attempt_at FROM media').all()
    const flash = await sim
      .locator('.flash')
      .allTextContents()
      .catch(() => [])
    throw new Error(
      `${err.message}; images in Parley: ${JSON.stringify(seen)}; media rows: ${JSON.stringify(media)}; simulator said: ${JSON.stringify(flash)}`,
    )
  })
  t.equal(img.text, 'this one')
  await sim.waitForSelector('.msg.mine img', { timeout: LIVE_MS })

  // The business's audio and video play on the customer's phone.
  for (const [bytes, type, name] of [
    [oggOpus('ui'), 'audio/ogg', 'note.ogg'],
    [mp4('ui'), 'video/mp4', 'demo.mp4'],
  ] as const) {
    const form = new FormData()
    form.set('file', new Blob([new Uint8Array(bytes)], { type }), name)
    const up = (await (
      await fetch(`${s.url}/api/media`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
    ).json()) as any
    await api('POST', `/api/conversations/${conv.id}/messages`, { mediaId: up.media.id, clientMessageId: `ui-${name}` })
  }
  await sim.waitForSelector('.msg.theirs audio', { timeout: LIVE_MS })
  await sim.waitForSelector('.msg.theirs video', { timeout: LIVE_MS })
})
