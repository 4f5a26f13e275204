// Canned replies in a real Chromium (issue 14): `/` at the start of the composer opens the
// list, the keyboard alone filters, moves and chooses, and the chosen reply is put in the
// composer with the contact's name — not sent until Enter. A name made of HTML and script
// stays literal text and nothing runs; a variable with no value is flagged. Settings →
// Canned replies shows an unknown variable's refusal next to the form, then saves.
import t from 'tap'
import type { Page } from 'playwright-core'
import { apiCall, startServer, type ApiCall } from './helpers/server.ts'
import { say } from './helpers/wa.ts'
import { agentPage, bubbleTexts, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS, openConversation } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const EVIL = `<script>window.__pwned=1</script><b>x</b><img src=x onerror="window.__pwned=2">`

const composer = (p: Page) => p.locator('#composer-input')
const value = (p: Page) => composer(p).inputValue()
const waitActive = (p: Page, want: string) =>
  p.waitForFunction(
    (w) => (document.querySelector('.canned-list [aria-selected=true]') as HTMLElement | null)?.dataset.shortcut === w,
    want,
    { timeout: LIVE_MS, polling: 50 },
  )
const waitOptions = (p: Page, want: string[]) =>
  p.waitForFunction(
    (w) => [...document.querySelectorAll('.canned-list [role=option]')].map((e) => (e as HTMLElement).dataset.shortcut).join() === w,
    want.join(),
    { timeout: LIVE_MS, polling: 50 },
  )
const waitValue = (p: Page, want: string) =>
  p.waitForFunction((w) => (document.querySelector('#composer-input') as HTMLTextAreaElement | null)?.value === w, want, {
    timeout: LIVE_MS,
    polling: 50,
  })
const outbound = async (call: ApiCall, id: number) =>
  ((await call('GET', `/api/conversations/${id}/messages`)).body.messages as Array<{ direction: string; text: string }>)
    .filter((m) => m.direction === 'out')
    .map((m) => m.text)

t.test('`/` opens the list; the keyboard chooses; the text is inserted, literal, and sent only on Enter', async (t) => {
  const s = await startServer(t)
  const call = apiCall(s.url, (await s.login()).token)
  await say(s, '4915100000001', 'Ana Sousa', 'hello?')
  await say(s, '4915100000002', EVIL, 'hi there')
  const convs = (await call('GET', '/api/conversations')).body.conversations as Array<{
    id: number
    contact: { id: number; externalId: string }
  }>
  const ana = convs.find((c) => c.contact.externalId === '4915100000001')!
  const evil = convs.find((c) => c.contact.externalId === '4915100000002')!
  t.equal((await call('PATCH', `/api/contacts/${ana.contact.id}`, { attributes: { tier: 'gold' } })).status, 200)
  for (const [shortcut, text, shared] of [
    ['hi', 'Hi {{contact.first_name}}, {{agent.name}} here.', true],
    ['thanks', 'Thanks {{ contact.name | friend }}, talk soon!', true],
    ['tier', 'Your tier: {{contact.tier}}', false],
  ] as const) {
    t.equal((await call('POST', '/api/canned-replies', { shortcut, text, shared })).status, 201)
  }

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await openConversation(page, ana.id)
  await composer(page).click()

  // `/` opens the list: every reply, by shortcut, the first one active.
  await page.keyboard.type('/')
  await waitOptions(page, ['hi', 'thanks', 'tier'])
  await waitActive(page, 'hi')
  t.equal(await composer(page).getAttribute('aria-expanded'), 'true', 'the input announces the list')
  // Filtered by shortcut and by text as one types.
  await page.keyboard.type('talk')
  await waitOptions(page, ['thanks'])
  for (let i = 0; i < 4; i++) await page.keyboard.press('Backspace')
  await waitOptions(page, ['hi', 'thanks', 'tier'])
  // Arrows move (and wrap); Esc closes and leaves what is typed.
  await page.keyboard.press('ArrowDown')
  await waitActive(page, 'thanks')
  await page.keyboard.press('ArrowUp')
  await page.keyboard.press('ArrowUp')
  await waitActive(page, 'tier') // up from the first is the last
  t.equal(await composer(page).getAttribute('aria-activedescendant'), await page.$eval('.canned-list [aria-selected=true]', (e) => e.id))
  await page.keyboard.press('Escape')
  await page.waitForSelector('.canned-list', { state: 'detached', timeout: LIVE_MS })
  t.equal(await value(page), '/')
  await page.keyboard.press('Backspace')
  await page.keyboard.type('/th')
  await waitOptions(page, ['thanks'])

  // Enter chooses: the rendered text replaces `/th`, for editing; nothing is sent.
  await page.keyboard.press('Enter')
  await waitValue(page, 'Thanks Ana Sousa, talk soon!')
  await page.waitForSelector('.canned-list', { state: 'detached', timeout: LIVE_MS })
  t.same(await outbound(call, ana.id), [], 'choosing sends nothing')
  t.notOk(await page.locator('[data-canned-missing]').count(), 'no warning: every value was there')
  await page.keyboard.type(' Bye.')
  t.same(await outbound(call, ana.id), [], 'editing sends nothing either')
  await page.keyboard.press('Enter')
  // The server's message, not the pending bubble the composer shows at once (the POST may
  // not have committed yet: on PostgreSQL it takes a few round trips).
  await page.waitForFunction(
    () => [...document.querySelectorAll('.msg:not(.pending) .text')].some((e) => e.textContent === 'Thanks Ana Sousa, talk soon! Bye.'),
    undefined,
    {
      timeout: LIVE_MS,
      polling: 50,
    },
  )
  t.same(await outbound(call, ana.id), ['Thanks Ana Sousa, talk soon! Bye.'], 'Enter sent it, once')
  t.equal(await value(page), '')

  // The contact whose name is HTML and script: inserted as literal text; nothing runs.
  await openConversation(page, evil.id)
  await composer(page).click()
  await page.keyboard.type('/hi')
  await waitOptions(page, ['hi'])
  await page.keyboard.press('Tab')
  const firstWord = EVIL.split(/\s+/)[0]
  await waitValue(page, `Hi ${firstWord}, Admin here.`)
  t.equal(
    await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned),
    undefined,
    'no script ran, no image error handler',
  )
  t.equal(await page.locator('.composer b, .composer script, .composer img, .canned b').count(), 0, 'no element was made of the name')
  t.same(await outbound(call, evil.id), [], 'nothing sent')

  // A known variable with no value for this contact: rendered empty, and the composer says so.
  await composer(page).fill('')
  await page.keyboard.type('/tier')
  await waitOptions(page, ['tier'])
  await page.keyboard.press('Enter')
  await waitValue(page, 'Your tier: ')
  await page.waitForSelector('[data-canned-missing]', { timeout: LIVE_MS })
  t.match(await page.locator('[data-canned-missing]').textContent(), /No value for contact\.tier/)
  t.same(await outbound(call, evil.id), [], 'still nothing sent')
  t.notOk((await bubbleTexts(page)).some((x) => x.startsWith('Your tier')))
  t.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined)
})

t.test('Settings → Canned replies: an unknown variable is refused next to the form; then saved and listed', async (t) => {
  const s = await startServer(t)
  const call = apiCall(s.url, (await s.login()).token)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, s.url)
  await page.locator('[aria-label=Settings]').first().click()
  const section = page.locator('section.canned-settings')
  await section.waitFor({ timeout: LIVE_MS })
  t.match(await section.locator('[data-canned-help]').textContent(), /\{\{contact\.first_name \| there\}\}/, 'the variables are explained')

  await section.getByRole('button', { name: 'Add a canned reply' }).click()
  const form = section.locator('form.canned-form')
  await form.locator('input[name=shortcut]').fill('total')
  await form.locator('textarea[name=text]').fill('Your total is {{order.total}}')
  await form.getByRole('button', { name: 'Add' }).click()
  await form.locator('[data-canned-error]').waitFor({ timeout: LIVE_MS })
  t.match(await form.locator('[data-canned-error]').textContent(), /Unknown variable \{\{order\.total\}\}/)
  t.same((await call('GET', '/api/canned-replies')).body.cannedReplies, [], 'nothing stored')

  await form.locator('textarea[name=text]').fill('Hello {{contact.first_name | there}}, this is {{agent.name}}.')
  await form.locator('input[name=shared]').check()
  await form.getByRole('button', { name: 'Add' }).click()
  const row = section.locator('[aria-label="Shared canned replies"] .canned-reply')
  await row.waitFor({ timeout: LIVE_MS })
  t.match(await row.textContent(), /\/total.*Hello \{\{contact\.first_name \| there\}\}/)
  const stored = (await call('GET', '/api/canned-replies')).body.cannedReplies
  t.match(stored, [{ shortcut: 'total', shared: true }])

  // Edit, then delete (confirmed in the row).
  await section.getByRole('button', { name: 'Edit /total' }).click()
  await section.locator('form.canned-form input[name=shortcut]').fill('hello')
  await section.locator('form.canned-form').getByRole('button', { name: 'Save' }).click()
  await section.locator('[aria-label="/hello"]').waitFor({ timeout: LIVE_MS })
  await section.getByRole('button', { name: 'Delete /hello' }).click()
  await section.getByRole('button', { name: 'Yes, delete /hello' }).click()
  await section.locator('[aria-label="/hello"]').waitFor({ state: 'detached', timeout: LIVE_MS })
  t.same((await call('GET', '/api/canned-replies')).body.cannedReplies, [])
})
