// Issue 16 in Chromium: Settings → API tokens (create, the value shown once with Copy, the
// token works from a script, last used shown, revoke) and the contacts page's "Export data" and
// "Erase…" with a typed confirmation (an admin's screens; the erased contact leaves the list).
import t from 'tap'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { agentPage, ensureWebBuild, launchBrowser, listRows, waitLive, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

t.test('an admin creates, uses and revokes a token; exports and erases a contact', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t)
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria Silva', 'Where is my order?').payload)).status, 200)
  t.equal((await s.webhook(textWebhook('15550002222', 'Pedro', 'Hello there').payload)).status, 200)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url, ADMIN)

  // Settings → API tokens: create a read-only token.
  await page.click('[aria-label=Settings]')
  await page.waitForSelector('#api-tokens-heading')
  const form = page.getByRole('form', { name: 'Create an API token' })
  await form.getByLabel('Name').fill('Nightly export')
  await form.getByLabel('Access').selectOption('read')
  await form.getByRole('button', { name: 'Create token' }).click()
  const shown = page.locator('input[data-api-token]')
  await shown.waitFor({ timeout: LIVE_MS })
  const value = await shown.inputValue()
  t.match(value, /^prl_/, 'the value is shown once')
  const row = page.getByRole('list', { name: 'API tokens' }).getByRole('listitem').filter({ hasText: 'Nightly export' })
  await row.waitFor({ timeout: LIVE_MS })
  t.match(await row.textContent(), /Read only.*never used/)

  // A script uses it; the list shows when, after a reload of the screen.
  const script = apiCall(s.url, value)
  t.equal((await script('GET', '/api/conversations')).status, 200)
  t.equal((await script('POST', '/api/labels', { name: 'x', color: '#2563eb' })).status, 403, 'read only')
  await page.getByRole('button', { name: 'Done' }).click()
  t.equal(await page.locator('input[data-api-token]').count(), 0, 'the value is gone from the page')
  await page.goto(`${s.url}/settings`)
  await page.waitForSelector('#api-tokens-heading')
  const used = page.getByRole('list', { name: 'API tokens' }).getByRole('listitem').filter({ hasText: 'Nightly export' })
  await used.filter({ hasText: 'last used' }).waitFor({ timeout: LIVE_MS })
  t.notOk(((await page.content()) as string).includes(value), 'the value is nowhere on the page')

  await page.getByRole('button', { name: 'Revoke Nightly export' }).click()
  await page.getByText('No API tokens yet.').waitFor({ timeout: LIVE_MS })
  t.equal((await script('GET', '/api/conversations')).status, 401, 'revoked')

  // Contacts: export Maria's data, then erase her with the typed confirmation.
  await page.goto(s.url)
  await page.click('a[aria-label="Contacts and campaigns"]')
  await page.click('.area-tabs >> text=Contacts')
  await page.waitForSelector('h1:has-text("Contacts")')
  await page.waitForFunction(() => document.querySelectorAll('.contacts-table tbody tr').length === 2)
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export data of Maria Silva' }).click(),
  ])
  const path = await download.path()
  const { readFileSync } = await import('node:fs')
  const exported = JSON.parse(readFileSync(path!, 'utf8'))
  t.equal(exported.contact.name ?? exported.contact.profileName, 'Maria Silva')
  t.equal(exported.conversations[0].messages[0].text, 'Where is my order?', 'the export holds her message')

  // Another inbox is open on both conversations: after the erasure it drops Maria's, live.
  const { page: inbox } = await agentPage(t, browser, s.url, ADMIN)
  await waitLive(inbox)
  await inbox.waitForFunction(() => document.querySelectorAll('[role=option][data-conversation-id]').length === 2, undefined, {
    timeout: LIVE_MS,
  })

  await page.getByRole('button', { name: 'Erase Maria Silva' }).click()
  const confirm = page.getByRole('form', { name: 'Erase Maria Silva' })
  await confirm.getByLabel("Type the contact's name or number").fill('Pedro')
  await confirm.getByRole('button', { name: 'Erase for good' }).click()
  await page.getByRole('alert').waitFor({ timeout: LIVE_MS })
  t.match(await page.getByRole('alert').textContent(), /Type the contact's name or phone number/, 'a wrong name is refused in words')
  await confirm.getByLabel("Type the contact's name or number").fill('Maria Silva')
  await confirm.getByRole('button', { name: 'Erase for good' }).click()
  await page.waitForFunction(() => document.querySelectorAll('.contacts-table tbody tr').length === 1, undefined, { timeout: LIVE_MS })
  t.equal((await s.sql.get<{ n: number }>(`SELECT count(*) AS n FROM contacts WHERE external_id = '15550001111'`))!.n, 0, 'erased')
  t.equal((await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM contacts'))!.n, 1, 'Pedro stays')
  await inbox.waitForFunction(() => document.querySelectorAll('[role=option][data-conversation-id]').length === 1, undefined, {
    timeout: LIVE_MS,
  })
  t.same(
    (await listRows(inbox)).map((r) => r.name),
    ['Pedro'],
    'the open inbox dropped her conversation',
  )
})
