// The inbox in a real Chromium against a real server: live delivery to two agents, the
// list's order and unread badges, a network cut, ten tabs on one stream, and an XSS
// corpus. Customer messages are posted as signed webhooks, as Meta sends them.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): it plays the sandbox (banner, customers, sends), which is SQLite's only.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from './helpers/server.ts'
import { AGENT_B, addAgentB } from './helpers/team-fixtures.ts'
import { contact, envelope, inbound, text, value, say } from './helpers/wa.ts'
import {
  agentPage,
  bubbleTexts,
  E2E_FILE_TIMEOUT_MS,
  ensureWebBuild,
  launchBrowser,
  listRows,
  LIVE_MS,
  openConversation,
  RECOVER_MS,
  waitForBubbles,
  waitLive,
  watchPage,
} from './helpers/browser.ts'

async function until(pred: () => boolean | Promise<boolean>, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout
  for (;;) {
    if (await pred()) return
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function waitRows(page: Page, pred: (rows: Awaited<ReturnType<typeof listRows>>) => boolean, what: string) {
  await until(async () => pred(await listRows(page)), LIVE_MS, what)
}

/** A marker in the page's document: a reload would drop it. */
const markDocument = (p: Page) => p.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true))
const sameDocument = (p: Page) => p.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true)

// A real browser on a shared 2-core machine: more room than tap's default per file.
t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('a customer message reaches two agents live: list reorders, badges count, read clears', async (t) => {
  const s = await startServer(t, { sqlite: true })
  // Issue 13: an agent works the conversations of their channels; B is a member of every one.
  await addAgentB(s)
  await say(s, '4915100000001', 'Xavier', 'x1')
  await say(s, '4915100000002', 'Yara', 'y1')
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  const b = await agentPage(t, browser, s.url, AGENT_B)
  for (const p of [a.page, b.page]) {
    await waitRows(p, (r) => r.map((x) => x.name).join() === 'Yara,Xavier', 'initial order')
    await markDocument(p)
  }

  const sentAt = Date.now()
  await say(s, '4915100000001', 'Xavier', 'x2 arrives live')
  const seen = await Promise.all(
    [a.page, b.page].map(async (p) => {
      await waitRows(p, (r) => r[0]?.name === 'Xavier' && r[0].unread === 2 && r[0].preview === 'x2 arrives live', 'reorder + badge')
      return Date.now() - sentAt
    }),
  )
  t.comment(`webhook → both lists updated: ${Math.max(...seen)} ms (bound ${LIVE_MS} ms)`)
  for (const p of [a.page, b.page]) t.ok(await sameDocument(p), 'no reload')

  // Agent A opens it: A's badge clears; B's is B's own (issue 13: unread is per person).
  const xId = (await listRows(a.page))[0]!.id
  await openConversation(a.page, xId)
  await waitForBubbles(a.page, ['x1', 'x2 arrives live'])
  await waitRows(a.page, (r) => r.find((x) => x.name === 'Xavier')?.unread === 0, 'A read it')

  // A message while A reads the conversation appears in the view, at the bottom.
  const t0 = Date.now()
  await say(s, '4915100000001', 'Xavier', 'x3 while open')
  await waitForBubbles(a.page, ['x1', 'x2 arrives live', 'x3 while open'])
  t.comment(`webhook → bubble in the open conversation: ${Date.now() - t0} ms`)
  t.same((await bubbleTexts(a.page)).slice(-1), ['x3 while open'], 'newest last')
  // B never read it: A's read did not clear B's count, which went on counting.
  await waitRows(b.page, (r) => r.find((x) => x.name === 'Xavier')?.unread === 3, "B's own unread: 3")

  // A brand-new customer appears at the top at once.
  await say(s, '4915100000003', 'Zoe', 'z1')
  for (const p of [a.page, b.page]) await waitRows(p, (r) => r[0]?.name === 'Zoe' && r[0].unread === 1, 'new conversation on top')
  await until(async () => /^\(\d+\) Parley$/.test(await b.page.title()), LIVE_MS, 'unread count in the title')
  t.match(await b.page.title(), /^\(\d+\) Parley$/)
})

t.test('first paint of the inbox for a signed-in agent (measured, not asserted)', async (t) => {
  const s = await startServer(t, { sqlite: true })
  for (let i = 0; i < 30; i++) await say(s, `49151000100${String(i).padStart(2, '0')}`, `Customer ${i}`, `hello ${i}`)
  const browser = await launchBrowser(t)
  const { context } = await agentPage(t, browser, s.url)
  const page = await context.newPage()
  const start = Date.now()
  await page.goto(s.url)
  await page.waitForSelector('[role=option]')
  const listMs = Date.now() - start
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null)
  t.comment(
    `first contentful paint ${fcp === null ? 'n/a' : Math.round(fcp) + ' ms'}; conversation list rendered ${listMs} ms after navigation`,
  )
  t.ok((await listRows(page)).length > 0)
  // No WhatsApp token: sandbox mode, and the inbox says so.
  const banner = page.locator('.sandbox-banner')
  await banner.waitFor()
  t.match(await banner.textContent(), /Sandbox mode/)
  t.equal(await banner.locator('a').getAttribute('href'), '/sandbox')
})

t.test('keyboard: arrows move through conversations, Enter goes to the composer, Esc closes; phone layout', async (t) => {
  const s = await startServer(t, { sqlite: true })
  for (const [i, n] of ['Ann', 'Ben', 'Cid'].entries()) await say(s, `491510000006${i}`, n, `hi from ${n}`)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await waitRows(page, (r) => r.map((x) => x.name).join() === 'Cid,Ben,Ann', 'three conversations')
  await page.focus('#conversation-list')
  const selected = () => page.getAttribute('[role=option][aria-selected="true"]', 'data-conversation-id')
  const nameOf = async () => page.textContent('.conv-header h2')
  await page.keyboard.press('ArrowDown')
  await page.waitForSelector('.conv-header h2 >> text=Cid')
  await page.keyboard.press('ArrowDown')
  await page.waitForSelector('.conv-header h2 >> text=Ben')
  t.equal(await nameOf(), 'Ben')
  await page.keyboard.press('ArrowUp')
  await page.waitForSelector('.conv-header h2 >> text=Cid')
  t.ok(await selected(), 'the open conversation is the selected option')
  await page.keyboard.press('Enter')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'composer-input', 'Enter moves to the composer')
  await page.keyboard.type('line one')
  await page.keyboard.press('Shift+Enter')
  await page.keyboard.type('line two')
  t.equal(await page.inputValue('#composer-input'), 'line one\nline two', 'Shift+Enter is a new line')
  await page.keyboard.press('Alt+ArrowDown')
  await page.waitForSelector('.conv-header h2 >> text=Ben')
  await page.keyboard.press('Alt+ArrowUp')
  await page.waitForSelector('.conv-header h2 >> text=Cid')
  t.equal(await page.inputValue('#composer-input'), 'line one\nline two', 'the draft is kept per conversation')
  await page.keyboard.press('Escape')
  await page.waitForSelector('.empty-pane')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'conversation-list', 'Esc returns to the list')

  // Every control has an accessible name.
  const unnamed = await page.$$eval('button, input, textarea, select, [role=listbox]', (els) =>
    els
      .filter((e) => (e as HTMLElement).offsetParent !== null)
      .filter((e) => !(e.getAttribute('aria-label') || e.textContent?.trim() || (e as HTMLInputElement).labels?.length))
      .map((e) => e.outerHTML.slice(0, 80)),
  )
  t.same(unnamed, [], 'no unnamed control')

  // A phone: the list or the conversation, with a way back.
  await page.setViewportSize({ width: 390, height: 844 })
  t.ok(await page.isVisible('#conversation-list'), 'the list fills the phone screen')
  await page.click('[role=option] >> text=Ann')
  await page.waitForSelector('.conv-header h2 >> text=Ann')
  t.notOk(await page.isVisible('#conversation-list'), 'the conversation replaces the list')
  await page.click('[aria-label="Back to conversations"]')
  await page.waitForSelector('#conversation-list', { state: 'visible' })
  t.pass('back to the list')
})

t.test('outside the 24-hour window the composer is a template picker with a field per parameter', async (t) => {
  const s = await startServer(t, { sqlite: true })
  if (!s.app.services.sandbox) {
    await t.skip('sandbox mode (templates from the Graph emulator) is not available on this tree', () => {})
    return
  }
  // The customer last wrote 25 hours ago: free text would be refused, templates only.
  const from = '4915100000071'
  const old = text(from, 'yesterday')
  old.timestamp = String(Math.floor(Date.now() / 1000) - 25 * 3600)
  t.equal((await s.webhook(envelope(value({ contacts: [contact(from, 'Wim')], messages: [old] })))).status, 200)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await waitRows(page, (r) => r[0]?.name === 'Wim', 'listed')
  t.match(await page.textContent('[role=option] .win'), /Template only/, 'the list says so')
  await openConversation(page, (await listRows(page))[0]!.id)
  t.equal(await page.locator('#composer-input').count(), 0, 'no free-text box')
  await page.waitForSelector('select option[value="order_update|en"]', { state: 'attached' })
  await page.selectOption('select', 'order_update|en')
  const fields = page.locator('.tpl-param input')
  t.equal(await fields.count(), 3, 'one field per parameter')
  t.ok(await page.isDisabled('button:has-text("Send template")'), 'not sendable until filled')
  for (const [i, v] of ['Wim', '#7', 'Monday'].entries()) await fields.nth(i).fill(v)
  t.match(await page.textContent('.tpl-preview'), 'Hi Wim, your order #7 has shipped and should arrive by Monday.')
  await page.click('button:has-text("Send template")')
  await waitForBubbles(page, ['yesterday', 'Hi Wim, your order #7 has shipped and should arrive by Monday.'])
  await page.waitForSelector('.msg.out[data-message-id]')
  t.pass("the template went out and its bubble is the server's message")
})

t.test('browser offline while messages arrive: after it is back, every message once', async (t) => {
  const s = await startServer(t, { sqlite: true })
  await say(s, '4915100000011', 'Olga', 'before')
  const browser = await launchBrowser(t)
  const { context, page } = await agentPage(t, browser, s.url)
  await openConversation(page, (await listRows(page))[0]!.id)
  await waitForBubbles(page, ['before'])

  await markDocument(page)
  await context.setOffline(true)
  await page.waitForSelector('[data-connection="offline"], [data-connection="reconnecting"]', { timeout: LIVE_MS })
  const missed = ['gap 1', 'gap 2', 'gap 3']
  for (const m of missed) await say(s, '4915100000011', 'Olga', m)
  await say(s, '4915100000012', 'Pedro', 'new while offline')
  await context.setOffline(false)
  await waitLive(page)
  await waitForBubbles(page, ['before', ...missed], RECOVER_MS)
  t.same(await bubbleTexts(page), ['before', ...missed], 'in order, each once')
  t.ok(await sameDocument(page), 'no reload')
  await waitRows(page, (r) => r[0]?.name === 'Pedro', 'the conversation that started offline is listed')
})

t.test('ten tabs of one agent: all live, one stream; the next tab takes over when the leader closes', async (t) => {
  const s = await startServer(t, { sqlite: true })
  await say(s, '4915100000021', 'Tabitha', 'hello tabs')
  const browser = await launchBrowser(t)
  const { context, page: first } = await agentPage(t, browser, s.url)
  const pages = [first]
  for (let i = 1; i < 10; i++) {
    const p = await context.newPage()
    watchPage(t, p, `tab ${i}`)
    await p.goto(s.url)
    await p.waitForSelector('[role=option]')
    pages.push(p)
  }
  for (const p of pages) await waitLive(p)
  await until(() => s.app.services.hub.size === 1, LIVE_MS, 'one stream for ten tabs')
  t.equal(s.app.services.hub.size, 1, 'the server sees one stream')

  await say(s, '4915100000022', 'Uma', 'to every tab')
  for (const p of pages) await waitRows(p, (r) => r[0]?.name === 'Uma' && r[0].preview === 'to every tab', 'every tab updates')

  // The leader (the first tab, which took the lock first) closes; another takes over.
  await first.close()
  const rest = pages.slice(1)
  await until(() => s.app.services.hub.size === 1, RECOVER_MS, 'a new leader reconnects')
  await say(s, '4915100000023', 'Vera', 'after the leader left')
  for (const p of rest) await waitRows(p, (r) => r[0]?.name === 'Vera', 'every remaining tab updates')
  t.equal(s.app.services.hub.size, 1, 'still one stream')
})

t.test('XSS corpus in message text, contact names, filenames and other fields executes nothing', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const corpus = [
    `<img src=x onerror="window.__xss=1">`,
    `<script>window.__xss=1</script>`,
    `"><svg onload=window.__xss=1>`,
    `javascript:window.__xss=1`,
    `<a href="javascript:window.__xss=1">click</a>`,
    `<iframe src="javascript:window.__xss=1"></iframe>`,
    `https://x.test/" onmouseover="window.__xss=1`,
    `{{constructor.constructor('window.__xss=1')()}}`,
    `<style>*{display:none}</style>`,
    `&lt;img src=x onerror=window.__xss=1&gt;`,
  ]
  const from = '4915100000031'
  for (const [i, p] of corpus.entries()) {
    const name = `${p} #${i}`
    const msgs = [
      text(from, p),
      inbound(from, 'document', { id: `doc${i}`, mime_type: 'application/pdf', filename: `${p}.pdf`, caption: p }),
      inbound(from, 'image', { id: `img${i}`, mime_type: 'image/jpeg', caption: p }),
      inbound(from, 'location', { latitude: `1" onerror="x`, longitude: 2, name: p, address: p }),
      inbound(from, 'contacts', [{ name: { formatted_name: p }, phones: [{ phone: p }] }]),
      inbound(from, 'interactive', { type: 'button_reply', button_reply: { id: 'b', title: p } }),
      inbound(from, 'button', { text: p, payload: p }),
    ]
    const sender = `${from}${i}`
    for (const m of msgs) m.from = sender
    const res = await s.webhook(envelope(value({ contacts: [contact(sender, name)], messages: msgs })))
    t.equal(res.status, 200)
  }
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await waitRows(page, (r) => r.length === corpus.length, 'every hostile contact listed')
  const names = (await listRows(page)).map((r) => r.name)
  for (const [i, p] of corpus.entries()) t.ok(names.includes(`${p} #${i}`), `name ${i} shown as text`)

  for (const row of await listRows(page)) {
    await openConversation(page, row.id)
    await page.waitForSelector('.msg')
    const i = Number(/#(\d+)$/.exec(row.name)![1])
    // Text, captions, contact card, button replies: the payload shows as text everywhere.
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('.msg')].filter((e) => e.textContent?.includes(want)).length >= 6,
      corpus[i]!,
      { timeout: LIVE_MS },
    )
  }
  const probe = await page.evaluate(() => ({
    xss: (window as unknown as { __xss?: unknown }).__xss ?? null,
    handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
    scripts: [...document.querySelectorAll('script')].filter((e) => !e.src).length,
    frames: document.querySelectorAll('iframe, object, embed, svg:not(.svg-icon), style:not([data-vite-dev-id])').length,
    // The controls' own icons are SVG: each must sit directly in a button or a link, never in a message.
    strayIcons: [...document.querySelectorAll('svg.svg-icon')].filter(
      (e) => !e.parentElement?.matches('button, a') || e.closest('.msg .text, .msg .caption'),
    ).length,
    icons: document.querySelectorAll('svg.svg-icon').length,
    hrefs: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')!),
  }))
  t.equal(probe.xss, null, 'no payload ran')
  t.equal(probe.handlers, 0, 'no element carries an inline event handler')
  t.equal(probe.scripts, 0, 'no inline script element')
  t.equal(probe.frames, 0, 'no iframe, object, svg or style element was injected')
  t.ok(probe.icons > 0, "the controls' icons are there")
  t.equal(probe.strayIcons, 0, 'every icon is a control of the app, none inside a message')
  for (const h of probe.hrefs) t.match(h, /^(https?:\/\/|\/)/, `safe href ${h.slice(0, 60)}`)
})

t.test('agent A replies: B sees it live, ticks advance sent → delivered → read', async (t) => {
  const s = await startServer(t, { sqlite: true })
  // The sending API and the sandbox's Meta emulator are issue 4's work.
  if (!s.app.services.sandbox) {
    await t.skip('sandbox mode (the Graph emulator) is not available on this tree', () => {})
    return
  }
  const { token } = await s.login()
  const sandbox = (path: string, body: unknown) =>
    fetch(`${s.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const phone = '4915100000041'
  t.equal((await sandbox('/api/sandbox/customers', { name: 'Rita', phone })).status, 201)
  t.equal((await sandbox(`/api/sandbox/customers/${phone}/messages`, { type: 'text', text: 'can you help?' })).status, 201)

  // Issue 13: an agent works the conversations of their channels; B is a member of every one.
  await addAgentB(s)
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  const b = await agentPage(t, browser, s.url, AGENT_B)
  const id = (await listRows(a.page))[0]!.id
  await openConversation(a.page, id)
  await openConversation(b.page, id)
  await waitForBubbles(b.page, ['can you help?'])
  await a.page.fill('#composer-input', 'Sure, on it!')
  await a.page.keyboard.press('Enter')
  await waitForBubbles(a.page, ['can you help?', 'Sure, on it!'])
  await waitForBubbles(b.page, ['can you help?', 'Sure, on it!'])
  await waitRows(b.page, (r) => r[0]?.preview.includes('Sure, on it!') ?? false, "B's list shows the reply")
  const ticks = (p: Page) => p.locator('.msg.out [data-status]').last().getAttribute('data-status')
  const seen = new Map<Page, Set<string>>()
  const watch = async (p: Page, want: string[]) => {
    await until(
      async () => {
        const st = (await ticks(p)) ?? ''
        if (!seen.has(p)) seen.set(p, new Set())
        seen.get(p)!.add(st)
        return want.includes(st)
      },
      RECOVER_MS,
      `ticks ${want.join('|')}`,
    )
  }
  for (const p of [a.page, b.page]) await watch(p, ['delivered'])
  t.equal(await a.page.locator('.msg.pending').count(), 0, 'the optimistic bubble became the real one')
  // The simulated customer opens the chat: read receipts, blue ticks for both agents.
  t.equal((await sandbox(`/api/sandbox/customers/${phone}/read`, {})).status, 200)
  for (const p of [a.page, b.page]) await watch(p, ['read'])
  t.comment(`tick states observed by A: ${[...(seen.get(a.page) ?? [])].join(' → ')}`)
  t.same(await bubbleTexts(a.page), ['can you help?', 'Sure, on it!'], 'never doubled')
  t.same(await bubbleTexts(b.page), ['can you help?', 'Sure, on it!'], 'never doubled for B either')
})

t.test('more unread than one page: the divider still sits above the oldest unread message', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const from = '4915100000077'
  // 250 unread messages in one delivery: more than the 100 the first page holds.
  const msgs = Array.from({ length: 250 }, (_, i) => text(from, `u${i}`))
  t.equal((await s.webhook(envelope(value({ contacts: [contact(from, 'Many')], messages: msgs })))).status, 200)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await waitRows(page, (r) => r[0]?.name === 'Many' && r[0].unread === 250, 'the conversation with its badge')
  await openConversation(page, (await listRows(page))[0]!.id)
  await waitForBubbles(page, ['u249'])
  // Scroll to the top of the history until the divider row is rendered (the list is virtualized).
  const divider = await page.waitForFunction(
    () => {
      const box = document.querySelector('.chat-scroll')!
      box.scrollTop = 0
      const row = document.querySelector('[data-row="unread"]')
      const next = row?.nextElementSibling?.querySelector('.msg .text')?.textContent
      return row && next ? { label: row.textContent, next } : false
    },
    undefined,
    { timeout: RECOVER_MS, polling: 100 },
  )
  const got = (await divider.jsonValue()) as { label: string; next: string }
  t.equal(got.label, '250 unread messages')
  t.equal(got.next, 'u0', 'right above the oldest unread')
})
