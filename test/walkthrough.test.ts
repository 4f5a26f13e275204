// Issue 11's "done when": a newcomer's walk through the sandbox in Chromium, end to end —
// a customer writes (a day ago, so the window is closed), the agent answers with a
// template, the customer writes again and the agent replies in free text with ticks, the
// conversation is resolved and reopened by the customer, and a draft survives a reload.
// Sandbox mode as `npm start` runs it: the emulator in the process is Meta.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import {
  agentPage,
  ensureWebBuild,
  launchBrowser,
  listRows,
  watchPage,
  waitForBubbles,
  waitLive,
  E2E_FILE_TIMEOUT_MS,
  LIVE_MS,
} from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

t.test('a newcomer in the sandbox: customer writes, template, reply with ticks, resolve, reload with a draft', async (t) => {
  await ensureWebBuild()
  // The sandbox is SQLite's only: on SQLite under PARLEY_TEST_DATABASE=postgres too.
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

  // The customer wrote 25 hours ago: the window is closed on both sides.
  await sim.fill('input[aria-label="Customer name"]', 'Lena Ortiz')
  await sim.click('button:has-text("Add customer")')
  await sim.waitForSelector('.chat-head h2:has-text("Lena Ortiz")')
  await sim.click('button:has-text("Wrote 25 h ago")')
  await sim.waitForSelector('.chat-head:has-text("window closed")', { timeout: LIVE_MS })
  const row = page.locator('[role=option]', { hasText: 'Lena Ortiz' })
  await row.locator('.win-template:has-text("Template only")').waitFor({ timeout: LIVE_MS })
  t.equal(await row.locator('.avatar').first().textContent(), 'LO', 'initials from the name’s words')
  await row.click()

  // Template only: the composer is the picker; the template reaches the customer.
  await page.waitForSelector('form.composer.template', { timeout: LIVE_MS })
  t.equal(await page.locator('#composer-input').count(), 0, 'no free-text box while the window is closed')
  await page.waitForSelector('select option[value="order_update|en"]', { state: 'attached' })
  await page.selectOption('select', 'order_update|en')
  const fields = page.locator('.tpl-param input')
  for (const [i, v] of ['Lena', '#12', 'Friday'].entries()) await fields.nth(i).fill(v)
  await page.click('button:has-text("Send template")')
  const templateText = 'Hi Lena, your order #12 has shipped and should arrive by Friday.'
  await waitForBubbles(page, [templateText])
  await sim.waitForSelector(`.msg.theirs:has-text("your order #12")`, { timeout: LIVE_MS })

  // The customer answers: the window opens live, free text is back.
  await sim.fill('textarea[aria-label=Message]', 'Thanks! Can I change the address?')
  await sim.keyboard.press('Enter')
  await waitForBubbles(page, [templateText, 'Thanks! Can I change the address?'])
  await row.locator('.win-open').waitFor({ timeout: LIVE_MS })
  await page.waitForSelector('#composer-input', { timeout: LIVE_MS })
  await page.fill('#composer-input', 'Of course — which address?')
  await page.keyboard.press('Enter')
  await waitForBubbles(page, [templateText, 'Thanks! Can I change the address?', 'Of course — which address?'])
  // Ticks: the simulator has the chat open, so it may be read at once — wait for "at least delivered".
  await page.waitForSelector('.msg.out:has-text("which address") .ticks:is([data-status=delivered], [data-status=read])', {
    timeout: LIVE_MS,
  })
  await sim.waitForSelector('.msg.theirs:has-text("which address")', { timeout: LIVE_MS })

  // A draft survives a reload, in the same conversation.
  await page.fill('#composer-input', 'I will call you tomorrow')
  const url = page.url()
  await page.reload()
  await waitLive(page)
  if (page.url() !== url) t.fail(`the reload stays on ${url}, got ${page.url()}`)
  await page.locator('[role=option]', { hasText: 'Lena Ortiz' }).click()
  await page.waitForFunction(
    () => (document.querySelector('#composer-input') as HTMLTextAreaElement | null)?.value === 'I will call you tomorrow',
    undefined,
    {
      timeout: LIVE_MS,
    },
  )
  t.pass('the draft came back after the reload')

  // Resolve: it leaves the Open list, with a line in the timeline.
  await page.locator('.conv-header .status-toggle:has-text("Resolve")').click()
  await page.waitForSelector('.system-line:has-text("resolved this")', { timeout: LIVE_MS })
  await page.waitForFunction(
    () => ![...document.querySelectorAll('[role=option] .conv-name')].some((e) => e.textContent === 'Lena Ortiz'),
    undefined,
    { timeout: LIVE_MS },
  )
  t.pass('resolved: gone from Open')

  // The customer writes again: back in Open, live.
  await sim.fill('textarea[aria-label=Message]', 'It is Calle Mayor 5')
  await sim.keyboard.press('Enter')
  await page.waitForFunction(
    () => [...document.querySelectorAll('[role=option] .conv-name')].some((e) => e.textContent === 'Lena Ortiz'),
    undefined,
    { timeout: LIVE_MS },
  )
  const rows = await listRows(page)
  t.equal(rows[0]?.name, 'Lena Ortiz', 'reopened by the customer, at the top')
  t.match(rows[0]?.preview, /Calle Mayor 5/, 'with the customer’s words as its preview')
})
