// Issue 11 point 6: the campaign's per-recipient table lagged its own counters (they
// said Read 2 while the table still said Delivered until a reload). In Chromium, against
// a real Parley and the Meta emulator: while the campaign runs, a recipient reads the
// message in WhatsApp and answers it, and that row turns Read and Replied, with their
// times, from the stream's events alone — the page does not re-read the table for them.
import t from 'tap'
import { startPair } from './helpers/emulator.ts'
import { action, contactsCsv, createCampaign, importCsv, play } from './helpers/campaigns.ts'
import { agentPage, ensureWebBuild, E2E_FILE_TIMEOUT_MS, launchBrowser, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

// Slow enough that the campaign is still running when the read comes (40 at 2/s: ~20 s);
// it is cancelled at the end rather than waited for.
const N = 40
const RATE = '2'

t.test('a running campaign: a read moves its row to Read live, without re-reading the table', async (t) => {
  await ensureWebBuild()
  const p = await startPair(t, { env: { WHATSAPP_SEND_RATE_PER_SECOND: RATE } })
  // Everyone gets it delivered; nobody reads on their own: the test decides who reads.
  play(p, { delivered: 1, read: 0, replied: 0 })
  await importCsv(p, contactsCsv(N))
  const c = await createCampaign(p)

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, p.parley.url)
  const tableReads: string[] = []
  page.on('request', (r) => {
    if (r.url().includes(`/api/campaigns/${c.id}/recipients`)) tableReads.push(r.url())
  })
  await action(p, c.id, 'start')
  await page.goto(`${p.parley.url}/campaigns/${c.id}`)
  await page.waitForSelector('h1:has-text("Spring")')

  // A row at least delivered (Read would do too, but nobody reads on their own here).
  const phone = await page.waitForFunction(
    () => {
      for (const tr of document.querySelectorAll('table.recipients tbody tr')) {
        const status = tr.querySelector('.rstatus')?.textContent
        if (status === 'Delivered' || status === 'Read') return tr.querySelector('td .muted')?.textContent?.replace(/\D/g, '') ?? null
      }
      return null
    },
    null,
    { timeout: 30_000 },
  )
  const number = (await phone.jsonValue()) as string
  t.ok(number, 'a delivered row is on screen')
  const readsBefore = tableReads.length

  // The customer opens the chat in WhatsApp: Meta sends "read" for it.
  t.equal(p.emu.emulator.customerRead(number), 1, 'the emulator reads one message')
  await page.waitForFunction(
    (n) => {
      for (const tr of document.querySelectorAll('table.recipients tbody tr')) {
        if (tr.querySelector('td .muted')?.textContent !== `+${n}`) continue
        const cells = tr.querySelectorAll('td')
        return tr.querySelector('.rstatus')?.textContent === 'Read' && (cells[4]?.textContent ?? '') !== ''
      }
      return false
    },
    number,
    { timeout: LIVE_MS },
  )
  t.pass('the row shows Read and its read time without a reload')
  const status = await page.textContent('.page-head .status')
  t.equal(status, 'Sending', 'while the campaign is still sending')
  t.same(tableReads.slice(readsBefore), [], 'the table followed the events: it was not re-read')

  // The counters and the table agree: every row the counters call read is Read.
  await page.waitForFunction(
    () => {
      const counter = [...document.querySelectorAll('.counter')].find((el) => el.querySelector('dt')?.textContent === 'Read')
      const n = Number(counter?.querySelector('dd')?.firstChild?.textContent?.replace(/\D/g, '') ?? NaN)
      const rows = [...document.querySelectorAll('table.recipients .rstatus')].filter((s) => s.textContent === 'Read').length
      return n === 1 && rows === 1
    },
    null,
    { timeout: LIVE_MS },
  )
  t.pass('counter Read 1, one Read row')

  // The customer answers: the reply is attributed to the campaign and the row's Replied
  // time fills in, from the same events.
  await p.emu.customer('Reader', number)
  await p.emu.say(number, 'Yes please')
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('table.recipients tbody tr')].some(
        (tr) => tr.querySelector('td .muted')?.textContent === `+${n}` && (tr.querySelectorAll('td')[5]?.textContent ?? '') !== '',
      ),
    number,
    { timeout: LIVE_MS },
  )
  t.same(tableReads.slice(readsBefore), [], 'the reply shows in its row without re-reading the table')

  // Cancelled: the campaign's updates stop, which is where the table used to stay behind.
  // Its rows are re-read once for the cancel (the waiting ones are skipped); after that a
  // late read still moves its row.
  const reread = page.waitForResponse((r) => r.url().includes(`/api/campaigns/${c.id}/recipients`))
  await action(p, c.id, 'cancel')
  await page.waitForSelector('.page-head .status-cancelled', { timeout: LIVE_MS })
  await reread
  await page.waitForFunction(
    () => [...document.querySelectorAll('table.recipients .rstatus')].some((s) => s.textContent === 'Skipped'),
    null,
    { timeout: LIVE_MS },
  )
  const other = (
    await page.$$eval('table.recipients tbody tr', (trs) =>
      trs
        .filter((tr) => tr.querySelector('.rstatus')?.textContent === 'Delivered')
        .map((tr) => tr.querySelector('td .muted')?.textContent?.replace(/\D/g, '') ?? ''),
    )
  )[0]
  t.ok(other, 'another delivered row')
  const readsAfterCancel = tableReads.length
  t.equal(p.emu.emulator.customerRead(other!), 1)
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('table.recipients tbody tr')].some(
        (tr) => tr.querySelector('td .muted')?.textContent === `+${n}` && tr.querySelector('.rstatus')?.textContent === 'Read',
      ),
    other,
    { timeout: LIVE_MS },
  )
  t.same(tableReads.slice(readsAfterCancel), [], 'a read after the campaign stopped shows too, from its event')
})
