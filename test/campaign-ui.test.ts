// The contacts and campaigns screens in a real browser (Chromium via playwright-core),
// against a real Parley in sandbox mode — its emulator plays the audience. A newcomer's
// path: import a CSV (preview, report, import), build a campaign (template, values,
// preview), send it, and watch it finish live — without a reload. Customer-supplied
// names are rendered as text: a dialog or a CSP violation fails the test.
import t from 'tap'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startServer } from './helpers/server.ts'
import { agentPage, ensureWebBuild, E2E_FILE_TIMEOUT_MS, launchBrowser, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const N = 30
const XSS = '<img src=x onerror=alert(1)>'

t.test('import contacts, build and send a campaign, watch it live', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t, {
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
  await page.selectOption('select[aria-label="Template"]', 'order_update|en')
  await page.selectOption('select[aria-label="Value of {{2}}"]', 'attribute')
  await page.fill('input[aria-label="Attribute for {{2}}"]', 'order')
  await page.fill('input[aria-label="Text for {{3}}"]', 'Friday')
  await page.waitForFunction(() => /your order #5\d\d has shipped and should arrive by Friday/.test(document.querySelector('.bubble-preview')?.textContent ?? ''), null, { timeout: LIVE_MS })
  t.match(await page.textContent('.builder'), new RegExp(`${N} will receive it`))
  await page.click('button[type=submit]:has-text("Send now")')

  // The live view: it finishes on the stream's updates (no reload).
  await page.waitForSelector('h1:has-text("UI campaign")')
  await page.waitForSelector('.status-completed', { timeout: 60_000 })
  await page.waitForFunction(
    (n) => {
      const c = Object.fromEntries(
        [...document.querySelectorAll('.counter')].map((el) => [el.querySelector('dt')?.textContent, Number((el.querySelector('dd')?.firstChild?.textContent ?? '').replace(/\D/g, ''))]),
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

  // The campaign list shows it, with its funnel.
  await page.click('text=← Campaigns')
  await page.waitForSelector('.card:has-text("UI campaign") .status-completed')
  t.pass('the newcomer path works end to end')
})
