// Issue 15 in a real Chromium: one search box over the list (`/` or Ctrl+K focuses it),
// its results replacing the list while searching and Esc returning to it; a snippet
// holding `<script>` renders as text; a click opens the conversation at that message,
// highlighted, loaded around it (far back: beyond the newest page), and scrolling both
// ways from there — up to the start, down to the live end, where a new message shows live.
//
// The results need GET /api/search (built beside this, issue 15): until it is on the
// branch (it answers 404 "Route not found"), the tests that read results are skipped.
import t from 'tap'
import type { Page } from 'playwright-core'
import { apiCall, startServer } from './helpers/server.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS } from './helpers/browser.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

// Loading pages both ways on a busy machine: a bound, never a measurement.
const SCROLL_MS = 20_000
const ALICE = '4915100000001'
const BOB = '4915100000002'
const BEA = { email: 'bea@example.com', password: 'another good password', name: 'Bea' }
const NEEDLE = 'zebrafish'
const XSS = `the ${NEEDLE} <script>window.pwned=1</script><img src=x onerror="window.pwned=2"> tank`

const probe = await startServer(t)
const routeExists = await (async () => {
  const res = await probe.get(`/api/search?q=${NEEDLE}`, (await probe.login()).token)
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
  return !(res.status === 404 && body?.error?.message === 'Route not found')
})()
await probe.close()

const focused = (p: Page) => p.evaluate(() => document.activeElement?.id ?? '')
const shows = (p: Page, text: string) =>
  p.evaluate((w) => [...document.querySelectorAll('.msg .text, .note-text')].some((e) => e.textContent === w), text)

/** Scrolls the open conversation down, page after page, until its newest message (`last`) and no more to load. */
async function scrollToLiveEnd(p: Page, last: string) {
  await p.waitForFunction(
    (w) => {
      const el = document.querySelector('.chat-scroll')!
      el.scrollTop = el.scrollHeight
      return !document.querySelector('[data-row="newer"]') && [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === w)
    },
    last,
    { timeout: SCROLL_MS, polling: 100 },
  )
}

/** Scrolls the open conversation up, page after page, until its first message (`first`) and its start. */
async function scrollToStart(p: Page, first: string) {
  await p.waitForFunction(
    (w) => {
      const el = document.querySelector('.chat-scroll')!
      el.scrollTop = 0
      return (
        /Start of the conversation/.test(document.querySelector('.history-top')?.textContent ?? '') &&
        [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === w)
      )
    },
    first,
    { timeout: SCROLL_MS, polling: 100 },
  )
}

/** The ids of the whole history as the scroller shows it, top to bottom (each row read once). */
function historyIds(p: Page): Promise<number[]> {
  return p.evaluate(async () => {
    const el = document.querySelector('.chat-scroll')!
    const seen: number[] = []
    for (let y = 0; y <= el.scrollHeight; y += el.clientHeight / 2) {
      el.scrollTop = y
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))
      for (const m of document.querySelectorAll<HTMLElement>('.chat-row > [data-message-id]')) {
        const id = Number(m.dataset.messageId)
        if (!seen.includes(id)) seen.push(id)
      }
    }
    return seen
  })
}

t.test('/ and Ctrl+K focus the search box; typing replaces the list; Esc returns to it, cleared', async (t) => {
  const s = await startServer(t)
  t.equal((await s.webhook(envelope(value({ contacts: [contact(BOB, 'Bob')], messages: [text(BOB, 'hello there')] })))).status, 200)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await page.waitForSelector('[role=option][data-conversation-id]')

  await page.locator('#conversation-list').focus()
  await page.keyboard.press('/')
  t.equal(await focused(page), 'search', '/ focuses the box')
  t.equal(await page.inputValue('#search'), '', 'and types nothing into it')
  await page.locator('#conversation-list').focus()
  await page.keyboard.press('Control+k')
  t.equal(await focused(page), 'search', 'Ctrl+K focuses the box')

  await page.keyboard.type('hello')
  await page.waitForSelector('.search-results', { timeout: LIVE_MS })
  t.notOk(await page.locator('#conversation-list').isVisible(), 'the list is replaced while searching')
  await page.keyboard.press('Escape')
  await page.waitForSelector('.search-results', { state: 'detached', timeout: LIVE_MS })
  t.ok(await page.locator('#conversation-list').isVisible(), 'Esc: the list is back')
  t.equal(await page.inputValue('#search'), '', 'and the box is cleared')

  // `/` typed in a field is a slash, not a jump to the box.
  await page.click('[role=option][data-conversation-id]')
  const composer = page.locator('#composer-input')
  await composer.waitFor({ timeout: LIVE_MS })
  await composer.focus()
  await page.keyboard.type('a/b')
  t.equal(await composer.inputValue(), 'a/b', 'a slash in the composer stays there')
  t.equal(await focused(page), 'composer-input')
})

t.test(
  'results: snippets as text, a click opens the conversation around the message, scrolling both ways',
  { skip: !routeExists && 'GET /api/search is not on this branch yet' },
  async (t) => {
    const s = await startServer(t)
    // 250 messages from Alice; the one to find is the 60th (far behind the newest page of 100).
    const many = Array.from({ length: 250 }, (_, i) => text(ALICE, i === 59 ? XSS : `m${i + 1}`))
    t.equal((await s.webhook(envelope(value({ contacts: [contact(ALICE, 'Alice')], messages: many })))).status, 200)
    t.equal((await s.webhook(envelope(value({ contacts: [contact(BOB, 'Bob')], messages: [text(BOB, 'no fish here')] })))).status, 200)
    const target = (await s.sql.get<{ id: number }>('SELECT id FROM messages WHERE text = ?', [XSS]))!.id
    const browser = await launchBrowser(t)
    const { page } = await agentPage(t, browser, s.url)
    await page.waitForSelector('[role=option][data-conversation-id]')

    await page.keyboard.press('/')
    await page.keyboard.type(NEEDLE)
    const hit = page.locator(`.search-hit[data-message-id="${target}"]`)
    await hit.waitFor({ timeout: LIVE_MS })
    t.notOk(await page.locator('#conversation-list').isVisible(), 'results replace the list')
    t.equal(await page.locator('.search-group .sg-name').first().textContent(), 'Alice', 'grouped under the contact')
    const snippet = (await hit.locator('.sh-snippet').textContent()) ?? ''
    t.match(snippet, /<script>/, 'the snippet shows <script> as text')
    t.equal(await hit.locator('script, img').count(), 0, 'no element was made of it')
    const marks = await hit.locator('mark').allTextContents()
    if (marks.length > 0)
      t.ok(
        marks.some((m) => m.toLowerCase().includes(NEEDLE)),
        'the word found is marked',
      )

    await hit.click()
    const row = page.locator(`.chat-row.focus [data-message-id="${target}"]`)
    await row.waitFor({ timeout: LIVE_MS })
    t.ok(await row.isVisible(), 'the conversation opens at the message, highlighted')
    t.match((await row.locator('.text').textContent()) ?? '', /<script>/, 'its text as text')
    t.equal(await page.evaluate(() => (window as { pwned?: unknown }).pwned), undefined, 'nothing ran')
    t.notOk(
      await page.evaluate(() => [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === 'm250')),
      'loaded around it, not from the newest',
    )

    // Down to the live end, page by page.
    await scrollToLiveEnd(page, 'm250')
    t.pass('scrolled down to the newest message')
    // At the live end, a new message shows as it arrives.
    t.equal(
      (await s.webhook(envelope(value({ contacts: [contact(ALICE, 'Alice')], messages: [text(ALICE, 'live after search')] })))).status,
      200,
    )
    await page.waitForFunction(
      () => [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === 'live after search'),
      null,
      {
        timeout: LIVE_MS,
      },
    )
    t.pass('a live message appends at the end')
    // Up to the start, page by page.
    await scrollToStart(page, 'm1')
    t.pass('scrolled up to the first message')
    const ids = await historyIds(page)
    t.equal(ids.length, 251, 'all 251 messages, each once')
    t.same(
      ids,
      [...ids].sort((a, b) => a - b),
      'oldest to newest',
    )

    // Esc: back to the list, cleared (the conversation stays open beside it).
    await page.keyboard.press('Escape')
    await page.waitForSelector('.search-results', { state: 'detached', timeout: LIVE_MS })
    t.ok(await page.locator('#conversation-list').isVisible(), 'the list is back')
  },
)

t.test(
  'a query the server cannot read: its message, not a 500',
  { skip: !routeExists && 'GET /api/search is not on this branch yet' },
  async (t) => {
    const s = await startServer(t)
    t.equal((await s.webhook(envelope(value({ contacts: [contact(BOB, 'Bob')], messages: [text(BOB, 'hello')] })))).status, 200)
    const browser = await launchBrowser(t)
    const { page } = await agentPage(t, browser, s.url)
    await page.keyboard.press('Control+k')
    await page.keyboard.type('"unclosed phrase')
    const alert = page.locator('.search-results [role=alert]')
    await alert.waitFor({ timeout: LIVE_MS })
    const words = (await alert.textContent()) ?? ''
    t.ok(words.length > 0, `the server's message: ${words}`)
    t.notMatch(words, /fts5|sqlite|500/i, 'no FTS5 error text')
    await page.keyboard.press('Control+a')
    await page.keyboard.type('nothingmatchesthis')
    await page.locator('.search-results [role=status]', { hasText: 'No results' }).waitFor({ timeout: LIVE_MS })
    t.pass('No results')
  },
)

t.test('a jump far back (a mention of an old note) loads the history around it and scrolls both ways', async (t) => {
  const s = await startServer(t)
  const auth = s.app.services.auth
  const ws = await auth.defaultWorkspace()
  const bea = await auth.createUser({ ...BEA, workspaceId: ws, role: 'agent' })
  await setMembers(s.app.services, bea.id, await channelIdsOf(s.app.services, ws))
  const admin = apiCall(s.url, (await s.login()).token)
  // 100 messages, the note mentioning Bea, then 150 more: the note is far behind the newest page (100).
  const say = async (from: number, to: number) =>
    t.equal(
      (
        await s.webhook(
          envelope(
            value({
              contacts: [contact(ALICE, 'Alice')],
              messages: Array.from({ length: to - from + 1 }, (_, i) => text(ALICE, `m${from + i}`)),
            }),
          ),
        )
      ).status,
      200,
    )
  await say(1, 100)
  const alice = (await s.sql.get<{ id: number }>('SELECT id FROM conversations'))!.id
  const note = await admin('POST', `/api/conversations/${alice}/notes`, { text: 'Old note for @Bea', mentions: [bea.id] })
  t.equal(note.status, 201)
  await say(101, 250)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url, BEA)
  await page.waitForSelector('.mentions-btn[data-mentions-unread="1"]', { timeout: LIVE_MS })
  await page.locator('.mentions-btn').click()
  await page.getByRole('dialog', { name: 'Mentions' }).locator('.mention-row').click()
  await page.waitForSelector(`[data-conversation="${alice}"] .note-bubble.note-focus[data-message-id="${note.body.note.id}"]`, {
    timeout: LIVE_MS,
  })
  t.pass('the conversation opens at the note, highlighted')
  t.ok(await shows(page, 'm100'), 'around it: the message before it')
  t.notOk(await shows(page, 'm250'), 'not the newest page')
  t.equal(await page.locator('.unread-sep').count(), 0, 'no unread divider far from the unread ones')

  await scrollToLiveEnd(page, 'm250')
  t.pass('down to the live end')
  t.equal(
    (await s.webhook(envelope(value({ contacts: [contact(ALICE, 'Alice')], messages: [text(ALICE, 'after the jump')] })))).status,
    200,
  )
  await page.waitForFunction(() => [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === 'after the jump'), null, {
    timeout: LIVE_MS,
  })
  t.pass('live messages append at the end')
  await scrollToStart(page, 'm1')
  t.pass('up to the start')
  const ids = await historyIds(page)
  t.equal(ids.length, 252, '251 messages and the note, each once')
  t.same(
    ids,
    [...ids].sort((a, b) => a - b),
    'oldest to newest',
  )
})
