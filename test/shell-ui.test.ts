// The inbox's shell in a real Chromium (issue 11, points 5, 7, 10 and 11): drafts that
// survive a reload, an ended session signed in again over the page, one top bar on
// every page that stays on one line at every width, and message actions on a phone.
import t from 'tap'
import type { Page } from 'playwright-core'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'
import { say } from './helpers/wa.ts'
import {
  agentPage,
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

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

/** A marker in the page's document: a reload would drop it. */
const markDocument = (p: Page) => p.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true))
const sameDocument = (p: Page) => p.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true)

const composer = (p: Page) => p.inputValue('#composer-input')

t.test('a draft survives a reload, per conversation, and is gone once sent', async (t) => {
  const s = await startServer(t)
  await say(s, '4915100000701', 'Dora', 'hello')
  await say(s, '4915100000702', 'Emil', 'hi')
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  const rows = await listRows(page)
  const dora = rows.find((r) => r.name === 'Dora')!.id
  const emil = rows.find((r) => r.name === 'Emil')!.id
  await openConversation(page, dora)
  await page.fill('#composer-input', 'Half a thought for Dora')
  await openConversation(page, emil)
  await page.fill('#composer-input', 'Something for Emil')

  await page.reload()
  await page.waitForSelector(`[data-conversation="${emil}"] #composer-input`)
  t.equal(new URL(page.url()).pathname, `/c/${emil}`)
  t.equal(await composer(page), 'Something for Emil', "the open conversation's draft is back after a reload")
  await openConversation(page, dora)
  t.equal(await composer(page), 'Half a thought for Dora', "and the other conversation's too")

  await page.press('#composer-input', 'Enter')
  await waitForBubbles(page, ['hello', 'Half a thought for Dora'])
  t.equal(await composer(page), '', 'sent: the composer is empty')
  await page.reload()
  await page.waitForSelector(`[data-conversation="${dora}"] #composer-input`)
  t.equal(await composer(page), '', 'and a sent draft does not come back')
})

t.test('an ended session: sign in over the page, same conversation, draft intact, live again', async (t) => {
  const s = await startServer(t)
  await say(s, '4915100000711', 'Fritz', 'before')
  const browser = await launchBrowser(t)
  const { context, page } = await agentPage(t, browser, s.url)
  const id = (await listRows(page))[0]!.id
  await openConversation(page, id)
  await page.fill('#composer-input', 'A reply I was writing')
  await markDocument(page)

  // Another client ends this browser's session (a logout with the same token).
  const token = (await context.cookies()).find((c) => c.name === 'parley_session')!.value
  const out = await apiCall(s.url, token)('POST', '/api/auth/logout', {})
  t.equal(out.status, 200)
  const dialog = page.locator('[role=dialog]')
  await dialog.waitFor({ timeout: RECOVER_MS })
  t.match(await dialog.textContent(), /Your session has ended/)
  t.equal(new URL(page.url()).pathname, `/c/${id}`, 'the page stays where it was')
  t.equal(await composer(page), 'A reply I was writing', 'with the draft under the form')

  // The customer writes while nobody is signed in; signing in again shows it.
  await say(s, '4915100000711', 'Fritz', 'while you were away')
  t.equal(await dialog.locator('input[name=email]').inputValue(), ADMIN.email, 'the email is filled in')
  await dialog.locator('input[name=password]').fill(ADMIN.password)
  await dialog.locator('button[type=submit]').click()
  await dialog.waitFor({ state: 'detached', timeout: LIVE_MS })
  await waitLive(page)
  t.ok(await sameDocument(page), 'no reload')
  t.equal(new URL(page.url()).pathname, `/c/${id}`, 'the same conversation, not /')
  t.equal(await composer(page), 'A reply I was writing', 'the draft intact')
  await waitForBubbles(page, ['before', 'while you were away'], RECOVER_MS)
  t.pass('the stream resumed from where it was: the message sent meanwhile arrived')
})

t.test('a 401 from the contacts and campaigns client leads to the same sign-in over the page', async (t) => {
  const s = await startServer(t)
  const browser = await launchBrowser(t)
  const { context, page } = await agentPage(t, browser, s.url)
  await page.click('[data-topbar] [aria-label="Contacts and campaigns"]')
  await page.waitForSelector('h1:text-is("Campaigns")')
  await markDocument(page)
  // The session ends on the server while its stream stays open: only the page's next request learns it.
  const token = (await context.cookies()).find((c) => c.name === 'parley_session')!.value
  const { sid } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }
  await s.app.services.auth.revokeSession(sid)
  await page.click('.area-tabs >> text=Contacts')
  const dialog = page.locator('[role=dialog]')
  await dialog.waitFor({ timeout: LIVE_MS })
  t.ok(await sameDocument(page), 'no reload to /')
  t.equal(new URL(page.url()).pathname, '/contacts')
  await dialog.locator('input[name=password]').fill(ADMIN.password)
  await dialog.locator('button[type=submit]').click()
  await dialog.waitFor({ state: 'detached', timeout: LIVE_MS })
  await waitLive(page)
  t.equal(new URL(page.url()).pathname, '/contacts', 'still on the contacts page')
  t.ok(await sameDocument(page))
})

t.test('a short session: warned before it ends, then signed in again in place when it has', async (t) => {
  // 30 s: inside the five-minute warning from the start, and over soon enough to wait for.
  const s = await startServer(t, { env: { SESSION_TTL_SECONDS: '30' } })
  await say(s, '4915100000721', 'Greta', 'hallo')
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  const notice = page.locator('[data-session-notice]')
  await notice.waitFor({ timeout: LIVE_MS })
  t.match(await notice.textContent(), /Your session ends in \d+ min — sign in again to keep working/)
  const id = (await listRows(page))[0]!.id
  await openConversation(page, id)
  await page.fill('#composer-input', 'still typing')

  // Nothing is done: the session runs out by itself.
  const dialog = page.locator('[role=dialog]')
  await dialog.waitFor({ timeout: 30_000 + RECOVER_MS })
  t.match(await dialog.textContent(), /Your session has ended/)
  await dialog.locator('input[name=password]').fill(ADMIN.password)
  await dialog.locator('button[type=submit]').click()
  await dialog.waitFor({ state: 'detached', timeout: LIVE_MS })
  await waitLive(page)
  t.equal(new URL(page.url()).pathname, `/c/${id}`)
  t.equal(await composer(page), 'still typing')
})

interface BarLayout {
  height: number
  vw: number
  docWidth: number
  signOut: { left: number; right: number; width: number }
  /** Whether every visible item of the bar shares one line. */
  oneLine: boolean
}

const barLayout = (page: Page) =>
  page.evaluate((): BarLayout => {
    const bar = document.querySelector<HTMLElement>('[data-topbar]')!
    const items = [...bar.querySelectorAll<HTMLElement>('a, button, [data-connection]')]
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width > 0 && r.height > 0)
    const out = bar.querySelector('[aria-label="Sign out"]')!.getBoundingClientRect()
    return {
      height: bar.getBoundingClientRect().height,
      vw: innerWidth,
      docWidth: document.documentElement.scrollWidth,
      signOut: { left: out.left, right: out.right, width: out.width },
      oneLine: Math.max(...items.map((r) => r.top)) < Math.min(...items.map((r) => r.bottom)),
    }
  })

t.test('the top bar stays on one line while reconnecting, from 320 px to desktop', async (t) => {
  const s = await startServer(t)
  await say(s, '4915100000731', 'Hana', 'hi')
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url, ADMIN, { width: 1280, height: 800 })
  // Every new stream is refused, and the open one is closed: "Reconnecting… · synced … · Retry now".
  await page.route(/\/stream(\?|$)/, (r) => r.abort())
  s.app.services.hub.closeWhere(() => true)
  await page.waitForSelector('[data-topbar] [data-connection="reconnecting"] .synced', { timeout: RECOVER_MS })
  await page.waitForSelector('[data-topbar] [aria-label="Retry now"]')

  for (const width of [1280, 768, 375, 320]) {
    await page.setViewportSize({ width, height: 800 })
    await page.waitForFunction((w) => innerWidth === w, width)
    const l = await barLayout(page)
    t.ok(l.oneLine, `${width} px: every item on one line`)
    t.ok(l.height <= 60, `${width} px: the bar is one line high (${l.height} px)`)
    t.ok(l.signOut.width > 0 && l.signOut.left >= 0 && l.signOut.right <= l.vw, `${width} px: Sign out is on screen`)
    t.ok(l.docWidth <= l.vw, `${width} px: nothing sticks out sideways`)
  }
  // On a phone the labels are gone from sight but not from the accessibility tree.
  t.equal(await page.isVisible('[data-topbar] [aria-label="Sign out"] .tb-label'), false)
  t.match(await page.getAttribute('[data-topbar] [data-connection]', 'title'), /^Reconnecting… · last synced /)
  // On a desktop everything is spelled out.
  await page.setViewportSize({ width: 1280, height: 800 })
  for (const label of ['Contacts & campaigns', 'Sign out', 'Retry now']) {
    t.ok(await page.isVisible(`[data-topbar] .tb-label:text-is("${label}")`), `"${label}" is written out at 1280 px`)
  }
  t.ok(await page.isVisible('[data-topbar] .synced'), 'with when it last synced')
})

t.test('Contacts, Campaigns and Settings have the same top bar: Live, navigation, Sign out', async (t) => {
  const s = await startServer(t)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  const bar = page.locator('[data-topbar]')
  const check = async (where: string) => {
    t.equal(await bar.count(), 1, `${where}: one top bar`)
    await bar.locator('[data-connection="live"]').waitFor({ timeout: LIVE_MS })
    t.ok(await bar.locator('[aria-label="Sign out"]').isVisible(), `${where}: Sign out`)
    t.ok(await bar.locator('[aria-label="Inbox"]').isVisible(), `${where}: the way back to the inbox`)
    t.equal(
      await bar.locator('[aria-label="Contacts and campaigns"] .tb-label').textContent(),
      'Contacts & campaigns',
      `${where}: the megaphone says what it is`,
    )
    t.ok(await bar.locator('[aria-label=Settings]').isVisible(), `${where}: Settings for an admin`)
  }
  await check('inbox')
  await bar.locator('[aria-label="Contacts and campaigns"]').click()
  await page.waitForSelector('h1:text-is("Campaigns")')
  t.equal(await bar.locator('[aria-current=page]').getAttribute('aria-label'), 'Contacts and campaigns')
  await check('campaigns')
  await page.click('.area-tabs >> text=Contacts')
  await page.waitForSelector('h1:text-is("Contacts")')
  await check('contacts')
  await bar.locator('[aria-label=Settings]').click()
  await page.waitForSelector('.settings h2 >> text=Channels')
  await check('settings')
  // From the settings straight to campaigns, and back to the inbox.
  await bar.locator('[aria-label="Contacts and campaigns"]').click()
  await page.waitForSelector('h1:text-is("Campaigns")')
  t.equal(await page.locator('.settings').count(), 0, 'the settings are gone')
  await bar.locator('[aria-label=Inbox]').click()
  await page.waitForSelector('#conversation-list', { state: 'visible' })
  t.equal(new URL(page.url()).pathname, '/')

  // Sign out from the campaigns page works like anywhere else.
  await bar.locator('[aria-label="Contacts and campaigns"]').click()
  await page.waitForSelector('h1:text-is("Campaigns")')
  await bar.locator('[aria-label="Sign out"]').click()
  await page.waitForSelector('input[name=password]')
  t.equal(await page.locator('[data-topbar]').count(), 0, 'signed out: the login screen')
})

t.test('on a phone, message actions appear when the bubble is tapped, not under every bubble', async (t) => {
  const s = await startServer(t)
  for (const m of ['one', 'two', 'three']) await say(s, '4915100000741', 'Ines', m)
  const browser = await launchBrowser(t)
  // A phone: touch, no mouse hovering anywhere.
  const context = await browser.newContext({ viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true })
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  watchPage(t, page)
  await page.goto(s.url)
  await page.fill('input[name=email]', ADMIN.email)
  await page.fill('input[name=password]', ADMIN.password)
  await page.tap('button[type=submit]')
  await waitLive(page)
  const id = (await listRows(page))[0]!.id
  await page.tap(`[role=option][data-conversation-id="${id}"]`)
  await waitForBubbles(page, ['one', 'two', 'three'])
  const visibleActions = () =>
    page.$$eval('.msg', (els) =>
      els
        .filter((e) => getComputedStyle(e.querySelector('.msg-actions') ?? e).display !== 'none' && e.querySelector('.msg-actions'))
        .map((e) => e.querySelector('.text')?.textContent),
    )
  t.same(await visibleActions(), [], 'no actions under the bubbles')
  await page.locator('.msg:has-text("two") .bubble').tap()
  await page.waitForFunction(() =>
    [...document.querySelectorAll('.msg')].some(
      (e) => e.querySelector('.msg-actions') && getComputedStyle(e.querySelector('.msg-actions')!).display !== 'none',
    ),
  )
  t.same(await visibleActions(), ['two'], 'the tapped message shows its actions')
  await page.locator('.msg:has-text("two") [aria-label="Reply to this message"]').tap()
  await page.waitForSelector('.replying')
  t.match(await page.textContent('.replying'), /two/, 'and they work')
})
