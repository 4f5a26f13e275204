// Notes and mentions in a real Chromium (issue 14), two agents against the Graph API
// emulator: A switches the composer to Note (amber, available with the window closed
// too), types `@Be`, picks Bea from the list with the keyboard and adds the note; B's
// Mentions badge counts it, a notification names it, the list jumps to the note and
// highlights it; A deletes it and it leaves both timelines. The emulator never hears
// of any of it.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startPair } from './helpers/emulator.ts'
import { ADMIN } from './helpers/server.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS, listRows, openConversation } from './helpers/browser.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

const BEA = { email: 'bea@example.com', password: 'another good password', name: 'Bea' }

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

/** Records the page's browser notifications instead of showing them (permission granted). */
async function recordNotifications(page: Page) {
  // A string, not a function: the test runner's transpiler would add helpers the page lacks.
  await page.addInitScript(`
    window.__shown = []
    window.Notification = class {
      static permission = 'granted'
      static requestPermission = async () => 'granted'
      constructor(title, opts) { window.__shown.push({ title, body: (opts && opts.body) || '' }) }
      close() {}
    }
  `)
}

const background = (p: Page, sel: string) => p.$eval(sel, (e) => getComputedStyle(e).backgroundColor)

t.test('A notes @Bea from the composer; Bea is notified, jumps to it; nothing reaches the emulator', async (t) => {
  const p = await startPair(t)
  const { auth } = p.parley.app.services
  const bea = await auth.createUser({ ...BEA, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
  await setMembers(p.parley.app.services, bea.id, await channelIdsOf(p.parley.app.services, await auth.defaultWorkspace()))
  const otto = await auth.createUser({
    email: 'otto@example.com',
    password: 'otto password 12',
    name: 'Otto',
    workspaceId: await auth.defaultWorkspace(),
    role: 'agent',
  })
  await setMembers(p.parley.app.services, otto.id, [])
  const bert = await auth.createUser({
    email: 'bert@example.com',
    password: 'bert password 123',
    name: 'Bert',
    workspaceId: await auth.defaultWorkspace(),
    role: 'agent',
  })
  await setMembers(p.parley.app.services, bert.id, await channelIdsOf(p.parley.app.services, await auth.defaultWorkspace()))
  await p.emu.customer('Maria', '15550004444')
  await p.emu.say('15550004444', 'my parcel never came')
  // A second customer whose window closed a day ago: the composer offers templates only, and Note.
  await p.emu.customer('Yusuf', '15550005555')
  await p.emu.say('15550005555', 'hello?', { timestamp: Date.now() - 25 * 3600_000 })
  const before = await p.emu.stats()

  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, p.parley.url, ADMIN)
  const b = await agentPage(t, browser, p.parley.url, BEA)
  await recordNotifications(b.page)
  await b.page.reload()
  await b.page.waitForSelector('[data-connection="live"]', { timeout: LIVE_MS * 6 })

  const maria = (await listRows(a.page)).find((r) => r.name === 'Maria')!.id
  await openConversation(a.page, maria)
  const replyBg = await background(a.page, '.composer')
  await a.page.getByRole('tab', { name: 'Note' }).click()
  const input = a.page.locator('#note-input')
  await input.waitFor({ timeout: LIVE_MS })
  t.equal(await input.getAttribute('placeholder'), 'Write an internal note — only your team sees it')
  t.not(await background(a.page, '.note-composer'), replyBg, 'the note composer has its own colour')

  await input.pressSequentially('Refund approved, @Be')
  const picker = a.page.getByRole('listbox', { name: 'Mention a teammate' })
  await picker.waitFor({ timeout: LIVE_MS })
  const options = picker.getByRole('option')
  t.same(await options.allTextContents(), ['Bea', 'Bert'], 'channel members only (not Otto), and not oneself')
  const selected = () => picker.locator('[aria-selected="true"]').textContent()
  t.equal(await selected(), 'Bea')
  await input.press('ArrowDown')
  t.equal(await selected(), 'Bert', 'arrows move')
  await input.press('ArrowDown')
  t.equal(await selected(), 'Bea', 'and wrap')
  await input.press('Escape')
  t.equal(await picker.count(), 0, 'Esc closes the list')
  t.equal(await a.page.locator(`[data-conversation="${maria}"]`).count(), 1, '…and only the list, not the conversation')
  await input.press('a')
  await picker.waitFor({ timeout: LIVE_MS })
  t.same(await options.allTextContents(), ['Bea'], 'typing narrows it')
  await input.press('Tab')
  t.equal(await input.inputValue(), 'Refund approved, @Bea ', 'Tab inserts the full name')
  await input.pressSequentially('please call her. @O')
  t.equal(await picker.count(), 0, 'Otto (no access to the channel) is not offered')
  await input.press('Backspace')
  await input.press('Backspace')
  await input.press('Enter')

  const note = a.page.locator('.note-bubble')
  await note.waitFor({ timeout: LIVE_MS })
  t.equal(await note.locator('.note-text').textContent(), 'Refund approved, @Bea please call her.')
  t.equal(await note.locator('.note-badge').textContent(), 'Note')
  t.equal(await note.locator('.note-author').textContent(), 'Admin')
  t.equal(await note.locator('.mention').textContent(), '@Bea', 'the mention is marked')
  t.equal(await input.inputValue(), '', 'the composer is cleared')
  t.equal(await a.page.locator('.msg .text', { hasText: 'Refund approved' }).count(), 0, 'not a message bubble')
  t.equal(
    (await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM mentions WHERE user_id = ?', [bert.id]))!.n,
    0,
    'Bert, offered but not chosen, was not mentioned',
  )
  t.equal((await p.parley.sql.get<{ n: number }>('SELECT count(*) AS n FROM mentions WHERE user_id = ?', [bea.id]))!.n, 1, 'Bea was')

  // Bea: the badge, the toast, the notification; the list jumps to the note and highlights it.
  const badge = b.page.locator('.mentions-btn')
  await b.page.waitForSelector('.mentions-btn[data-mentions-unread="1"]', { timeout: LIVE_MS })
  t.equal(await badge.getAttribute('aria-label'), 'Mentions, 1 unread')
  await b.page.locator('.toast', { hasText: 'Admin mentioned you: Maria' }).waitFor({ timeout: LIVE_MS })
  const shown = await b.page.evaluate(() => (window as unknown as { __shown: Array<{ title: string; body: string }> }).__shown)
  t.same(shown, [{ title: 'Admin mentioned you: Maria', body: 'Refund approved, @Bea please call her.' }], 'one browser notification')
  await badge.click()
  const row = b.page.getByRole('dialog', { name: 'Mentions' }).locator('.mention-row')
  await row.waitFor({ timeout: LIVE_MS })
  t.equal(await row.getAttribute('data-unread'), 'true')
  t.match(await row.textContent(), /Admin in Maria/)
  await row.click()
  await b.page.waitForSelector(`[data-conversation="${maria}"] .note-bubble.note-focus`, { timeout: LIVE_MS })
  await b.page.waitForSelector('.mentions-btn[data-mentions-unread="0"]', { timeout: LIVE_MS })
  t.equal(await b.page.locator('.note-bubble .note-delete').count(), 0, 'Bea cannot delete Admin’s note')

  // The window-closed conversation: templates only for a reply, and Note all the same.
  const yusuf = (await listRows(a.page)).find((r) => r.name === 'Yusuf')!.id
  await openConversation(a.page, yusuf)
  await a.page.getByRole('tab', { name: 'Reply' }).click()
  await a.page.waitForSelector('.composer.template', { timeout: LIVE_MS })
  await a.page.getByRole('tab', { name: 'Note' }).click()
  await a.page.locator('#note-input').fill('Window closed; waiting for her template reply')
  await a.page.locator('#note-input').press('Enter')
  await a.page.locator('.note-bubble', { hasText: 'Window closed' }).waitFor({ timeout: LIVE_MS })

  // A deletes the first note: gone from Bea's open timeline too.
  await openConversation(a.page, maria)
  await a.page.locator('.note-bubble .note-delete').click()
  await a.page.locator('.note-confirm').getByRole('button', { name: 'Delete' }).click()
  for (const pg of [a.page, b.page])
    await pg.waitForFunction(() => document.querySelectorAll('.note-bubble').length === 0, undefined, { timeout: LIVE_MS, polling: 50 })

  const after = await p.emu.stats()
  t.equal(after.sendRequests - before.sendRequests, 0, 'the emulator received no send request')
  for (const phone of ['15550004444', '15550005555'])
    t.same(
      (await p.emu.messages(phone)).filter((m) => m.direction === 'out'),
      [],
      `nothing reached ${phone}`,
    )
})
