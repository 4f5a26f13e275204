// Labels in Chromium (issue 14): an admin creates a label in Settings → Labels; agent A,
// whose inbox was already open, finds it in the conversation's picker (keyboard only) and
// adds it; agent B's list shows the chip live in another browser context, without his
// unread changing; B filters the list by the label (the server is asked with ?label=); a
// rename reaches B's chip live. A label's name is shown as text, never as markup.
import t from 'tap'
import { ADMIN, startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { until } from './helpers/emulator.ts'
import { agentPage, ensureWebBuild, launchBrowser, listRows, openConversation, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'
import { setMembers } from './helpers/members.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const PASSWORD = 'agent password 1'
const NAME = 'VIP <b>gold</b>'

t.test('admin creates a label; A adds it; B sees the chip live and filters by it', async (t) => {
  await ensureWebBuild()
  const s = await startServer(t)
  const { auth } = s.app.services
  const ws = await auth.defaultWorkspace()
  const x = (await s.sql.get<{ id: number }>('SELECT id FROM channels LIMIT 1'))!.id
  for (const name of ['Ana', 'Ben']) {
    const user = await auth.createUser({
      workspaceId: ws,
      email: `${name.toLowerCase()}@example.com`,
      name,
      password: PASSWORD,
      role: 'agent',
    })
    await setMembers(s.app.services, user.id, [x])
  }
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Where is my order?').payload)).status, 200)
  t.equal((await s.webhook(textWebhook('15550002222', 'Pedro', 'Hello there').payload)).status, 200)
  const convOf = async (from: string) =>
    (await s.sql.get<{ id: number }>('SELECT v.id FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.external_id = ?', [
      from,
    ]))!.id
  const maria = await convOf('15550001111')
  const pedro = await convOf('15550002222')

  const browser = await launchBrowser(t)
  const { page: ana } = await agentPage(t, browser, s.url, { email: 'ana@example.com', password: PASSWORD })
  const { page: ben } = await agentPage(t, browser, s.url, { email: 'ben@example.com', password: PASSWORD })
  const { page: admin } = await agentPage(t, browser, s.url, ADMIN)

  // The admin creates the label in Settings → Labels.
  await admin.click('[aria-label=Settings]')
  await admin.waitForSelector('#labels-heading')
  const form = admin.getByRole('form', { name: 'New label' })
  await form.locator('input[name=name]').fill(NAME)
  await form.getByLabel('Green').check()
  await form.getByRole('button', { name: 'Add label' }).click()
  const row = admin.getByRole('list', { name: 'Labels' }).getByRole('listitem').filter({ hasText: NAME })
  await row.waitFor({ timeout: LIVE_MS })
  t.equal(await row.locator('.label-name').textContent(), NAME, 'the name as text')
  t.equal(await row.locator('b').count(), 0, 'never as markup')
  const label = (await s.sql.get<{ id: number; color: string }>('SELECT id, color FROM labels'))!
  t.equal(label.color, '#16a34a', 'the palette’s green')

  // A's inbox was open before the label existed: the picker lists it (labels.changed), by keyboard.
  // The chips change at once on screen; the server's answers to A's PUTs are counted here, so the
  // stored set is read after the last one (not between two of them).
  const putsAnswered: number[] = []
  ana.on('response', (r) => {
    if (r.request().method() === 'PUT' && r.url().endsWith(`/api/conversations/${maria}/labels`)) putsAnswered.push(r.status())
  })
  await openConversation(ana, maria)
  await ana.getByRole('button', { name: 'Labels' }).click()
  const search = ana.getByRole('searchbox', { name: 'Find a label' })
  await search.waitFor({ timeout: LIVE_MS })
  t.ok(await search.evaluate((e) => e === document.activeElement), 'the search box has focus')
  await ana.getByRole('dialog', { name: 'Labels of this conversation' }).getByText(NAME).waitFor({ timeout: LIVE_MS })
  await ana.keyboard.type('vip')
  await ana.keyboard.press('Enter')
  const headerChip = ana.locator(`[data-conversation="${maria}"] .conv-header .label-chip[data-label-id="${label.id}"]`)
  await headerChip.waitFor({ timeout: LIVE_MS })
  // ↓ reaches the label's checkbox; Space unticks and ticks it again.
  await ana.keyboard.press('ArrowDown')
  t.ok(
    await ana
      .locator('.label-option')
      .first()
      .evaluate((e) => e === document.activeElement),
    '↓ moves to the checkbox',
  )
  await ana.keyboard.press('Space')
  await headerChip.waitFor({ state: 'detached', timeout: LIVE_MS })
  await ana.keyboard.press('Space')
  await headerChip.waitFor({ timeout: LIVE_MS })
  await ana.keyboard.press('Escape')
  t.equal(await ana.getByRole('dialog', { name: 'Labels of this conversation' }).count(), 0, 'Esc closes the picker')
  const stored = async () =>
    (await s.sql.all<{ label_id: number }>('SELECT label_id FROM conversation_labels WHERE conversation_id = ?', [maria])).map(
      (r) => r.label_id,
    )
  // The two ticks went out in order: the server ends with the label on.
  await until(async () => putsAnswered.length >= 3, 'the server’s answers to the three changes (add, untick, tick)')
  t.same(putsAnswered, [200, 200, 200], 'each change answered')
  await until(async () => JSON.stringify(await stored()) === JSON.stringify([label.id]), 'the label stored on the server')
  t.same(await stored(), [label.id], 'stored on the server')

  // B's list shows the chip live, and his unread is as it was.
  const chip = ben.locator(`[role=option][data-conversation-id="${maria}"] .label-chip[data-label-id="${label.id}"]`)
  await chip.waitFor({ timeout: LIVE_MS })
  t.equal(await chip.locator('.label-name').textContent(), NAME)
  t.equal(await chip.locator('b').count(), 0, 'text, not markup')
  const rows = await listRows(ben)
  t.same(
    rows.map((r) => [r.id, r.unread]),
    [
      [pedro, 1],
      [maria, 1],
    ],
    'same order, still unread for B',
  )

  // B filters by the label: the server is asked with ?label=, and only Maria remains.
  const asked = ben.waitForRequest((r) => r.url().includes('/api/conversations?') && r.url().includes(`label=${label.id}`))
  await ben.getByLabel('Show conversations with label').selectOption(String(label.id))
  await asked
  await ben.waitForFunction(
    (id) =>
      [...document.querySelectorAll('[role=option][data-conversation-id]')]
        .map((e) => Number((e as HTMLElement).dataset.conversationId))
        .join() === String(id),
    maria,
    { timeout: LIVE_MS },
  )
  t.pass('only the labelled conversation is listed')
  // With the status filter too.
  await ben.getByRole('button', { name: 'Resolved', exact: true }).click()
  await ben.getByText('No conversations yet.').waitFor({ timeout: LIVE_MS })
  await ben.getByRole('button', { name: 'Open', exact: true }).click()
  await ben.locator(`[role=option][data-conversation-id="${maria}"]`).waitFor({ timeout: LIVE_MS })

  // A rename in Settings reaches B's chip live.
  await row.getByRole('button', { name: `Edit ${NAME}` }).click()
  const edit = admin.getByRole('form', { name: `Edit ${NAME}` })
  await edit.locator('input[name=name]').fill('Gold')
  await edit.getByRole('button', { name: 'Save' }).click()
  await chip.locator('.label-name').getByText('Gold', { exact: true }).waitFor({ timeout: LIVE_MS })
  t.pass('renamed live')

  // Deleting it (after a confirmation) takes the chip off and clears B's filter.
  const goldRow = admin.getByRole('list', { name: 'Labels' }).getByRole('listitem').filter({ hasText: 'Gold' })
  await goldRow.getByRole('button', { name: 'Delete Gold' }).click()
  await goldRow.getByRole('button', { name: 'Delete', exact: true }).click()
  await admin.getByText('No labels yet.').waitFor({ timeout: LIVE_MS })
  await chip.waitFor({ state: 'detached', timeout: LIVE_MS })
  await ben.locator(`[role=option][data-conversation-id="${pedro}"]`).waitFor({ timeout: LIVE_MS })
  t.equal(await ben.locator('.label-filter').count(), 0, 'no labels left: no filter')
  // Settings → Labels is for admins.
  await ben.click('[aria-label=Settings]')
  await ben.waitForSelector('#profile-heading')
  t.equal(await ben.locator('#labels-heading').count(), 0, 'an agent has no Settings → Labels')
  await until(async () => (await stored()).length === 0, 'the label off the conversation')
  t.same(await stored(), [], 'off the conversation')
})
