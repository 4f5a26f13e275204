// Long lists in a real browser: 10,000 conversations and a 5,000-message conversation
// stay virtualized (only the rows near the viewport are in the DOM) while the agent
// scrolls through all of them, pages loading on the way.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, RECOVER_MS } from './helpers/browser.ts'

const CONVERSATIONS = 10_000
const MESSAGES = 5_000
// Meta batches up to 1,000 changes in one POST; the same here keeps the seeding quick.
const BATCH = 1000
// Generous bounds for "virtualized": a full list or history would be thousands.
const MAX_LIST_ROWS_IN_DOM = 80
const MAX_MESSAGE_ROWS_IN_DOM = 200

// A real browser on a shared 2-core machine: more room than tap's default per file.
t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('10,000 conversations and 5,000 messages scroll with a bounded DOM', async (t) => {
  const s = await startServer(t)
  for (let b = 0; b < CONVERSATIONS / BATCH; b++) {
    const froms = Array.from({ length: BATCH }, (_, i) => `49160${String(b * BATCH + i).padStart(7, '0')}`)
    const res = await s.webhook(
      envelope(value({ contacts: froms.map((f) => contact(f, `Customer ${f}`)), messages: froms.map((f) => text(f, `hi from ${f}`)) })),
    )
    t.equal(res.status, 200)
  }
  const chatty = '4917000000000'
  for (let b = 0; b < MESSAGES / BATCH; b++) {
    const msgs = Array.from({ length: BATCH }, (_, i) => text(chatty, `c${b * BATCH + i}`))
    const res = await s.webhook(envelope(value({ contacts: [contact(chatty, 'Chatty')], messages: msgs })))
    t.equal(res.status, 200)
  }

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url, undefined, { width: 1200, height: 900 })
  await page.evaluate(() => {
    const w = window as unknown as { __long: number[] }
    w.__long = []
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.__long.push(e.duration)
    }).observe({ type: 'longtask', buffered: true })
  })

  // The list: scroll to the end until every page is loaded.
  let started = Date.now()
  let maxRows = 0
  for (;;) {
    const st = await page.evaluate(() => {
      const el = document.querySelector('#conversation-list')!
      el.scrollTop = el.scrollHeight
      return {
        rows: document.querySelectorAll('[role=option]').length,
        height: (document.querySelector('.conv-spacer') as HTMLElement).offsetHeight,
      }
    })
    maxRows = Math.max(maxRows, st.rows)
    if (st.height >= (CONVERSATIONS + 1) * 72) break
    await page.waitForFunction((h) => (document.querySelector('.conv-spacer') as HTMLElement).offsetHeight > h, st.height, {
      timeout: RECOVER_MS,
    })
  }
  t.ok(maxRows <= MAX_LIST_ROWS_IN_DOM, `list rows in the DOM stayed at ${maxRows} of ${CONVERSATIONS + 1}`)
  await page.waitForFunction(() => [...document.querySelectorAll('.conv-name')].some((e) => e.textContent === 'Customer 491600000000'))
  t.pass('the oldest conversation is reachable at the end of the list')
  t.comment(`scrolled through ${CONVERSATIONS} conversations (${CONVERSATIONS / 100} pages) in ${Date.now() - started} ms`)
  const longInList = await page.evaluate(() => (window as unknown as { __long: number[] }).__long.splice(0))
  t.comment(`long tasks (>50 ms) in the list phase: ${longInList.length}, longest ${Math.round(Math.max(0, ...longInList))} ms`)

  // The long conversation: back to the top of the list, open it, scroll to its beginning.
  await page.evaluate(() => (document.querySelector('#conversation-list')!.scrollTop = 0))
  await page.click('[role=option] >> text=Chatty')
  await page.waitForSelector('.msg')
  started = Date.now()
  let maxMsgs = 0
  for (;;) {
    const st = await page.evaluate(() => {
      const el = document.querySelector('.chat-scroll')!
      el.scrollTop = 0
      return { msgs: document.querySelectorAll('.msg').length, start: document.querySelector('.history-top')?.textContent ?? '' }
    })
    maxMsgs = Math.max(maxMsgs, st.msgs)
    if (st.start === 'Start of the conversation') break
    await page.waitForTimeout(50)
  }
  await page.waitForSelector('.msg >> text=c0')
  t.comment(`scrolled up through ${MESSAGES} messages in ${Date.now() - started} ms`)
  t.ok(maxMsgs <= MAX_MESSAGE_ROWS_IN_DOM, `message rows in the DOM stayed at ${maxMsgs} of ${MESSAGES}`)
  const height = await page.evaluate(() => (document.querySelector('.chat-spacer') as HTMLElement).offsetHeight)
  t.ok(height > MESSAGES * 30, 'the scroller spans the whole history')

  const long = await page.evaluate(() => (window as unknown as { __long: number[] }).__long)
  t.comment(`long tasks (>50 ms) in the conversation phase: ${long.length}, longest ${Math.round(Math.max(0, ...long))} ms`)
})
