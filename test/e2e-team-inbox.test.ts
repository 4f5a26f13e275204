// The inbox's team UI in a real Chromium (issue 13), two people in two browser
// contexts: an admin hands a conversation to an agent from the header's picker; it
// appears live in the agent's Mine view with its count and a notice; the timeline
// says who did what; the agent takes another with "Assign to me"; unread and the
// title count are each person's own and only what concerns them.
// A second test: a channel's customer reaches its member live and a non-member never.
import t from 'tap'
import type { Page } from 'playwright-core'
import { apiCall, startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, listRows, LIVE_MS, openConversation } from './helpers/browser.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

const AGENT_B = { email: 'bea@example.com', password: 'another good password', name: 'Bea' }

async function until(pred: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + LIVE_MS
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const counts = (p: Page) =>
  p.$$eval('[data-view]', (els) =>
    els.map((e) => `${(e as HTMLElement).dataset.view}:${e.querySelector('.view-count')?.textContent ?? '-'}`).join(' '),
  )
const lines = (p: Page) => p.$$eval('.system-line', (els) => els.map((e) => e.textContent ?? '').join('|'))

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('assign from the header: live in the assignee’s Mine, with counts, a notice and the timeline line', async (t) => {
  const s = await startServer(t)
  const auth = s.app.services.auth
  const bea = await auth.createUser({ ...AGENT_B, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
  for (const [phone, name, text] of [
    ['4915100000001', 'Xavier Smith', 'hello there'],
    ['4915100000002', 'Yara', 'hi'],
  ]) {
    const res = await s.webhook(textWebhook(phone!, name!, text!).payload)
    t.equal(res.status, 200)
  }
  // Bea works the channel those conversations came in on.
  await setMembers(s.app.services, bea.id, await channelIdsOf(s.app.services, await auth.defaultWorkspace()))
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  const b = await agentPage(t, browser, s.url, AGENT_B)
  await until(async () => (await counts(b.page)) === 'mine:0 unassigned:2 all:2', "Bea's counts")
  await b.page.click('[data-view=mine]')
  t.same(await listRows(b.page), [], 'nothing is Bea’s yet')

  // The admin hands Xavier to Bea from the picker.
  const x = (await listRows(a.page)).find((r) => r.name === 'Xavier Smith')!
  await openConversation(a.page, x.id)
  await a.page.click('.assignee-picker [aria-haspopup=menu]')
  await a.page.click(`[role=menuitemradio][data-value="${bea.id}"]`)
  await until(async () => (await listRows(b.page)).some((r) => r.name === 'Xavier Smith'), "Xavier in Bea's Mine")
  await until(async () => (await counts(b.page)) === 'mine:1 unassigned:1 all:2', "Bea's counts move")
  await until(async () => (await b.page.textContent('.toast'))?.includes('Admin assigned you: Xavier Smith') ?? false, 'the notice')
  await until(async () => (await lines(a.page)).includes('Admin assigned this to Bea'), 'the system line')
  t.equal(await a.page.getAttribute(`#conv-${x.id} .assignee`, 'aria-label'), 'Assigned to Bea', "the row shows the assignee's initials")
  // The title counts what concerns each: the admin's is Yara (unassigned) alone now.
  await until(async () => (await a.page.title()) === '(1) Parley', "the admin's title")
  await until(async () => (await b.page.title()) === '(2) Parley', "Bea's title")

  // Bea takes Yara herself.
  await b.page.click('[data-view=all]')
  const y = (await listRows(b.page)).find((r) => r.name === 'Yara')!
  await openConversation(b.page, y.id)
  await b.page.click('.assign button:has-text("Assign to me")')
  await until(async () => (await lines(b.page)).includes('Bea took this'), '"Bea took this"')
  await until(async () => (await counts(b.page)) === 'mine:2 unassigned:0 all:2', 'all of it is Bea’s')
  t.equal(await b.page.textContent('.assign .assign-btn'), 'Unassign')

  // Yara writes again: Bea sees how long she has waited; the admin's title does not count
  // a conversation that is Bea's, and Bea reading it does not read it for the admin.
  await s.webhook(textWebhook('4915100000002', 'Yara', 'are you there?').payload)
  await until(async () => /^waiting \d+ min$/.test((await b.page.textContent('.conv-header .waiting')) ?? ''), 'waiting in the header')
  await until(async () => (await a.page.title()) === 'Parley', "nothing of the admin's")
  await until(async () => (await listRows(a.page)).find((r) => r.name === 'Yara')?.unread === 2, "the admin's own unread of Yara")
})

t.test('a customer on a channel: its member sees them live, a non-member never (not listed, nothing live, 404 by URL)', async (t) => {
  const s = await startServer(t)
  const auth = s.app.services.auth
  const ws = await auth.defaultWorkspace()
  const MIA = { email: 'mia@example.com', password: 'a member password', name: 'Mia' }
  const NICO = { email: 'nico@example.com', password: 'not a member password', name: 'Nico' }
  const mia = await auth.createUser({ ...MIA, workspaceId: ws, role: 'agent' })
  await auth.createUser({ ...NICO, workspaceId: ws, role: 'agent' })
  await setMembers(s.app.services, mia.id, await channelIdsOf(s.app.services, ws))
  const browser = await launchBrowser(t)
  const m = await agentPage(t, browser, s.url, MIA)
  const n = await agentPage(t, browser, s.url, NICO)
  t.same(await listRows(n.page), [], 'Nico starts with an empty list')

  const res = await s.webhook(textWebhook('4915100000009', 'Zed', 'only for the channel').payload)
  t.equal(res.status, 200)
  await until(async () => (await listRows(m.page)).some((r) => r.name === 'Zed'), 'Zed live in the member’s list')
  const zed = (await listRows(m.page)).find((r) => r.name === 'Zed')!
  // An event that does reach Nico, committed after Zed's message, proves his stream
  // carried everything before it: his availability set from another session of his.
  const nico = apiCall(s.url, (await s.login(NICO)).token)
  t.equal((await nico('PUT', '/api/me/availability', { status: 'busy' })).status, 200)
  await n.page.waitForSelector('[data-availability=busy]', { timeout: LIVE_MS })
  t.same(await listRows(n.page), [], 'never in the non-member’s list')
  t.equal(await n.page.title(), 'Parley', 'nothing counted in his title')

  // By URL: the page shows nothing of it, and the API answers 404 as for what does not exist.
  const status = await n.page.evaluate(async (id) => (await fetch(`/api/conversations/${id}`)).status, zed.id)
  t.equal(status, 404)
  const messages = await n.page.evaluate(async (id) => (await fetch(`/api/conversations/${id}/messages`)).status, zed.id)
  t.equal(messages, 404)
  await n.page.goto(`${s.url}/c/${zed.id}`)
  await n.page.waitForSelector('#conversation-list')
  t.equal(await n.page.locator('text=only for the channel').count(), 0, 'the customer’s words never reach his page')
  t.same(await listRows(n.page), [], 'and the list stays empty after a reload')
})
