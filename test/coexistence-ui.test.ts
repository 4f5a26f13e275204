// Issue 11 in a real browser (Chromium via playwright-core): a message the business sent
// from the WhatsApp Business app on its phone appears live in the open conversation as
// the business's own, marked "Sent from the phone app"; a customer who stopped marketing
// messages inside WhatsApp shows why on the contacts page, live.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import {
  agentPage,
  ensureWebBuild,
  E2E_FILE_TIMEOUT_MS,
  launchBrowser,
  listRows,
  LIVE_MS,
  openConversation,
  waitForBubbles,
} from './helpers/browser.ts'
import { textWebhook } from './helpers/wa.ts'
import { echo, preference } from './helpers/coexistence.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

t.test('the phone app’s echo shows as sent from the phone; the contact page says why they stopped', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  const maria = '15550001111'

  t.equal((await s.webhook(textWebhook(maria, 'Maria', 'Is the blue one in stock?').payload)).status, 200)
  await page.waitForSelector('[role=option][data-conversation-id]', { timeout: LIVE_MS })
  const [row] = await listRows(page)
  await openConversation(page, row!.id)
  await waitForBubbles(page, ['Is the blue one in stock?'])

  t.equal((await s.webhook(echo(maria, 'Yes! Sent you a photo on WhatsApp.'))).status, 200)
  await waitForBubbles(page, ['Is the blue one in stock?', 'Yes! Sent you a photo on WhatsApp.'])
  const bubbles = await page.$$eval('.msg', (els) =>
    els.map((e) => ({
      out: e.classList.contains('out'),
      text: e.querySelector('.text')?.textContent ?? '',
      via: e.querySelector('.via-phone')?.textContent ?? null,
    })),
  )
  t.same(bubbles, [
    { out: false, text: 'Is the blue one in stock?', via: null },
    { out: true, text: 'Yes! Sent you a photo on WhatsApp.', via: 'Sent from the phone app ·' },
  ])
  await page.waitForFunction(
    () => document.querySelector('[role=option] .conv-preview')?.textContent?.includes('Yes! Sent you a photo on WhatsApp.'),
    undefined,
    { timeout: LIVE_MS },
  )

  // The contacts page, open while the customer stops marketing messages in WhatsApp.
  await page.goto(`${s.url}/contacts`)
  await page.waitForSelector('.contacts-table tbody tr')
  const at = Math.floor(Date.now() / 1000)
  t.equal((await s.webhook(preference(maria, 'stop', at, 'Maria'))).status, 200)
  const reason = await page.waitForSelector('.contacts-table .opt-reason', { timeout: LIVE_MS })
  const day = await page.evaluate((ms) => new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short' }), at * 1000)
  t.equal(await reason.textContent(), `Stopped marketing messages in WhatsApp · ${day}`)
  t.ok(await page.isVisible('.contacts-table >> text=Opted out'))
})
