// Settings → Business hours in a real Chromium (issue 13): an admin sets the timezone,
// closes the week, adds a holiday and an away message; a refusal (a timezone Intl does
// not know) is shown in words; and the away reply Parley then sends to a customer shows
// in the timeline marked "Automatic".
import t from 'tap'
import { startPair, until } from './helpers/emulator.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS, openConversation } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const AWAY = 'Closed for today — we answer tomorrow from 9.'

t.test('an admin sets business hours and the away message; the automatic reply is marked in the timeline', async (t) => {
  const p = await startPair(t)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, p.parley.url)

  await page.locator('[aria-label=Settings]').first().click()
  const section = page.locator('section.business-hours')
  await section.locator('form.hours-form').waitFor({ timeout: LIVE_MS })
  t.ok(await section.getByLabel('Always open (no away message is ever sent)').isChecked(), 'always open by default')

  // A timezone Intl does not know: refused, in words, and nothing stored.
  await section.locator('#hours-timezone').fill('Mars/Olympus_Mons')
  await section.getByRole('button', { name: 'Save business hours' }).click()
  await section.locator('.form-error').waitFor({ timeout: LIVE_MS })
  t.match(await section.locator('.form-error').textContent(), /not a timezone/)
  t.equal((await p.call('GET', '/api/settings/workspace')).body.settings.timezone, 'UTC')

  await section.locator('#hours-timezone').fill('America/New_York')
  await section.getByLabel('Always open (no away message is ever sent)').uncheck()
  // Monday to Friday 9–5 is offered; close the whole week but keep Wednesday's morning.
  for (const day of ['mon', 'tue', 'thu', 'fri']) await section.locator(`[data-day=${day}] input[type=checkbox]`).uncheck()
  await section.getByLabel('Wednesday closes').fill('12:30')
  await section.getByLabel('Holiday date').fill('2026-12-25')
  await section.getByRole('button', { name: 'Add holiday' }).click()
  await section.getByLabel('Away message (outside business hours)').fill(AWAY)
  await section.getByLabel('Automatic assignment: at most this many open conversations per person').fill('7')
  await section.getByRole('button', { name: 'Save business hours' }).click()
  await section.locator('.saved').waitFor({ timeout: LIVE_MS })

  const saved = (await p.call('GET', '/api/settings/workspace')).body.settings
  t.same(saved, {
    assignmentCap: 7,
    timezone: 'America/New_York',
    businessHours: { weekly: { wed: [{ from: '09:00', to: '12:30' }] }, holidays: ['2026-12-25'] },
    awayMessage: AWAY,
    greetingMessage: null,
  })

  // Open only on Wednesday mornings in New York: close that too, so "now" is outside for sure.
  await section.locator('[data-day=wed] input[type=checkbox]').uncheck()
  await section.getByRole('button', { name: 'Save business hours' }).click()
  await until(async () => (await p.call('GET', '/api/settings/workspace')).body.settings.businessHours?.weekly.wed === undefined, 'saved')

  // A customer writes: the away reply reaches them and shows as automatic in the inbox.
  await p.emu.customer('Maria', '15550001111')
  await p.emu.say('15550001111', 'Are you open?')
  await until(async () => (await p.emu.messages('15550001111')).some((m) => m.direction === 'out' && m.text === AWAY), 'the away reply')
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  await page.locator('[aria-label=Inbox]').first().click()
  await page.waitForSelector('#conversation-list')
  await openConversation(page, conv.id)
  const bubble = page.locator('.msg.out', { has: page.locator('.text', { hasText: AWAY }) })
  await bubble.locator('.automatic').waitFor({ timeout: LIVE_MS })
  t.match(await bubble.locator('.automatic').textContent(), /Automatic/)
  t.equal(await bubble.locator('.automatic').getAttribute('title'), 'Away message (outside business hours)')
  const inbound = page.locator('.msg', { has: page.locator('.text', { hasText: 'Are you open?' }) })
  t.equal(await inbound.locator('.automatic').count(), 0, 'the customer’s message is not marked')
})
