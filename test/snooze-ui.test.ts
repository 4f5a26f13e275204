// Snooze and pending in a real Chromium (issue 14): the header's Snooze menu (presets on
// the workspace's clock, labelled with the time here) takes the conversation out of the
// Open list; a customer's webhook brings it back live, and so does its time coming (the
// server's fake clock); the list's Pending and Snoozed filters; the timeline's lines.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer, apiCall } from './helpers/server.ts'
import { say } from './helpers/wa.ts'
import {
  agentPage,
  E2E_FILE_TIMEOUT_MS,
  ensureWebBuild,
  launchBrowser,
  listRows,
  LIVE_MS,
  openConversation,
  waitForBubbles,
} from './helpers/browser.ts'
import { snoozePresets } from '../src/domain/team/snooze-presets.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const ZONE = 'Asia/Tokyo'

const waitNames = (p: Page, want: string) =>
  p.waitForFunction(
    (w) => [...document.querySelectorAll('[role=option][data-conversation-id] .conv-name')].map((e) => e.textContent).join() === w,
    want,
    { timeout: LIVE_MS, polling: 50 },
  )
const systemLines = (p: Page) => p.$$eval('.system-line', (els) => els.map((e) => e.textContent ?? ''))
const waitLines = (p: Page, n: number) =>
  p.waitForFunction((k) => document.querySelectorAll('.system-line').length === k, n, { timeout: LIVE_MS, polling: 50 })
const chip = (p: Page, label: string) => p.locator('.filters .chip', { hasText: new RegExp(`^${label}$`) })

t.test('snooze from the header: out of Open, back when the customer writes and when the time comes', async (t) => {
  const clock = { offset: 0, now: () => Date.now() + clock.offset }
  const s = await startServer(t, { clock, env: { SESSION_TTL_SECONDS: String(30 * 86400) } })
  const admin = apiCall(s.url, (await s.login()).token)
  t.equal((await admin('PATCH', '/api/settings/workspace', { timezone: ZONE })).status, 200)
  await say(s, '4915100000001', 'Xavier', 'x1')
  await say(s, '4915100000002', 'Yara', 'call me tomorrow')
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await waitNames(page, 'Yara,Xavier')
  const yara = (await listRows(page))[0]!.id
  await openConversation(page, yara)
  await waitForBubbles(page, ['call me tomorrow'])

  // The menu: three presets, each with the time it is here, and "Pick a time…".
  await page.click('.conv-header .snooze-btn')
  const menu = page.locator('.snooze-menu')
  await menu.waitFor({ timeout: LIVE_MS })
  const labels = await menu.locator('[role=menuitem]').allTextContents()
  t.equal(labels.length, 4)
  // An hour from now may be past midnight: then the label says so ("Tomorrow 12:10 AM").
  t.match(labels[0], /^1 hour (Tomorrow )?\d{1,2}:\d{2}/)
  t.match(labels[1], /^Tomorrow 9:00 /)
  t.match(labels[2], /^Next Monday 9:00 /)
  t.equal(labels[3], 'Pick a time…')
  // Tomorrow 9:00 is Tokyo's (the workspace's), whatever the browser's timezone.
  const before = snoozePresets(Date.now(), ZONE).tomorrow9
  const shown = Number(await menu.locator('[data-snooze=tomorrow]').getAttribute('data-until'))
  t.ok(shown === before || shown === snoozePresets(Date.now(), ZONE).tomorrow9, 'the preset is 9:00 in the workspace’s timezone')

  // 1 hour: it leaves the Open list, the header says until when, the timeline says who.
  await menu.locator('[data-snooze=hour]').click()
  await waitNames(page, 'Xavier')
  await page.waitForSelector('.snoozed-bar', { timeout: LIVE_MS })
  t.match(await page.locator('.snoozed-bar').textContent(), /^Snoozed until (Tomorrow )?\d{1,2}:\d{2}/)
  await waitLines(page, 1)
  t.match((await systemLines(page))[0], /^Admin snoozed this until (Tomorrow )?\d{1,2}:\d{2}( [AP]M)? · /)
  t.equal(await page.locator('.status-picker').getAttribute('data-status'), 'snoozed')

  // The Snoozed filter has it.
  await chip(page, 'Snoozed').click()
  await waitNames(page, 'Yara')
  await chip(page, 'Open').click()
  await waitNames(page, 'Xavier')

  // The customer writes: back in Open, live, with the line below their message.
  await say(s, '4915100000002', 'Yara', 'any news?')
  await waitNames(page, 'Yara,Xavier')
  await waitLines(page, 2)
  t.match((await systemLines(page))[1], /^Snooze ended: the customer wrote · /)
  await page.waitForSelector('.snoozed-bar', { state: 'detached', timeout: LIVE_MS })

  // Snoozed until tomorrow 9:00, then the time comes (the server's clock moves).
  await page.click('.conv-header .snooze-btn')
  await page.locator('.snooze-menu [data-snooze=tomorrow]').click()
  await waitNames(page, 'Xavier')
  await waitLines(page, 3)
  clock.offset += 2 * 86_400_000
  s.app.services.snoozes.kick()
  await waitNames(page, 'Yara,Xavier')
  await waitLines(page, 4)
  t.match((await systemLines(page))[3], /^Snooze ended · /)
  t.equal(await page.locator('.status-picker').getAttribute('data-status'), 'open')

  // Pick a time…: a chosen time in the browser's own clock.
  await page.click('.conv-header .snooze-btn')
  await page.locator('.snooze-menu [data-snooze=pick]').click()
  const serverNow = clock.now()
  // In the browser's own timezone (a string: the test's compiled helpers do not exist in the page).
  const local = await page.evaluate<string>(
    `(() => { const d = new Date(${serverNow + 3 * 3600_000}); const p = (n) => String(n).padStart(2, '0');
      return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()) })()`,
  )
  await page.fill('.snooze-pick input[type=datetime-local]', local)
  await page.click('.snooze-pick button[type=submit]')
  await waitNames(page, 'Xavier')
  await page.waitForSelector('.snoozed-bar', { timeout: LIVE_MS })
  // Unsnooze: back to Open.
  await page.click('.snoozed-bar .unsnooze')
  await waitNames(page, 'Yara,Xavier')
  await waitLines(page, 6)
  t.match((await systemLines(page))[5], /^Admin unsnoozed this · /)

  // Pending: its own status and filter.
  await page.click('.conv-header .status-picker .pick-btn')
  await page.locator('.status-picker [role=menuitemradio][data-value=pending]').click()
  await waitNames(page, 'Xavier')
  await waitLines(page, 7)
  t.match((await systemLines(page))[6], /^Admin marked this pending · /)
  await chip(page, 'Pending').click()
  await waitNames(page, 'Yara')
  const api = (await admin('GET', `/api/conversations/${yara}`)).body.conversation
  t.equal(api.status, 'pending')
  t.equal(api.snoozedUntil, null)
})
