// Settings → Team in Chromium (issue 13): an admin invites an agent with a channel, the
// link is shown once; the agent opens it in another browser context, sees who invited
// them, chooses a name and password and lands signed in; the admin sees them in the
// people table, deactivates them, and the agent's open page is signed out.
import t from 'tap'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'
import { agentPage, ensureWebBuild, launchBrowser, waitLive, watchPage, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

t.test('admin invites, the agent accepts in a second context and lands signed in', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t)
  const browser = await launchBrowser(t)
  const { page: admin } = await agentPage(t, browser, s.url, ADMIN)
  await waitLive(admin)
  await admin.click('[aria-label=Settings]')
  await admin.waitForSelector('#team-heading')
  const channel = (await apiCall(s.url, (await s.login()).token)('GET', '/api/channels')).body.channels[0] as { id: number; name: string }

  const form = admin.getByRole('form', { name: 'Invite someone' })
  await form.locator('input[name=email]').fill('bea@example.com')
  await form.getByLabel(`Invite to ${channel.name}`).check()
  await form.getByRole('button', { name: 'Invite' }).click()
  const link = await admin.locator('[data-invite-url]').inputValue({ timeout: LIVE_MS })
  t.match(link, new RegExp(`^${s.url}/invite#token=`), 'the link is shown once to copy')
  await admin.getByRole('list', { name: 'Pending invitations' }).getByText('bea@example.com').waitFor({ timeout: LIVE_MS })

  // The agent, in a browser of their own.
  const context = await browser.newContext()
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  watchPage(t, page, 'invited')
  await page.goto(link)
  await page.locator('[data-invite-from]').getByText('Admin').waitFor({ timeout: LIVE_MS })
  t.match(await page.locator('[data-invite-from]').innerText(), /Admin invited you to My business as an agent/)
  t.equal(new URL(page.url()).hash, '', 'the token leaves the address bar')
  await page.fill('input[name=name]', 'Bea')
  await page.fill('input[name=password]', 'bea password 1')
  await page.fill('input[name=confirm]', 'bea password 1')
  await page.click('button[type=submit]')
  await page.waitForSelector('#conversation-list')
  await waitLive(page)
  t.equal(new URL(page.url()).pathname, '/', 'signed in, in the inbox')
  // The agent's settings: their profile only.
  await page.click('[aria-label=Settings]')
  await page.waitForSelector('#profile-heading')
  t.equal(await page.locator('#team-heading').count(), 0, 'agents do not see the team')
  t.equal(await page.locator('#channels-heading').count(), 0, 'nor the channels')

  // The admin's table shows Bea with her channel; the invitation is no longer pending.
  await admin.reload()
  await admin.waitForSelector('#team-heading')
  const row = admin.locator('tr', { hasText: 'bea@example.com' })
  await row.waitFor({ timeout: LIVE_MS })
  t.ok(await row.getByLabel(`${channel.name} for Bea`).isChecked(), 'her channel is set')
  t.equal(await admin.getByRole('list', { name: 'Pending invitations' }).count(), 0, 'nothing pending')

  // The same link again: a clear page, never a form.
  const again = await context.newPage()
  watchPage(t, again, 'again')
  await again.goto(link)
  await again.locator('[data-invite-refused]').getByText('already used').waitFor({ timeout: LIVE_MS })
  await again.close()

  // Deactivating her signs her open page out (the sign-in form over it).
  await row.getByRole('button', { name: 'Deactivate Bea' }).click()
  await row.locator('[data-state]').getByText('Deactivated').waitFor({ timeout: LIVE_MS })
  await page.getByRole('dialog').getByText('Your session has ended').waitFor({ timeout: LIVE_MS })
  t.pass('the deactivated agent’s page is signed out')
})

t.test('forgot password shows on the sign-in page only when mail works', async (t) => {
  await ensureWebBuild()
  const browser = await launchBrowser(t)
  const plain = await startServer(t)
  const ctx = await browser.newContext()
  t.teardown(() => ctx.close().catch(() => {}))
  const p1 = await ctx.newPage()
  watchPage(t, p1, 'no-mail')
  await p1.goto(plain.url)
  await p1.waitForSelector('input[name=email]')
  t.equal(await p1.getByRole('button', { name: 'Forgot password?' }).count(), 0, 'no SMTP: no link')

  // Port 9 refuses: the mail fails in the background, and the page still answers the same.
  const mailing = await startServer(t, { env: { SMTP_URL: 'smtp://127.0.0.1:9', PUBLIC_URL: 'http://parley.test' } })
  const p2 = await ctx.newPage()
  watchPage(t, p2, 'mail')
  await p2.goto(mailing.url)
  await p2.getByRole('button', { name: 'Forgot password?' }).click()
  await p2.fill('input[name=email]', 'nobody@example.com')
  await p2.getByRole('button', { name: 'Mail me a link' }).click()
  await p2.locator('[data-reset-sent]').getByText('nobody@example.com').waitFor({ timeout: LIVE_MS })
  t.pass('the same answer for any address')
})
