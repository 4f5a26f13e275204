// Settings → Webhooks in Chromium (issue 16): an admin adds an endpoint for a real receiver
// process, sees its signing secret once (gone after dismissing it and after a reload), the
// receiver gets a customer's message verified with that secret, the endpoint's deliveries
// show it delivered with its status, and the admin deletes the endpoint.
import t from 'tap'
import { ADMIN, startServer } from './helpers/server.ts'
import { say } from './helpers/wa.ts'
import { freePort } from './helpers/process.ts'
import { startReceiver } from './helpers/webhook-receiver.ts'
import { agentPage, ensureWebBuild, launchBrowser, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

t.test('add an endpoint, copy the secret once, see its deliveries, delete it', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_CAP_MS: '300' } })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/hooks?src=parley`

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url, ADMIN)
  await page.click('[aria-label=Settings]')
  await page.waitForSelector('#webhooks-heading')
  await page.getByText('No webhook endpoints yet.').waitFor({ timeout: LIVE_MS })

  const form = page.getByRole('form', { name: 'Add a webhook endpoint' })
  // A refusal is worded next to the form.
  await form.locator('input[name=url]').fill('ftp://example.com/x')
  await form.getByRole('button', { name: 'Add endpoint' }).click()
  await form.getByRole('alert').waitFor({ timeout: LIVE_MS })
  t.match(await form.getByRole('alert').textContent(), /https:\/\//)

  await form.locator('input[name=url]').fill(url)
  t.ok(await form.locator('input[value="message.created"]').isChecked(), 'message.created is chosen to begin with')
  await form.locator('input[value="labels.changed"]').check()
  await form.getByRole('button', { name: 'Add endpoint' }).click()

  const secretInput = page.locator('input[data-webhook-secret]')
  await secretInput.waitFor({ timeout: LIVE_MS })
  const secret = await secretInput.inputValue()
  t.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/, 'the secret, to copy')
  const row = page.getByRole('list', { name: 'Webhook endpoints' }).getByRole('listitem').filter({ hasText: url })
  await row.waitFor({ timeout: LIVE_MS })
  t.match(await row.locator('.webhook-url').textContent(), url)
  t.match(await row.textContent(), /message\.created, labels\.changed/)
  t.match(await row.locator('[data-webhook-state]').textContent(), /Nothing sent yet/)

  // Dismissed, it is gone from the page; after a reload too.
  await page.getByRole('button', { name: 'I have copied it' }).click()
  await secretInput.waitFor({ state: 'detached', timeout: LIVE_MS })
  t.notOk((await page.content()).includes(secret.slice(6)), 'the secret is not on the page any more')
  await page.reload()
  await page.waitForSelector('#webhooks-heading')
  await row.waitFor({ timeout: LIVE_MS })
  t.notOk((await page.content()).includes(secret.slice(6)), 'nor after a reload')

  // A customer writes: the receiver gets it, verified with the secret the page showed.
  const receiver = await startReceiver(t, { port, secret })
  await say(s, '15550004444', 'Maria', 'Hello from the browser test')
  await receiver.until((r) => r.length >= 1, 'the message')
  t.equal(receiver.received.length, 1)
  t.ok(receiver.received[0]!.verified, 'verified by standardwebhooks')
  t.equal(receiver.received[0]!.payload!.type, 'message.created')
  t.equal(receiver.received[0]!.path, '/hooks?src=parley')

  // Its deliveries: delivered, with the status.
  await row.getByRole('button', { name: 'Show deliveries' }).click()
  const delivered = row.locator('table[aria-label="Recent deliveries"] tbody tr[data-result=delivered]')
  await delivered.first().waitFor({ timeout: LIVE_MS + 5000 })
  const cells = await delivered.first().locator('td').allTextContents()
  t.match(cells[1], /message\.created/)
  t.match(cells[1], receiver.received[0]!.id, 'the webhook-id it was sent with')
  t.equal(cells[2], '1', 'first attempt')
  t.equal(cells[3], 'Delivered')
  t.equal(cells[4], 'HTTP 200')
  await page.reload()
  await page.waitForSelector('#webhooks-heading')
  await row.waitFor({ timeout: LIVE_MS })
  t.match(await row.locator('[data-webhook-state]').textContent(), /Delivering/)

  // Delete, after a confirmation.
  await row.getByRole('button', { name: `Delete ${url}` }).click()
  await row.getByRole('button', { name: 'Delete', exact: true }).click()
  await page.getByText('No webhook endpoints yet.').waitFor({ timeout: LIVE_MS })
  t.equal((await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM webhook_endpoints'))!.n, 0)
})
