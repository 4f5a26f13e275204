// Exporting a transcript in a real Chromium (issue 15): an admin picks Export transcript
// in the conversation header's "⋯" menu, chooses HTML with the notes, and the browser
// receives the file (Playwright's download event) with the conversation in it, the
// customer's markup escaped; an agent's header has no such menu.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { apiCall, PHONE_NUMBER_ID } from './helpers/server.ts'
import { teamServer, AGENT_PASSWORD } from './helpers/team-fixtures.ts'
import { textWebhook } from './helpers/wa.ts'
import {
  agentPage,
  E2E_FILE_TIMEOUT_MS,
  ensureWebBuild,
  launchBrowser,
  LIVE_MS,
  listRows,
  openConversation,
  waitForBubbles,
} from './helpers/browser.ts'
import { setMembers } from './helpers/members.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const NAUGHTY = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'

t.test('an admin downloads the HTML transcript from the header; an agent has no export', async (t) => {
  const ts = await teamServer(t)
  const { s } = ts
  const res = await s.webhook(textWebhook('15550007001', 'Maria', NAUGHTY).payload)
  t.equal(res.status, 200)
  const conv = (await ts.api<{ conversations: Array<{ id: number }> }>('GET', '/api/conversations')).body.conversations[0]!.id
  t.equal((await ts.api('POST', `/api/conversations/${conv}/notes`, { text: 'Call her back on Monday' })).status, 201)
  const agent = await ts.addAgent('Ana Lima', 'ana@example.com')
  const channel = (await s.sql.get<{ id: number }>('SELECT id FROM channels WHERE external_id = ?', [PHONE_NUMBER_ID]))!.id
  await setMembers(s.app.services, agent.id, [channel])

  const browser = await launchBrowser(t)
  const admin = await agentPage(t, browser, s.url)
  const page = admin.page
  await page.waitForFunction(() => document.querySelectorAll('[role=option][data-conversation-id]').length === 1, null, {
    timeout: LIVE_MS,
  })
  t.equal((await listRows(page))[0]!.id, conv)
  await openConversation(page, conv)
  await waitForBubbles(page, [NAUGHTY])

  const more = page.locator('.conv-header button[aria-label="More actions"]')
  await more.waitFor({ timeout: LIVE_MS })
  await more.click()
  await page.getByRole('menuitem', { name: 'Export transcript…' }).click()
  const form = page.getByRole('form', { name: 'Export transcript' })
  t.ok(await form.getByLabel('HTML (prints well)').isChecked(), 'HTML is the default')
  t.notOk(await form.getByLabel('Include internal notes').isChecked(), 'notes only when asked for')
  await form.getByLabel('Include internal notes').check()
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: LIVE_MS }),
    form.getByRole('button', { name: 'Download' }).click(),
  ])
  t.match(download.suggestedFilename(), new RegExp(`^conversation-${conv}-\\d{4}-\\d{2}-\\d{2}\\.html$`))
  const html = readFileSync((await download.path())!, 'utf8')
  t.match(html, /^<!doctype html>/)
  t.match(html, '<title>Conversation with Maria</title>')
  t.match(html, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;')
  t.notMatch(html, /<script|<img/i)
  t.match(html, 'Call her back on Monday', 'with the note, as chosen')
  t.match(html, 'by Admin')
  await page.getByRole('status').filter({ hasText: 'Saved conversation-' }).waitFor({ timeout: LIVE_MS })

  // Plain text, without notes, from the same form.
  await form.getByLabel('Plain text').check()
  await form.getByLabel('Include internal notes').uncheck()
  const [txt] = await Promise.all([
    page.waitForEvent('download', { timeout: LIVE_MS }),
    form.getByRole('button', { name: 'Download' }).click(),
  ])
  t.match(txt.suggestedFilename(), /\.txt$/)
  const body = readFileSync((await txt.path())!, 'utf8')
  t.match(body, NAUGHTY)
  t.notMatch(body, 'Call her back')

  // On a phone the menu stays on screen.
  await page.setViewportSize({ width: 375, height: 800 })
  await page.waitForFunction(() => innerWidth === 375)
  const box = await page.locator('.conv-menu-list').boundingBox()
  t.ok(box && box.x >= 0 && box.x + box.width <= 375, `the menu fits a 375 px screen (${box?.x}…${box && box.x + box.width})`)
  await page.setViewportSize({ width: 1200, height: 1400 })

  // The agent: the same header, no "⋯" menu (and the route refuses them anyway).
  const ana = await agentPage(t, browser, s.url, { email: 'ana@example.com', password: AGENT_PASSWORD })
  await ana.page.waitForSelector(`[role=option][data-conversation-id="${conv}"]`, { timeout: LIVE_MS })
  await openConversation(ana.page, conv)
  await waitForBubbles(ana.page, [NAUGHTY])
  // The header's lazily loaded controls are in: the menu would be too by now.
  await ana.page.waitForSelector('.conv-header .status-controls', { timeout: LIVE_MS })
  t.equal(await ana.page.locator('.conv-header button[aria-label="More actions"]').count(), 0, 'no menu for an agent')
  t.equal(await ana.page.getByText('Export transcript').count(), 0)
  const anaCall = apiCall(s.url, await ts.tokenOf('ana@example.com'))
  t.equal((await anaCall('GET', `/api/conversations/${conv}/transcript`)).status, 403)
})
