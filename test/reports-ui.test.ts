// The reports page in a real Chromium (issue 15): an admin opens Reports from the settings,
// sees the day's figures in the table, groups by agent, and downloads the table as CSV; an
// agent has no Reports link and the page turns them away.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { apiCall, startServer } from './helpers/server.ts'
import { AGENT_PASSWORD } from './helpers/team-fixtures.ts'
import { textWebhook } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS, RECOVER_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('an admin reads the table, groups it by agent and downloads its CSV', async (t) => {
  const s = await startServer(t)
  const call = apiCall(s.url, (await s.login()).token)
  await s.webhook(textWebhook('15550001111', 'Maria', 'Where is my parcel?').payload)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  t.equal((await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'On its way', clientMessageId: 'r1' })).status, 202)
  const { auth } = s.app.services
  await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'bo@example.com',
    name: 'Bo',
    password: AGENT_PASSWORD,
    role: 'agent',
  })

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  // Settings → Reports leads there (the top bar has a Reports link too).
  await page.locator('[aria-label=Settings]').first().click()
  await page.getByRole('link', { name: 'Open reports' }).click()
  const table = page.locator('.report-table table')
  // The first report starts the report threads (each loads its modules through tsx): seconds
  // on a busy machine. A state waited for with room, not a speed assertion.
  await table.waitFor({ timeout: RECOVER_MS })
  t.equal(new URL(page.url()).pathname, '/reports')
  // Last 7 days by day: seven rows, today's last, with the conversation and both messages.
  await page.locator('.report-table tbody tr').nth(6).waitFor({ timeout: LIVE_MS })
  t.equal(await page.locator('.report-table tbody tr').count(), 7)
  const today = page.locator('.report-table tbody tr').last()
  const cells = await today.locator('td').allTextContents()
  t.same(cells.slice(0, 5), ['1', '0', '0', '1', '1'], 'opened, reopened, resolved, in, out')
  t.equal(await page.locator('.report-chart svg').count(), 2, 'two charts')

  await page.getByLabel('Group by').selectOption('agent')
  await page.locator('.report-table tbody th', { hasText: 'Admin' }).waitFor({ timeout: LIVE_MS })
  const admin = page.locator('.report-table tbody tr', { has: page.locator('th', { hasText: 'Admin' }) })
  t.equal((await admin.locator('td').allTextContents())[4], '1', 'the admin sent one message')

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()])
  t.match(download.suggestedFilename(), /^parley-report-agent-.*\.csv$/)
  const csv = readFileSync((await download.path())!, 'utf8')
  const lines = csv.trimEnd().split('\r\n')
  t.match(lines[0], /^group,label,conversations_opened,/)
  t.ok(
    lines.some((l) => l.split(',')[1] === 'Admin' && l.split(',')[6] === '1'),
    'the admin’s row with one message out',
  )

  // Reload: /reports opens on its own (the server serves the app there).
  await page.reload()
  await table.waitFor({ timeout: LIVE_MS })
  t.equal(await page.locator('a[href="/reports"][aria-current=page]').count(), 1, 'the top bar marks Reports')

  // An agent's settings have no Reports link; the page itself says it is for admins.
  const agent = await agentPage(t, browser, s.url, { email: 'bo@example.com', password: AGENT_PASSWORD })
  await agent.page.locator('[aria-label=Settings]').first().click()
  await agent.page.locator('.settings-body').waitFor({ timeout: LIVE_MS })
  t.equal(await agent.page.locator('a[href="/reports"]').count(), 0, 'no link in the top bar or the settings')
  await agent.page.goto(`${s.url}/reports`)
  await agent.page.getByText('Reports are for admins').waitFor({ timeout: LIVE_MS })
})
