// The server is killed (kill -9) and started again on the same data dir while customer
// messages keep arriving (retried like Meta retries): two agents' browsers recover
// every message, once, in order, without a reload.
import t from 'tap'
import { mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openDatabase } from '../src/store/db.ts'
import { AuthService } from '../src/domain/accounts/auth.ts'
import { SqliteRunner } from '../src/store/runner.ts'
import { ChannelMembersRepo } from '../src/store/channel-members.ts'
import {
  agentPage,
  E2E_FILE_TIMEOUT_MS,
  ensureWebBuild,
  launchBrowser,
  listRows,
  openConversation,
  RECOVER_MS,
  waitForBubbles,
  waitLive,
} from './helpers/browser.ts'
import { deliverLikeMeta, freePort, spawnParley } from './helpers/browser-server.ts'
import { textWebhook } from './helpers/wa.ts'

const AGENT_B = { email: 'bea@example.com', password: 'another good password', name: 'Bea' }
const CUSTOMER = '4915100000051'
// Messages sent while the server dies and comes back; the kill lands among them.
const MESSAGES = 24
const KILL_AFTER = 8
// Spacing between customer messages: a steady trickle across the outage.
const SEND_EVERY_MS = 100

// A real browser on a shared 2-core machine: more room than tap's default per file.
t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('kill -9 and restart while messages arrive: both browsers end with every message once', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-restart-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  let server = await spawnParley(t, { dataDir, port })

  // A second agent, written straight into the database the process uses (WAL allows it).
  const db = openDatabase(path.join(dataDir, 'parley.db'), { busyTimeoutMs: 5000 })
  const auth = new AuthService({ units: new SqliteRunner(db.$client) }, Date.now)
  const agentB = await auth.createUser({ ...AGENT_B, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
  // Issue 13: an agent works the conversations of their channels (here: every one).
  const everyChannel = db.$client.prepare('SELECT id FROM channels').pluck().all() as number[]
  await new SqliteRunner(db.$client).transact(() => new ChannelMembersRepo().set(agentB.id, everyChannel))
  db.$client.close()

  await deliverLikeMeta(server.url, textWebhook(CUSTOMER, 'Kim', 'm0').payload)
  const browser = await launchBrowser(t)
  const agents = [await agentPage(t, browser, server.url), await agentPage(t, browser, server.url, AGENT_B)]
  const id = (await listRows(agents[0]!.page))[0]!.id
  for (const { page } of agents) {
    await openConversation(page, id)
    await waitForBubbles(page, ['m0'])
    // A marker in this document: if anything reloaded the page, it would be gone.
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true))
  }

  const texts = Array.from({ length: MESSAGES }, (_, i) => `r${i + 1}`)
  let retried = 0
  const sending = (async () => {
    for (const [i, body] of texts.entries()) {
      if (i === KILL_AFTER) {
        await server.kill('SIGKILL')
        // Restart in the background; the sender keeps trying like Meta does.
        void spawnParley(t, { dataDir, port }).then((s) => (server = s))
      }
      const attempts = await deliverLikeMeta(`http://127.0.0.1:${port}`, textWebhook(CUSTOMER, 'Kim', body).payload)
      retried += attempts - 1
      await new Promise((r) => setTimeout(r, SEND_EVERY_MS))
    }
  })()
  await sending
  t.ok(retried > 0, `the outage was real: ${retried} webhook attempts were refused and retried`)

  const all = ['m0', ...texts]
  for (const { page } of agents) {
    await waitLive(page)
    await waitForBubbles(page, all, RECOVER_MS)
    const shown = await page.$$eval('.msg .text', (els) => els.map((e) => e.textContent))
    t.same(shown, all, 'every message once, in order')
    t.equal(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, 'no reload')
  }
})

t.test('restored from a backup behind the browser: reset, refetch, the draft stays', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-reset-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const server = await spawnParley(t, { dataDir, port })
  await deliverLikeMeta(server.url, textWebhook(CUSTOMER, 'Kim', 'kept 1').payload)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, server.url)
  await openConversation(page, (await listRows(page))[0]!.id)
  await waitForBubbles(page, ['kept 1'])
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true))

  // An online backup (the session of this browser is in it), then more history.
  const backup = path.join(dataDir, 'backup.db')
  const db = openDatabase(path.join(dataDir, 'parley.db'), { busyTimeoutMs: 5000 })
  db.$client.exec(`VACUUM INTO '${backup.replace(/'/g, "''")}'`)
  db.$client.close()
  for (const m of ['lost 1', 'lost 2']) await deliverLikeMeta(server.url, textWebhook(CUSTOMER, 'Kim', m).payload)
  await waitForBubbles(page, ['kept 1', 'lost 1', 'lost 2'])
  await page.fill('#composer-input', 'my unsent draft')

  // The operator restores the backup: the browser's cursor is now ahead of the log.
  await server.kill('SIGKILL')
  for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(dataDir, `parley.db${suffix}`), { force: true })
  renameSync(backup, path.join(dataDir, 'parley.db'))
  const restored = await spawnParley(t, { dataDir, port })
  await waitLive(page)
  await deliverLikeMeta(restored.url, textWebhook(CUSTOMER, 'Kim', 'after restore').payload)
  await page.waitForFunction(
    () => {
      const texts = [...document.querySelectorAll('.msg .text')].map((e) => e.textContent)
      return texts.join('|') === 'kept 1|after restore'
    },
    undefined,
    { timeout: RECOVER_MS },
  )
  t.pass('the view shows the restored history plus what came after, nothing from the lost future')
  t.equal(await page.inputValue('#composer-input'), 'my unsent draft', 'the draft survived the reset')
  t.equal(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument), true, 'no reload')
})
