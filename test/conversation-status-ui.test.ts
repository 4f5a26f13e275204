// Resolve / Reopen in a real Chromium (issue 11 point 1): the header's button and its
// Alt+R shortcut move the conversation out of (and back into) the Open list for every
// agent, live, and the timeline shows the centred system line.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from './helpers/server.ts'
import { AGENT_B, addAgentB } from './helpers/team-fixtures.ts'
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

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const names = async (p: Page) => (await listRows(p)).map((r) => r.name).join()
const waitNames = (p: Page, want: string) =>
  p.waitForFunction(
    (w) => [...document.querySelectorAll('[role=option][data-conversation-id] .conv-name')].map((e) => e.textContent).join() === w,
    want,
    { timeout: LIVE_MS, polling: 50 },
  )
const systemLines = (p: Page) => p.$$eval('.system-line', (els) => els.map((e) => e.textContent ?? ''))

t.test('Resolve leaves the Open list for every agent and shows the system line; Alt+R reopens', async (t) => {
  const s = await startServer(t)
  // Issue 13: an agent works the conversations of their channels; B is a member of every one.
  await addAgentB(s)
  await say(s, '4915100000001', 'Xavier', 'x1')
  await say(s, '4915100000002', 'Yara', 'my parcel never came')
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  const b = await agentPage(t, browser, s.url, AGENT_B)
  for (const p of [a.page, b.page]) await waitNames(p, 'Yara,Xavier')
  const yara = (await listRows(a.page))[0]!.id
  await openConversation(a.page, yara)
  await openConversation(b.page, yara)
  await waitForBubbles(a.page, ['my parcel never came'])

  const button = a.page.locator('.conv-header .status-toggle')
  t.equal(await button.textContent().then((x) => x?.trim()), 'Resolve')
  t.match(await button.getAttribute('title'), /Alt\+R/, 'the shortcut is in the title')
  await button.click()

  // Both agents' Open lists lose it; both timelines show the line.
  for (const p of [a.page, b.page]) {
    await waitNames(p, 'Xavier')
    await p.waitForSelector('.system-line', { timeout: LIVE_MS })
  }
  for (const p of [a.page, b.page]) {
    const lines = await systemLines(p)
    t.equal(lines.length, 1)
    t.match(lines[0], /^Admin resolved this · \d{2}:\d{2}/)
  }
  t.equal(
    (await listRows(b.page)).find((r) => r.id === yara),
    undefined,
    'B’s Open list no longer has it',
  )
  t.equal(
    await b.page
      .locator('.conv-header .status-toggle')
      .textContent()
      .then((x) => x?.trim()),
    'Reopen',
    'B’s header offers Reopen',
  )
  const row = (await a.page.$$eval('.system-line', (els) => els.map((e) => getComputedStyle(e).textAlign)))[0]
  t.equal(row, 'center', 'a centred line, not a bubble')
  t.equal(await a.page.locator('.msg .text', { hasText: 'resolved this' }).count(), 0, 'not a message bubble')

  // The customer sees nothing; the preview is the customer's message still.
  const resolved = (await (
    await fetch(`${s.url}/api/conversations/${yara}`, { headers: { authorization: `Bearer ${(await s.login()).token}` } })
  ).json()) as {
    conversation: { lastMessagePreview: string; status: string }
  }
  t.equal(resolved.conversation.status, 'resolved')
  t.equal(resolved.conversation.lastMessagePreview, 'my parcel never came')

  // Alt+R on B reopens it; A sees it come back and the second line.
  await b.page.locator('.conv-header h2').click()
  await b.page.keyboard.press('Alt+KeyR')
  for (const p of [a.page, b.page]) {
    await waitNames(p, 'Yara,Xavier')
    await p.waitForFunction(() => document.querySelectorAll('.system-line').length === 2, undefined, { timeout: LIVE_MS, polling: 50 })
  }
  t.match((await systemLines(a.page))[1], /^Bea reopened this · /)
  t.equal(await names(a.page), 'Yara,Xavier')
  t.equal(await button.textContent().then((x) => x?.trim()), 'Resolve')
})
