// Channels in a real Chromium against a real server (issues 5 and 6): an admin connects
// a Messenger page in the settings screen, a signed Messenger webhook brings a
// conversation with its badge, the channel filter narrows the list, an agent never sees
// the settings, the composer follows Messenger's windows, and a WhatsApp send that
// Meta reports failed shows as failed in the list, live.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): its sends go to the sandbox's Graph emulator, which is SQLite's only.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer, type TestServer } from './helpers/server.ts'
import { status, statusWebhook, say } from './helpers/wa.ts'
import { item, mid, pageWebhookFor, postMessenger } from './helpers/ms.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, listRows, LIVE_MS, openConversation } from './helpers/browser.ts'
import type { ChannelPublic } from '../src/domain/channels/channels.ts'
import type { MessageDTO } from '../src/events/types.ts'
import { plainReason } from '../src/domain/sending/meta-errors.ts'
import { channelIdsOf, setMembers } from './helpers/members.ts'

const AGENT = { email: 'agent@example.com', password: 'an agent password', name: 'Agnes' }
const PAGE_ID = '100000000000040'
const PAGE_SECRET = 'shop-page-app-secret'

async function until<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeout = LIVE_MS): Promise<T> {
  const end = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The rows' channel kinds and badge texts, top to bottom. */
const badges = (page: Page) =>
  page.$$eval('[role=option][data-conversation-id]', (rows) =>
    rows
      .map((r) => ({
        top: r.getBoundingClientRect().top,
        kind: (r as HTMLElement).dataset.channelKind,
        badge: r.querySelector('.chan')?.textContent ?? '',
      }))
      .sort((a, b) => a.top - b.top)
      .map(({ kind, badge }) => `${kind}:${badge}`),
  )

async function channelsOf(s: TestServer, token: string): Promise<ChannelPublic[]> {
  return ((await (await s.get('/api/channels', token)).json()) as { channels: ChannelPublic[] }).channels
}

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

t.test(
  'an admin connects a Messenger page in settings; its conversation has a badge; the filter narrows; agents see no settings',
  async (t) => {
    const s = await startServer(t, { sqlite: true })
    const auth = s.app.services.auth
    const agentUser = await auth.createUser({ ...AGENT, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
    const { token } = await s.login()
    await say(s, '4915100000501', 'Wanda', 'hello on WhatsApp')
    const browser = await launchBrowser(t)
    const { page } = await agentPage(t, browser, s.url)
    await until(async () => (await listRows(page)).length === 1, 'the WhatsApp conversation')
    t.same(await badges(page), ['whatsapp:WhatsApp'], 'one channel: the badge names the kind')
    t.equal(await page.locator('.channel-filter').count(), 0, 'one channel needs no filter')

    // Settings, from the shell.
    await page.click('[aria-label=Settings]')
    await page.waitForSelector('.settings h2 >> text=Channels')
    t.equal(new URL(page.url()).pathname, '/settings')
    const urls = await page.$$eval('[data-webhook-url]', (els) => els.map((e) => (e as HTMLInputElement).value))
    t.same(urls, [`${s.url}/webhooks/whatsapp`, `${s.url}/webhooks/messenger`], 'the webhook URLs to paste into Meta')
    t.equal(await page.locator('.channel-card[data-channel-id]').count(), 1, 'the number from the environment is listed')
    t.match(await page.locator('.channel-card [data-pacing]').textContent(), /^80\/s, margin 20 ms$/, 'the number shows its sending pace')

    // Add the page: name, id and its own secrets.
    await page.click('button:has-text("Add a Messenger page")')
    const form = page.locator('form.channel-form')
    await form.locator('input[name=name]').fill('Shop page')
    await form.locator('input[name=externalId]').fill('not digits')
    await form.locator('button[type=submit]').click()
    t.match(await form.locator('.form-error').textContent(), /digits only/, 'a bad id is explained before it is sent')
    await form.locator('input[name=externalId]').fill(PAGE_ID)
    await form.locator('input[name=accessToken]').fill('EAAPAGE-SECRET-TOKEN')
    await form.locator('input[name=appSecret]').fill(PAGE_SECRET)
    await form.locator('input[name=verifyToken]').fill('shop-verify-phrase')
    await form.locator('button[type=submit]').click()
    const card = page.locator('.channel-card[aria-label="Messenger Shop page"]')
    await card.waitFor()
    t.same(await card.locator('[data-secret]').allTextContents(), ['set', 'set', 'set'], 'each secret says "set"')
    const html = await page.content()
    for (const secret of ['EAAPAGE-SECRET-TOKEN', PAGE_SECRET, 'shop-verify-phrase'])
      t.notMatch(html, secret, 'no secret on the page after saving')
    t.match(await channelsOf(s, token), [
      { kind: 'whatsapp' },
      { kind: 'messenger', externalId: PAGE_ID, name: 'Shop page', hasAppSecret: true },
    ])

    // The same page again: refused, in plain words.
    await page.click('button:has-text("Add a Messenger page")')
    await form.locator('input[name=name]').fill('Shop page again')
    await form.locator('input[name=externalId]').fill(PAGE_ID)
    await form.locator('button[type=submit]').click()
    t.match(await form.locator('.form-error').textContent(), /already connected/, 'CHANNEL_EXISTS in words')
    await form.locator('button:has-text("Cancel")').click()

    // Edit: secrets show set / not set and a replace field; the verify token is removed.
    await card.locator('button:has-text("Edit")').click()
    const edit = page.locator('form.channel-form')
    t.same(await edit.locator('[data-secret-state]').allTextContents(), ['set', 'set', 'set'])
    t.same(
      await edit.locator('input[type=password]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value)),
      ['', '', ''],
      'never the saved value',
    )
    await edit.locator('input[name=accessToken]').fill('EAAPAGE-ROTATED')
    await edit.locator('label:has-text("Remove the saved verify token") input').check()
    await edit.locator('button[type=submit]').click()
    await until(
      async () => (await card.locator('[data-secret=verifyToken]').textContent())?.startsWith('not set'),
      'the verify token removed',
    )
    t.match(
      (await channelsOf(s, token)).find((c) => c.kind === 'messenger'),
      { hasAccessToken: true, hasVerifyToken: false, hasAppSecret: true },
    )

    // Disable and enable again.
    await card.locator('button:has-text("Disable")').click()
    await card.locator('text=Disabled').first().waitFor()
    t.equal((await channelsOf(s, token)).find((c) => c.kind === 'messenger')!.enabled, false)
    await card.locator('button:has-text("Enable")').click()
    await card.locator('.state.on').waitFor()
    t.equal((await channelsOf(s, token)).find((c) => c.kind === 'messenger')!.enabled, true)

    // Back to the inbox; a customer writes to the page (signed with the page's app secret).
    await page.click('a[aria-label=Inbox]')
    await page.waitForSelector('#conversation-list', { state: 'visible' })
    const res = await postMessenger(
      s.url,
      pageWebhookFor(PAGE_ID, item('7000000000000501', { message: { mid: mid(), text: 'hello on Messenger' } }, PAGE_ID)),
      PAGE_SECRET,
    )
    t.equal(res.status, 200)
    await until(async () => (await badges(page))[0] === 'messenger:Messenger', 'the Messenger conversation on top, badged')
    t.same(await badges(page), ['messenger:Messenger', 'whatsapp:WhatsApp'])
    t.equal((await listRows(page))[0]!.preview, 'hello on Messenger')

    // The filter: two channels now.
    const channels = await channelsOf(s, token)
    const pageCh = channels.find((c) => c.kind === 'messenger')!
    const waCh = channels.find((c) => c.kind === 'whatsapp')!
    const filter = page.locator('select.channel-filter')
    // A name that already says its kind stands alone ("WhatsApp"), others get it ("Messenger · Shop page").
    const waTitle = /whatsapp/i.test(waCh.name) ? waCh.name : `WhatsApp · ${waCh.name}`
    t.same(await filter.locator('option').allTextContents(), ['All channels', waTitle, 'Messenger · Shop page'])
    await filter.selectOption(`ch:${pageCh.id}`)
    await until(async () => (await badges(page)).join() === 'messenger:Messenger', 'only the page')
    await filter.selectOption(`ch:${waCh.id}`)
    await until(async () => (await badges(page)).join() === 'whatsapp:WhatsApp', 'only the number')
    // A new Messenger message while WhatsApp is chosen stays out of this view.
    await postMessenger(
      s.url,
      pageWebhookFor(PAGE_ID, item('7000000000000502', { message: { mid: mid(), text: 'second customer' } }, PAGE_ID)),
      PAGE_SECRET,
    )
    await filter.selectOption('')
    await until(async () => (await badges(page)).length === 3, 'everything again')
    t.same(await badges(page), ['messenger:Messenger', 'messenger:Messenger', 'whatsapp:WhatsApp'])

    // An agent (issue 13: a member of every channel, so they see them all): Settings hold only their own profile, never the channels, not even by its address.
    await setMembers(s.app.services, agentUser.id, await channelIdsOf(s.app.services, await auth.defaultWorkspace()))
    const agent = await agentPage(t, browser, s.url, AGENT)
    await until(async () => (await badges(agent.page)).length === 3, "the agent's list")
    await agent.page.goto(`${s.url}/settings`)
    await agent.page.waitForSelector('#profile-heading', { state: 'visible' })
    t.equal(await agent.page.locator('#channels-heading').count(), 0, 'no channels section for agents')
    t.equal(await agent.page.locator('#team-heading').count(), 0, 'no team section for agents')
    await agent.page.goto(s.url)
    await agent.page.waitForSelector('#conversation-list', { state: 'visible' })
    // The list is visible before its first page has arrived: wait for the rows.
    await until(async () => (await badges(agent.page)).length === 3, "the agent's list again")
    t.same(await badges(agent.page), ['messenger:Messenger', 'messenger:Messenger', 'whatsapp:WhatsApp'], 'agents see the badges too')
  },
)

t.test('a WhatsApp send that Meta reports failed shows as failed in the list preview, live', async (t) => {
  // The emulator stays silent; the test plays Meta's failed status webhook.
  const s = await startServer(t, { sqlite: true, env: { SANDBOX_SENT_DELAY_MS: '600000', SANDBOX_DELIVERED_DELAY_MS: '600000' } })
  const auth = s.app.services.auth
  const agentUser = await auth.createUser({ ...AGENT, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
  // Issue 13: an agent works the conversations of their channels.
  await setMembers(s.app.services, agentUser.id, await channelIdsOf(s.app.services, await auth.defaultWorkspace()))
  const { token } = await s.login()
  const customer = '4915100000601'
  await say(s, customer, 'Fritz', 'Is my order late?')
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  // B only looks at the list: its browser has no thread loaded for the conversation.
  const b = await agentPage(t, browser, s.url, AGENT)
  const id = (await until(async () => (await listRows(a.page))[0], 'the conversation')).id
  await openConversation(a.page, id)
  await a.page.fill('#composer-input', 'It ships tomorrow.')
  await a.page.keyboard.press('Enter')
  for (const p of [a.page, b.page])
    await until(async () => (await listRows(p))[0]?.preview === 'You: It ships tomorrow.', 'the reply in the list')

  const sent = await until(async () => {
    const res = await s.get(`/api/conversations/${id}/messages`, token)
    const msgs = ((await res.json()) as { messages: MessageDTO[] }).messages
    return msgs.find((m) => m.direction === 'out' && m.status === 'sent' && m.providerMessageId)
  }, 'Graph accepted the reply')
  t.equal(await a.page.locator('.fail-icon').count(), 0, 'nothing failed yet')

  const failed = statusWebhook(
    status(sent.providerMessageId!, 'failed', customer, {
      errors: [
        {
          code: 131026,
          title: 'Message undeliverable',
          message: 'Message undeliverable',
          error_data: { details: 'Unable to deliver message.' },
        },
      ],
    }),
  )
  t.equal((await s.webhook(failed)).status, 200)
  for (const p of [a.page, b.page]) {
    const row = p.locator(`[role=option][data-conversation-id="${id}"]`)
    await row.locator('.fail-icon').waitFor({ timeout: LIVE_MS })
    t.equal(await row.getAttribute('data-last-status'), 'failed')
    t.equal(
      await row.locator('.fail-icon').getAttribute('aria-label'),
      `Not delivered: ${plainReason(131026)}`,
      'the plain-language reason, for screen readers',
    )
    t.equal(await row.locator('.conv-preview').getAttribute('title'), `Not delivered: ${plainReason(131026)}`, 'and on hover')
    t.match(await row.locator('.conv-preview').textContent(), /It ships tomorrow\./)
  }
  await a.page.waitForSelector('.msg.out .fail-reason')
  t.pass('the bubble says so too')

  // After a reload the list still says so (the server's DTO, not only the live event).
  await b.page.reload()
  await b.page.waitForSelector(`[role=option][data-conversation-id="${id}"][data-last-status="failed"] .fail-icon`)
  t.pass('failed after a reload')
})

t.test("the composer follows Messenger's windows: free text, human agent follow-up, then closed", async (t) => {
  const s = await startServer(t, { sqlite: true })
  const { token } = await s.login()
  const res = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'messenger', externalId: PAGE_ID, name: 'Shop page', appSecret: PAGE_SECRET }),
  })
  t.equal(res.status, 201)
  const DAY = 86_400_000
  // Customers who last wrote an hour, three days and eight days ago.
  for (const [psid, ago, text] of [
    ['7000000000000701', 3_600_000, 'an hour ago'],
    ['7000000000000702', 3 * DAY, 'three days ago'],
    ['7000000000000703', 8 * DAY, 'eight days ago'],
  ] as const) {
    const r = await postMessenger(
      s.url,
      pageWebhookFor(PAGE_ID, item(psid, { message: { mid: mid(), text } }, PAGE_ID, Date.now() - ago)),
      PAGE_SECRET,
    )
    t.equal(r.status, 200)
  }
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await until(async () => (await listRows(page)).length === 3, 'three conversations')
  const rows = await listRows(page)
  const idOf = (preview: string) => rows.find((r) => r.preview === preview)!.id
  const win = (id: number) => page.textContent(`[role=option][data-conversation-id="${id}"] .win`)

  t.match(await win(idOf('an hour ago')), /h left|min left/)
  await openConversation(page, idOf('an hour ago'))
  t.ok(await page.isEnabled('#composer-input'), 'inside 24 hours: free text')
  t.equal(await page.locator('.human-agent').count(), 0)
  t.equal(await page.locator('.composer select').count(), 0, 'no template picker on Messenger')

  t.match(await win(idOf('three days ago')), /^Human agent · \d d left$/)
  await openConversation(page, idOf('three days ago'))
  await page.waitForSelector('.window-note.human-agent')
  t.match(await page.textContent('.window-note.human-agent'), /Human agent follow-up/)
  t.ok(await page.isEnabled('#composer-input'), 'a person may still write')
  t.equal(await page.getAttribute('#composer-input', 'aria-describedby'), 'composer-note', 'the note describes the box')
  t.equal(await page.locator('.composer select').count(), 0, 'no templates')

  t.equal(await win(idOf('eight days ago')), 'Closed')
  await openConversation(page, idOf('eight days ago'))
  await page.waitForSelector('.composer.closed')
  t.match(await page.textContent('.composer.closed .window-note'), /More than 7 days/)
  t.ok(await page.isDisabled('.composer.closed textarea'), 'the composer is disabled')
  t.ok(await page.isDisabled('.composer.closed button.send'))
  t.equal(await page.locator('#composer-input').count(), 0)
  t.match(await page.textContent('.conv-header .sub'), /Closed: more than 7 days/)
})
