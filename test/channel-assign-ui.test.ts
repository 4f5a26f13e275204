// A channel's members and automatic assignment from Settings → Channels, in a real
// Chromium (issue 13): the admin ticks an agent as a member of the WhatsApp number and
// turns automatic assignment on; the agent has the inbox open (an open stream: online);
// a customer writes, and the conversation is the agent's — in their Mine view, live.
// A second test: an agent reads campaigns but has none of the admin's controls.
import t from 'tap'
import { apiCall, startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { startPair } from './helpers/emulator.ts'
import { contactsCsv, createCampaign, importCsv } from './helpers/campaigns.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, listRows, LIVE_MS } from './helpers/browser.ts'

const ADA = { email: 'ada@example.com', password: 'an agent password', name: 'Ada' }
const BEN = { email: 'ben@example.com', password: 'another agent password', name: 'Ben' }

async function until(pred: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + LIVE_MS
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test('members and automatic assignment from the channel settings: a new conversation goes to the online member', async (t) => {
  const s = await startServer(t)
  const auth = s.app.services.auth
  const ws = await auth.defaultWorkspace()
  const ada = await auth.createUser({ ...ADA, workspaceId: ws, role: 'agent' })
  const ben = await auth.createUser({ ...BEN, workspaceId: ws, role: 'agent' })
  const admin = apiCall(s.url, (await s.login()).token)
  const [whatsapp] = (
    await admin<{ channels: Array<{ id: number; kind: string; autoAssign: boolean; members: number[] }> }>('GET', '/api/channels')
  ).body.channels
  t.match(whatsapp, { kind: 'whatsapp', autoAssign: false, members: [] }, 'off and nobody, to begin with')

  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  // Ada has the inbox open: her stream makes her online.
  const b = await agentPage(t, browser, s.url, ADA)

  await a.page.click('[aria-label=Settings]')
  const form = a.page.locator(`.channel-card[data-channel-id="${whatsapp!.id}"] form[data-assignment]`)
  await form.locator(`[data-member-id="${ada.id}"] input[type=checkbox]`).waitFor()
  const people = (await form.locator('[data-member-id]').allTextContents()).map((x) => x.trim())
  t.same(people.slice(1), ['Ada Agent', 'Ben Agent'], 'the team, each with their role')
  t.match(people[0], / Admin$/, 'the admin too')
  t.match(
    await form.textContent(),
    "New conversations go round robin to the members who are online, up to each person's cap (Business hours → assignment cap)",
  )
  t.equal(await form.locator('button[type=submit]').isDisabled(), true, 'nothing to save before a change')
  await form.locator(`[data-member-id="${ada.id}"] input[type=checkbox]`).check()
  await form.locator('input[name=autoAssign]').check()
  t.equal(await form.locator('[data-auto-assign]').textContent(), 'On')
  await form.locator('button:has-text("Save members and assignment")').click()
  await form.locator('.form-ok:has-text("Saved.")').waitFor({ timeout: LIVE_MS })
  t.equal(await form.locator(`[data-member-id="${ada.id}"] input`).isChecked(), true, 'Ada stays ticked: the saved list')
  t.equal(await form.locator(`[data-member-id="${ben.id}"] input`).isChecked(), false, 'Ben is not a member')
  // The server has it, and the team's table shows Ada's channel too.
  const saved = (await admin('GET', '/api/channels')).body.channels.find((c: { id: number }) => c.id === whatsapp!.id)
  t.match(saved, { autoAssign: true, members: [ada.id] })
  t.ok(await a.page.locator(`tr[data-user-id="${ada.id}"]`).getByLabel(`${saved.name} for Ada`).isChecked(), "Ada's channels follow")

  // A customer writes: the conversation is Ada's, live in her Mine view.
  await b.page.click('[data-view=mine]')
  const res = await s.webhook(textWebhook('4915100000042', 'Quinn', 'is anybody there?').payload)
  t.equal(res.status, 200)
  await until(async () => (await listRows(b.page)).some((r) => r.name === 'Quinn'), "Quinn in Ada's Mine")
  const quinn = (await listRows(b.page)).find((r) => r.name === 'Quinn')!
  const conv = await admin('GET', `/api/conversations/${quinn.id}`)
  t.match(conv.body.conversation.assignee, { id: ada.id, name: 'Ada' }, 'assigned to Ada')

  // Automatic assignment off again: the switch shows the saved state.
  await form.locator('input[name=autoAssign]').uncheck()
  await form.locator('button:has-text("Save members and assignment")').click()
  await form.locator('.form-ok:has-text("Saved.")').waitFor({ timeout: LIVE_MS })
  t.equal(await form.locator('[data-auto-assign]').textContent(), 'Off')
  await until(
    async () => (await admin('GET', '/api/channels')).body.channels.find((c: { id: number }) => c.id === whatsapp!.id).autoAssign === false,
    'off on the server',
  )
})

t.test('an agent reads campaigns without the admin’s controls', async (t) => {
  const p = await startPair(t)
  const s = p.parley
  const auth = s.app.services.auth
  await auth.createUser({ ...ADA, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
  await importCsv(p, contactsCsv(2))
  const draft = await createCampaign(p, { name: 'Spring sale' })
  const browser = await launchBrowser(t)

  const b = await agentPage(t, browser, s.url, ADA)
  await b.page.click('[data-topbar] [aria-label="Contacts and campaigns"]')
  await b.page.click('.area-tabs a[href="/campaigns"]')
  await b.page.waitForSelector('.page-head h1:has-text("Campaigns")')
  await b.page.waitForSelector('.page-head [data-read-only]')
  t.equal(await b.page.locator('button:has-text("New campaign")').count(), 0, 'no "New campaign" for an agent')

  // The draft opens read-only: its counters and recipients, no Edit or Cancel.
  await b.page.click('.card:has-text("Spring sale")')
  await b.page.waitForSelector('.page.live h1:has-text("Spring sale")')
  t.equal(new URL(b.page.url()).pathname, `/campaigns/${draft.id}`, 'the live view, not the builder')
  await b.page.waitForSelector('.page.live [data-read-only]')
  for (const label of ['Edit', 'Cancel campaign', 'Pause', 'Resume'])
    t.equal(await b.page.locator(`.page.live button:text-is("${label}")`).count(), 0, `no ${label}`)
  // The builder's addresses: the edit one shows the campaign read-only, the new one says who creates campaigns.
  await b.page.goto(`${s.url}/campaigns/${draft.id}/edit`)
  await b.page.waitForSelector('.page.live h1:has-text("Spring sale")')
  t.equal(await b.page.locator('form.builder-grid').count(), 0, 'no builder for a draft')
  await b.page.goto(`${s.url}/campaigns/new`)
  await b.page.waitForSelector('[data-read-only]:has-text("Only admins create and send campaigns")')
  t.equal(await b.page.locator('form.builder-grid').count(), 0, 'no builder')

  // Admins unchanged.
  const a = await agentPage(t, browser, s.url)
  await a.page.goto(`${s.url}/campaigns`)
  await a.page.waitForSelector('button:has-text("New campaign")')
  t.equal(await a.page.locator('[data-read-only]').count(), 0)
  await a.page.goto(`${s.url}/campaigns/${draft.id}`)
  await a.page.waitForSelector('.page.live button:text-is("Edit")')
  t.equal(await a.page.locator('.page.live button:text-is("Cancel campaign")').count(), 1, 'the admin can cancel')
})
