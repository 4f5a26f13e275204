// The "choose a new password" page in Chromium: the link printed by `npm run admin --
// reset-password` opens it, the token leaves the address bar, a new password signs the
// person in; the same link opened again says it was used (issue 11, point 2).
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ADMIN, startServer } from './helpers/server.ts'
import {
  agentPage,
  ensureWebBuild,
  launchBrowser,
  waitLive,
  watchPage,
  E2E_FILE_TIMEOUT_MS,
  LIVE_MS,
  RECOVER_MS,
} from './helpers/browser.ts'

const run = promisify(execFile)
t.setTimeout(E2E_FILE_TIMEOUT_MS)

t.test('a reset link opens the page, sets the password and signs in', async (t) => {
  await ensureWebBuild()
  // `npm run admin` is pointed at this DATA_DIR's SQLite file: SQLite under PARLEY_TEST_DATABASE=postgres too.
  const s = await startServer(t, { sqlite: true })
  const browser = await launchBrowser(t)
  // The same person, signed in elsewhere before the reset: that page is signed out.
  const { page: elsewhere } = await agentPage(t, browser, s.url)
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/admin.ts', 'reset-password', ADMIN.email], {
    env: { ...process.env, DATA_DIR: s.dataDir, PUBLIC_URL: s.url },
  })
  const link = /\S+\/reset-password#token=\S+/.exec(stdout)?.[0]
  if (!link) throw new Error(`no link in:\n${stdout}`)

  await elsewhere.waitForSelector('input[name=email]', { timeout: RECOVER_MS })
  t.pass('a page signed in before the reset is back at the sign-in form')

  const context = await browser.newContext()
  t.teardown(() => context.close().catch(() => {}))
  const page = await context.newPage()
  watchPage(t, page)
  await page.goto(link)
  await page.getByText(`For ${ADMIN.email}.`).waitFor({ timeout: LIVE_MS })
  t.equal(new URL(page.url()).hash, '', 'the token is dropped from the address bar')

  // Two different passwords are caught before anything is sent.
  await page.fill('input[name=password]', 'brand new password')
  await page.fill('input[name=confirm]', 'brand new passw0rd')
  await page.click('button[type=submit]')
  await page.getByRole('alert').getByText('The two passwords are not the same.').waitFor({ timeout: LIVE_MS })

  await page.fill('input[name=confirm]', 'brand new password')
  await page.click('button[type=submit]')
  await page.waitForSelector('#conversation-list')
  await waitLive(page)
  t.equal(new URL(page.url()).pathname, '/', 'signed in, in the inbox')
  await t.rejects(s.login(), 'the old password no longer works')
  await s.login({ email: ADMIN.email, password: 'brand new password' })

  // The link is single use: opened again, the page says so instead of a form.
  const again = await context.newPage()
  watchPage(t, again, 'again')
  await again.goto(link)
  await again.getByRole('alert').getByText('already used').waitFor({ timeout: LIVE_MS })
  t.equal(await again.locator('input[name=password]').count(), 0, 'no form for a used link')
})
