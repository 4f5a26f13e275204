// The contacts and campaigns screens in a real browser (Chromium via playwright-core),
// against a real Parley in sandbox mode — its emulator plays the audience. A newcomer's
// path: import a CSV (preview, report, import), build a campaign (template, values,
// preview), send it, and watch it finish live — without a reload. Customer-supplied
// names are rendered as text: a dialog or a CSP violation fails the test.
// Issue 11: the builder asks the server for a preview only once there is one to make (no
// 400 in the log), starts from a template in the browser's language, and asks before
// sending to everyone at once; the live page names each share's base, counts "did not
// reply", and keeps Export CSV on a phone's screen.
import t from 'tap'
import type { Browser } from 'playwright-core'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'
import {
  agentPage,
  ensureWebBuild,
  E2E_FILE_TIMEOUT_MS,
  launchBrowser,
  LIVE_MS,
  watchPage,
  type BrowserTestLike,
} from './helpers/browser.ts'
import type { CampaignRecipientDTO } from '../src/events/types.ts'
import { until } from './helpers/emulator.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const N = 30
const XSS = '<img src=x onerror=alert(1)>'

t.test('import contacts, build and send a campaign, watch it live', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t, {
    sqlite: true,
    env: {
      SANDBOX_SENT_DELAY_MS: '20',
      SANDBOX_DELIVERED_DELAY_MS: '60',
      SANDBOX_RECIPIENT_FAILURES: '131026:0.1',
      SANDBOX_RECIPIENT_READ_RATE: '0.5',
      SANDBOX_RECIPIENT_REPLY_RATE: '0',
    },
  })
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-ui-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Excel in Europe: a BOM, semicolons, a quoted name with the separator; one bad row.
  const rows = ['\ufeffTelefon;Name;order']
  for (let i = 0; i < N; i++) rows.push(`+49 151 ${String(30000000 + i)};${i === 0 ? `"${XSS}; Jr."` : `Kunde ${i}`};#${500 + i}`)
  rows.push('not a number;Nobody;#0')
  const file = path.join(dir, 'kunden.csv')
  writeFileSync(file, rows.join('\r\n'))

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  const api = apiCall(s.url, (await s.login()).token)
  // Every preview the builder asks for, and any refusal or logged error from here on.
  const previews: number[] = []
  const refused: string[] = []
  const consoleErrors: string[] = []
  page.on('response', (r) => {
    if (r.url().includes('/api/campaigns/preview')) previews.push(r.status())
    if (r.status() >= 400) refused.push(`${r.status()} ${r.url()}`)
  })
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text())
  })

  // Contacts → Import CSV: the report first, then the import.
  await page.click('a[aria-label="Contacts and campaigns"]')
  await page.click('.area-tabs >> text=Contacts')
  await page.waitForSelector('h1:has-text("Contacts")')
  await page.click('button:has-text("Import CSV")')
  await page.setInputFiles('input[type=file][aria-label="CSV file"]', file)
  await page.waitForSelector('.report')
  const report = await page.textContent('.report')
  t.match(report, new RegExp(`${N} of ${N + 1} rows will be imported`))
  t.match(report, /1 invalid numbers/)
  t.match(report, /Line 32: “not a number” — not a phone number/)
  await page.click(`button:has-text("Import ${N} contacts")`)
  await page.waitForSelector(`text=Imported into “kunden”: ${N} new`)
  await page.click('button:has-text("Done")')
  await page.waitForFunction((n) => document.querySelectorAll('.contacts-table tbody tr').length === n, N)
  const names = await page.$$eval('.contacts-table tbody td:first-child', (tds) => tds.map((td) => td.textContent))
  t.ok(names.includes(`${XSS}; Jr.`), 'a name full of markup is shown as text')
  t.equal(await page.$$eval('img[src="x"]', (els) => els.length), 0, 'and never becomes an element')

  // Campaigns → New campaign: template, values, live preview.
  await page.click('.area-tabs >> text=Campaigns')
  await page.click('button:has-text("New campaign")')
  await page.fill('input[placeholder="Spring sale"]', 'UI campaign')
  // Nothing to preview yet: the default template's {{topic}} has no text.
  await page.waitForSelector('text=To preview, choose a text for {{topic}}')
  // A tag audience without a tag is not previewable either.
  await page.click('label:has-text("Contacts with tags") input')
  await page.waitForSelector('text=/To preview, choose .*at least one tag/')
  await page.click('label:has-text("All contacts") input')
  t.same(previews, [], 'no preview asked for before there is one to make')
  await page.selectOption('select[aria-label="Template"]', 'order_update|en')
  await page.selectOption('select[aria-label="Value of {{2}}"]', 'attribute')
  await page.fill('input[aria-label="Attribute for {{2}}"]', 'order')
  await page.fill('input[aria-label="Text for {{3}}"]', 'Friday')
  await page.waitForFunction(
    () => /your order #5\d\d has shipped and should arrive by Friday/.test(document.querySelector('.bubble-preview')?.textContent ?? ''),
    null,
    { timeout: LIVE_MS },
  )
  t.match(await page.textContent('.builder'), new RegExp(`${N} will receive it`))
  t.ok(previews.length > 0 && previews.every((st) => st === 200), 'every preview asked for was answered 200')

  // Send now to all contacts: first a confirmation with the size and the cost.
  await page.click('button[type=submit]:has-text("Send now")')
  const dialog = await page.waitForSelector('dialog.confirm[open]')
  const text = (await dialog.textContent()) ?? ''
  t.match(text, /all contacts/, 'names the audience')
  t.match(text, new RegExp(`${N} contacts`), 'and its size')
  t.match(text, new RegExp(`about ${N} conversations`), 'and the cost in conversations')
  await page.click('dialog.confirm button:has-text("Cancel")')
  await page.waitForSelector('dialog.confirm', { state: 'hidden' })
  t.same((await api('GET', '/api/campaigns')).body.campaigns, [], 'Cancel sent (and saved) nothing')
  await page.click('button[type=submit]:has-text("Send now")')
  await page.click(`dialog.confirm button:has-text("Send to ${N} contacts")`)

  // The live view: it finishes on the stream's updates (no reload).
  await page.waitForSelector('h1:has-text("UI campaign")')
  await page.waitForSelector('.status-completed', { timeout: 60_000 })
  await page.waitForFunction(
    (n) => {
      const c = Object.fromEntries(
        [...document.querySelectorAll('.counter')].map((el) => [
          el.querySelector('dt')?.textContent,
          Number((el.querySelector('dd')?.firstChild?.textContent ?? '').replace(/\D/g, '')),
        ]),
      )
      return c.Waiting === 0 && c.Sent + c.Failed === n
    },
    N,
    { timeout: 30_000 },
  )
  const failedRows = await page.$$eval('.reasons tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''))
  for (const r of failedRows) t.match(r, /^131026The message could not be delivered/, 'failures shown by code with the reason')
  await page.waitForFunction((n) => document.querySelectorAll('table.recipients tbody tr').length === n, N)
  t.equal(await page.getAttribute('a:has-text("Export CSV")', 'href'), '/api/campaigns/1/recipients.csv')

  // Each share says what it is a share of.
  const shares = Object.fromEntries(
    await page.$$eval('.counter', (els) =>
      els.map((el) => [el.querySelector('dt')?.textContent ?? '', el.querySelector('.share')?.textContent?.trim() ?? '']),
    ),
  )
  t.match(shares.Sent, /^\d+% of all$/)
  t.match(shares.Delivered, /^(\d+%|–) of sent$/)
  t.match(shares.Read, /^(\d+%|–) of delivered$/)
  t.match(shares.Replied, /^(\d+%|–) of delivered$/)
  t.match(shares.Failed, /^\d+% of all$/)

  // The follow-ups count whom they would reach, as the table says. Reads and replies may
  // still be arriving after "completed": wait until the page and the API agree, each
  // read fresh in the same round.
  const counted = await until(
    async () => {
      const rs = (await api<{ recipients: CampaignRecipientDTO[] }>('GET', '/api/campaigns/1/recipients?limit=500')).body.recipients
      const unread = rs.filter((r) => r.status === 'sent' || r.status === 'delivered').length
      const noReply = rs.filter((r) => ['sent', 'delivered', 'read'].includes(r.status) && r.repliedAt === null).length
      const followUps = await page.$$eval('.actions button', (bs) => bs.map((b) => b.textContent ?? ''))
      const readOk = unread === 0 || followUps.includes(`did not read (${unread})`)
      return readOk && noReply > 0 && followUps.includes(`did not reply (${noReply})`) && { unread, noReply }
    },
    'the follow-up buttons to count what the recipients API says',
    LIVE_MS * 2,
  )
  t.pass(`did not read (${counted.unread}), did not reply (${counted.noReply}): as the recipients API says`)

  // On a phone, Export CSV stays on the screen.
  await page.setViewportSize({ width: 375, height: 800 })
  const box = await page.locator('a:has-text("Export CSV")').boundingBox()
  t.ok(box && box.x >= 0 && box.x + box.width <= 375, `Export CSV within 375 px (${JSON.stringify(box)})`)
  await page.setViewportSize({ width: 1200, height: 1400 })

  // The campaign list shows it, with its funnel.
  await page.click('text=← Campaigns')
  await page.waitForSelector('.card:has-text("UI campaign") .status-completed')
  t.same(refused, [], 'no request was refused along the way')
  t.same(consoleErrors, [], 'nothing logged as an error')
  t.pass('the newcomer path works end to end')
})

/** A signed-in agent whose browser speaks `locale`. */
async function pageIn(t: BrowserTestLike, browser: Browser, url: string, locale: string) {
  const context = await browser.newContext({ locale, viewport: { width: 1200, height: 1000 } })
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  watchPage(t, page, locale)
  await page.goto(url)
  await page.fill('input[name=email]', ADMIN.email)
  await page.fill('input[name=password]', ADMIN.password)
  await page.click('button[type=submit]')
  await page.waitForSelector('#conversation-list')
  return page
}

t.test('a new campaign starts from a template in the browser’s language, else English', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t, { sqlite: true })
  const browser = await launchBrowser(t)
  // The sandbox's approved templates, by name: appointment_reminder (fr), follow_up (en),
  // hello_world (en_US), order_update (en) — the French one used to come first for all.
  for (const [locale, want] of [
    ['fr-FR', 'appointment_reminder|fr'],
    ['en-GB', 'follow_up|en'],
    ['de-DE', 'follow_up|en'],
  ] as const) {
    const page = await pageIn(t, browser, s.url, locale)
    await page.goto(`${s.url}/campaigns/new`)
    await page.waitForFunction(() => (document.querySelector('select[aria-label="Template"]') as HTMLSelectElement | null)?.value)
    t.equal(await page.inputValue('select[aria-label="Template"]'), want, `${locale}: ${want}`)
  }
})
