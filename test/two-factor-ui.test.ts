// Two-factor sign-in in a real Chromium (issue 16): an admin turns it on in Settings (the
// code computed here from the setup key shown, with otplib), keeps the recovery codes,
// signs out, and signs in again with password + code; then requires it for everyone, and
// the audit log section shows what happened. The app's clock is faked and moved a step so
// the sign-in uses a fresh code.
import t from 'tap'
import { generate } from 'otplib'
import { ADMIN, startServer } from './helpers/server.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const STEP = 30_000

t.test('enable 2FA in settings, sign out, sign in with the code; the audit log shows it', async (t) => {
  const clock = { t: Math.floor(Date.now() / STEP) * STEP + 5_000, now: () => clock.t }
  const s = await startServer(t, { clock })
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)

  await page.locator('[aria-label=Settings]').first().click()
  const section = page.locator('section[aria-labelledby=two-factor-heading]')
  await section.locator('[data-2fa-status]').waitFor({ timeout: LIVE_MS })
  t.match(await section.locator('[data-2fa-status]').textContent(), /^Off/)
  await section.getByRole('button', { name: 'Set up two-factor sign-in' }).click()
  const keyField = section.locator('input[data-2fa-secret]')
  await keyField.waitFor({ timeout: LIVE_MS })
  const secret = await keyField.inputValue()
  t.match(secret, /^[A-Z2-7]{16,}$/)
  t.match(await section.locator('input[data-2fa-url]').inputValue(), /^otpauth:\/\/totp\//)
  await section.locator('input[name=code]').fill(await generate({ secret, epoch: Math.floor(clock.t / 1000) }))
  await section.getByRole('button', { name: 'Turn on two-factor sign-in' }).click()
  const codes = section.locator('[data-recovery-codes] li')
  await codes.first().waitFor({ timeout: LIVE_MS })
  t.equal(await codes.count(), 10, 'ten recovery codes, shown once')
  const recovery = (await codes.allTextContents()).map((c) => c.trim())
  await section.getByRole('button', { name: 'I have saved them' }).click()
  await section.locator('[data-2fa-status]', { hasText: 'On. 10 recovery codes left.' }).waitFor({ timeout: LIVE_MS })

  // Sign out; the sign-in asks for the code after the password.
  await page.locator('[aria-label="Sign out"]').click()
  await page.fill('input[name=email]', ADMIN.email)
  await page.fill('input[name=password]', ADMIN.password)
  await page.click('button[type=submit]')
  const step = page.locator('[data-totp-step]')
  await step.waitFor({ timeout: LIVE_MS })
  await step.locator('input[name=code]').fill('000000')
  await step.getByRole('button', { name: 'Sign in' }).click()
  await step.getByRole('alert').waitFor({ timeout: LIVE_MS })
  t.match(await step.getByRole('alert').textContent(), /not right/, 'a wrong code is refused in words')
  clock.t += STEP
  await step.locator('input[name=code]').fill(await generate({ secret, epoch: Math.floor(clock.t / 1000) }))
  await step.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForSelector('#conversation-list', { timeout: LIVE_MS })

  // Signed out again: a recovery code works instead of the app's code.
  await page.locator('[aria-label="Sign out"]').click()
  await page.fill('input[name=email]', ADMIN.email)
  await page.fill('input[name=password]', ADMIN.password)
  await page.click('button[type=submit]')
  await step.waitFor({ timeout: LIVE_MS })
  await step.getByRole('button', { name: /recovery code/ }).click()
  await step.locator('input[name=code]').fill(recovery[0]!)
  await step.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForSelector('#conversation-list', { timeout: LIVE_MS })

  // Admins: require it for everyone; the audit log lists the sign-ins and the change.
  await page.locator('[aria-label=Settings]').first().click()
  await section.locator('[data-2fa-status]', { hasText: '9 recovery codes left' }).waitFor({ timeout: LIVE_MS })
  // The switch follows the server's answer (a click, then the state it saved), not the click alone.
  await section.locator('input[name=require2fa]').click()
  await section.locator('[data-2fa-required=on]').waitFor({ timeout: LIVE_MS })
  const { units, twoFactor, auth } = s.app.services
  const ws0 = await auth.defaultWorkspace()
  t.equal(await units.read(() => twoFactor.requiredUnit(ws0)), true)
  const audit = page.locator('section[aria-labelledby=audit-heading]')
  // Older entries than a page holds: 60 filler lines before the ones of this test.
  const ws = await s.app.services.auth.defaultWorkspace()
  const firstId = (await s.sql.get<{ id: number }>('SELECT min(id) AS id FROM audit_log'))!.id
  await s.sql.run('UPDATE audit_log SET id = id + 1000')
  for (let i = 0; i < 60; i++)
    await s.sql.run('INSERT INTO audit_log (id, workspace_id, at, action, actor_label) VALUES (?, ?, ?, ?, ?)', [
      firstId + i,
      ws,
      clock.t - 3600_000,
      'test.filler',
      `<b>filler ${i}</b>`,
    ])
  // SQLite numbers the next entry after the highest id; PostgreSQL's identity goes on from its
  // own sequence, which would now run into the moved ids.
  if (s.sql.dialect === 'postgres')
    await s.sql.get(`SELECT setval(pg_get_serial_sequence('audit_log', 'id'), (SELECT max(id) FROM audit_log))`)
  await audit.getByRole('button', { name: 'Show entries' }).click()
  await audit.locator('tr[data-audit-entry="2fa.requirement_changed"]').waitFor({ timeout: LIVE_MS })
  t.equal(await audit.locator('tbody tr').count(), 50, 'a page of 50')
  await audit.locator('[data-audit-more]').click()
  await audit.locator('tbody tr[data-audit-entry="test.filler"]').nth(59).waitFor({ timeout: LIVE_MS })
  t.equal(await audit.locator('[data-audit-more]').count(), 0, 'no more pages')
  t.equal(await audit.locator('b').count(), 0, 'labels are text, never markup')
  t.ok((await audit.locator('tbody tr').last().textContent())?.includes('<b>filler 0</b>'), 'the oldest last')
  t.equal(await audit.locator('tr[data-audit-entry="2fa.enabled"]').count(), 1)
  t.equal(await audit.locator('tr[data-audit-entry="2fa.recovery_used"]').count(), 1)
  t.ok((await audit.locator('tr[data-audit-entry="auth.login_failed"]').count()) >= 1, 'the wrong code is there')
  const [download] = await Promise.all([page.waitForEvent('download'), audit.getByRole('button', { name: 'Export CSV' }).click()])
  t.equal(download.suggestedFilename(), 'parley-audit-log.csv')
})

t.test('required for everyone: a person without 2FA sets it up at sign-in and reaches the inbox', async (t) => {
  const clock = { t: Math.floor(Date.now() / STEP) * STEP + 5_000, now: () => clock.t }
  const s = await startServer(t, { clock })
  const { auth, twoFactor, units } = s.app.services
  const ws = await auth.defaultWorkspace()
  await auth.createUser({ workspaceId: ws, email: 'ana@example.com', name: 'Ana', password: 'ana password 1', role: 'agent' })
  await units.transact(() => twoFactor.setRequiredUnit(ws, true))
  const browser = await launchBrowser(t)
  const context = await browser.newContext()
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  await page.goto(s.url)
  await page.fill('input[name=email]', 'ana@example.com')
  await page.fill('input[name=password]', 'ana password 1')
  await page.click('button[type=submit]')
  const setup = page.locator('[data-totp-setup-step]')
  const keyField = setup.locator('input[data-2fa-secret]')
  await keyField.waitFor({ timeout: LIVE_MS })
  const secret = await keyField.inputValue()
  await setup.locator('input[name=code]').fill(await generate({ secret, epoch: Math.floor(clock.t / 1000) }))
  await setup.getByRole('button', { name: 'Turn on two-factor sign-in' }).click()
  await setup.locator('[data-recovery-codes] li').first().waitFor({ timeout: LIVE_MS })
  await setup.getByRole('button', { name: 'I have saved them' }).click()
  await page.waitForSelector('#conversation-list', { timeout: LIVE_MS })
  t.pass('in the inbox')
})
