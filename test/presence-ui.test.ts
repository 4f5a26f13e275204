// Viewing and typing in a real Chromium, two agents in two browser contexts (issue 14,
// "Proven by"): A types and B sees "A is typing" within a second; it disappears within
// 10 s after A stops; the list row carries a marker; nobody ever sees themselves.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer } from './helpers/server.ts'
import { AGENT_B, addAgentB } from './helpers/team-fixtures.ts'
import { say } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, listRows, LIVE_MS, openConversation } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

/** The header's presence line, as the agent reads it. */
const presenceLine = (p: Page) =>
  p
    .locator('.conv-header .presence-line')
    .textContent()
    .then((x) => x ?? '')
const waitLine = (p: Page, pred: string, arg: string, timeout = LIVE_MS) =>
  p.waitForFunction(
    ([kind, text]) => {
      const line = document.querySelector('.conv-header .presence-line')?.textContent ?? ''
      return kind === 'has' ? line.includes(text!) : !line.includes(text!)
    },
    [pred, arg],
    { timeout, polling: 50 },
  )

t.test('A types, B sees "Admin is typing…" within a second, and it goes when A stops', async (t) => {
  const s = await startServer(t)
  await addAgentB(s)
  await say(s, '4915100000001', 'Xavier', 'x1')
  await say(s, '4915100000002', 'Yara', 'where is my parcel')
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  const b = await agentPage(t, browser, s.url, AGENT_B)
  const rows = await listRows(a.page)
  const yara = rows.find((r) => r.name === 'Yara')!.id
  const xavier = rows.find((r) => r.name === 'Xavier')!.id
  await openConversation(a.page, yara)
  await openConversation(b.page, yara)

  // Each sees the other viewing, never themselves.
  await waitLine(b.page, 'has', 'Admin is viewing')
  await waitLine(a.page, 'has', 'Bea is viewing')
  t.notMatch(await presenceLine(a.page), /Admin/, 'A never sees themselves')
  t.notMatch(await presenceLine(b.page), /Bea/, 'B never sees themselves')

  // A types: B sees it within a second.
  const input = a.page.locator('#composer-input')
  await input.click()
  const typedAt = Date.now()
  await input.pressSequentially('Your parcel', { delay: 20 })
  await waitLine(b.page, 'has', 'Admin is typing…')
  const seenAfter = Date.now() - typedAt
  t.ok(seenAfter < 1000 + 11 * 20, `B saw "Admin is typing…" ${seenAfter} ms after A's first key`)
  // B's list row has the pen marker; Xavier's none.
  await b.page.waitForSelector(`#conv-${yara} .presence-marker.typing`, { timeout: LIVE_MS })
  t.equal(await b.page.locator(`#conv-${xavier} .presence-marker`).count(), 0)
  t.equal(await a.page.locator(`#conv-${yara} .presence-marker.typing`).count(), 0, 'A’s own typing marks nothing for A')

  // A stops typing: within 10 s B no longer sees "typing" (A still views it).
  const stoppedAt = Date.now()
  await waitLine(b.page, 'lacks', 'typing', 10_000)
  t.ok(Date.now() - stoppedAt < 10_000, `gone ${Date.now() - stoppedAt} ms after A stopped`)
  await waitLine(b.page, 'has', 'Admin is viewing')

  // Sending ends "typing" at once (the emptied composer says "viewing").
  await input.pressSequentially(' is on its way', { delay: 20 })
  await waitLine(b.page, 'has', 'Admin is typing…')
  await input.press('Enter')
  await waitLine(b.page, 'lacks', 'typing', 3000)

  // A opens another conversation: B no longer sees A in Yara's.
  await openConversation(a.page, xavier)
  await waitLine(b.page, 'lacks', 'Admin')
  t.equal(await b.page.locator(`#conv-${yara} .presence-marker`).count(), 0, 'the list marker went too')
  await b.page.waitForSelector(`#conv-${xavier} .presence-marker.viewing`, { timeout: LIVE_MS })

  // Nothing of it reached the event log.
  const presenceRows = (await s.sql.get<{ n: number }>("SELECT count(*) AS n FROM events WHERE type = 'presence'"))!
  t.equal(presenceRows.n, 0, 'no presence in the event log')
})
