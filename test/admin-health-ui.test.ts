// The Health page in a real Chromium (issue 16): an admin opens it from the settings and
// sees their number's signature check red, with the likely cause and what to do; it
// updates by itself when a good webhook passes again. An agent is turned away.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { AGENT_PASSWORD } from './helpers/team-fixtures.ts'
import { textWebhook } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('a red signature item with its fix, live; agents are turned away', async (t) => {
  const s = await startServer(t)
  const { auth } = s.app.services
  await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'bo@example.com',
    name: 'Bo',
    password: AGENT_PASSWORD,
    role: 'agent',
  })
  for (const body of ['Hello', 'Anyone there?']) {
    t.equal((await s.webhook(textWebhook('15550001111', 'Maria', body).payload, { secret: 'a-rotated-app-secret' })).status, 401)
  }

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await page.locator('[aria-label=Settings]').first().click()
  await page.getByRole('link', { name: 'Open health' }).click()
  const signature = page.locator('.health-card[data-channel]:not([data-channel=system]) .health-item[data-key=signature]').first()
  await signature.and(page.locator('[data-status=red]')).waitFor({ timeout: LIVE_MS })
  t.equal(new URL(page.url()).pathname, '/health')
  t.match(await signature.locator('.health-text').textContent(), /the app secret is probably wrong/)
  t.match(await signature.locator('.health-fix').textContent(), /What to do:.*App Secret/)
  t.equal(await page.locator('.health-summary[data-status=attention]').count(), 1, 'the summary says something needs attention')
  // The server's own items: no backup yet is red, with its fix; the disk is green.
  const backup = page.locator('.health-card[data-channel=system] .health-item[data-key=backup]')
  t.equal(await backup.getAttribute('data-status'), 'red')
  t.match(await backup.locator('.health-fix').textContent(), /BACKUP_INTERVAL_HOURS/)
  t.equal(await page.locator('.health-card[data-channel=system] .health-item[data-key=disk]').getAttribute('data-status'), 'ok')

  // The secret is fixed in Meta's dashboard: the next delivery passes and the page follows by itself.
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Now it works').payload)).status, 200)
  await signature.and(page.locator('[data-status=info]')).waitFor({ timeout: LIVE_MS })
  t.match(await signature.locator('.health-text').textContent(), /pass again/)
  t.equal(await signature.locator('.health-fix').count(), 0, 'nothing to do any more')

  // Reload: /health opens on its own.
  await page.reload()
  await signature.waitFor({ timeout: LIVE_MS })

  const agent = await agentPage(t, browser, s.url, { email: 'bo@example.com', password: AGENT_PASSWORD })
  await agent.page.locator('[aria-label=Settings]').first().click()
  await agent.page.locator('.settings-body').waitFor({ timeout: LIVE_MS })
  t.equal(await agent.page.locator('a[href="/health"]').count(), 0, 'no link in the settings')
  await agent.page.goto(`${s.url}/health`)
  await agent.page.getByText('The health page is for admins').waitFor({ timeout: LIVE_MS })
})
