// The send guard and only-the-assignee-replies in a real Chromium (issue 14), two agents
// on one conversation: B starts a reply, A answers first; B's Enter is held — the banner
// names A's answer ("Admin replied … s ago") and shows it, B's words are back in the
// composer, and "Send anyway" sends them. Then an admin turns on "Only the assignee can
// reply" in Settings; B's reply is refused with the reason and "Assign to me" lets B send.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startServer, type TestServer } from './helpers/server.ts'
import { AGENT_B, addAgentB } from './helpers/team-fixtures.ts'
import { say } from './helpers/wa.ts'
import { until } from './helpers/emulator.ts'
import {
  type BrowserTestLike,
  agentPage,
  E2E_FILE_TIMEOUT_MS,
  ensureWebBuild,
  launchBrowser,
  listRows,
  LIVE_MS,
  openConversation,
  waitForBubbles,
} from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

const composer = (p: Page) => p.locator('#composer-input')
/** The composer shows `text` (it follows the draft in an effect, after the banner renders). */
async function composerShows(p: Page, text: string): Promise<boolean> {
  await p.waitForFunction((want) => (document.querySelector('#composer-input') as HTMLTextAreaElement | null)?.value === want, text, {
    timeout: LIVE_MS,
    polling: 50,
  })
  return true
}
/**
 * A sent reply's bubble shows before its POST is answered: what is stored is waited for (a
 * deadline), as on PostgreSQL the commit may come after the bubble.
 */
const storedAs = async (s: TestServer, want: string) => {
  // On a timeout the assertion after it shows what is stored instead.
  await until(async () => (await outTexts(s)) === want, `stored: ${want}`).catch(() => {})
  return outTexts(s)
}
const outTexts = async (s: TestServer) =>
  (await s.sql.all<{ text: string }>("SELECT text FROM messages WHERE direction = 'out' ORDER BY id")).map((r) => r.text).join('|')

async function twoAgents(t: BrowserTestLike) {
  const s = await startServer(t)
  await addAgentB(s)
  await say(s, '4915100000002', 'Yara', 'my parcel never came')
  const browser = await launchBrowser(t)
  const a = await agentPage(t, browser, s.url)
  const bp = await agentPage(t, browser, s.url, AGENT_B)
  for (const p of [a.page, bp.page]) await p.waitForSelector('[role=option][data-conversation-id]', { timeout: LIVE_MS })
  const yara = (await listRows(a.page))[0]!.id
  for (const p of [a.page, bp.page]) {
    await openConversation(p, yara)
    await waitForBubbles(p, ['my parcel never came'])
  }
  return { s, a: a.page, b: bp.page, yara }
}

t.test('B’s reply after A’s answer is held: the banner shows A’s message, "Send anyway" sends it', async (t) => {
  const { s, a, b } = await twoAgents(t)

  // B begins a reply while the conversation shows only the customer's message.
  await composer(b).fill('Sorry! Let me check.')
  // A answers first; it reaches B's screen while B is still typing.
  await composer(a).fill('It is on its way, tracking sent.')
  await composer(a).press('Enter')
  await waitForBubbles(b, ['my parcel never came', 'It is on its way, tracking sent.'])

  await composer(b).press('Enter')
  const banner = b.locator('[data-send-guard=changed]')
  await banner.waitFor({ timeout: LIVE_MS })
  t.match(await banner.locator('[data-changed-by]').innerText(), /^Admin replied (just now|\d+ s ago)$/, 'who, and how long ago')
  t.match(await banner.getByRole('list', { name: 'New since you looked' }).innerText(), /Admin:\s+It is on its way, tracking sent\./)
  t.ok(await composerShows(b, 'Sorry! Let me check.'), 'the words are back in the composer')
  t.equal(await outTexts(s), 'It is on its way, tracking sent.', 'nothing of B’s was stored')
  // The time counts on while the banner shows.
  await b.waitForFunction(
    () => /^Admin replied ([5-9]|\d\d) s ago$/.test(document.querySelector('[data-changed-by]')?.textContent ?? ''),
    undefined,
    { timeout: 10_000, polling: 200 },
  )
  t.equal(await b.locator('.msg .text', { hasText: 'Sorry! Let me check.' }).count(), 0, 'no bubble for the held reply')

  await banner.getByRole('button', { name: 'Send anyway' }).click()
  await waitForBubbles(b, ['It is on its way, tracking sent.', 'Sorry! Let me check.'])
  await banner.waitFor({ state: 'detached', timeout: LIVE_MS })
  t.ok(await composerShows(b, ''), 'sent: the composer is empty')
  const both = 'It is on its way, tracking sent.|Sorry! Let me check.'
  t.equal(await storedAs(s, both), both, 'sent anyway')
  await waitForBubbles(a, ['Sorry! Let me check.'])

  // "Edit": the banner goes, the words stay, and the next Enter sends (the new message was seen).
  await composer(b).fill('One more thing')
  await say(s, '4915100000002', 'Yara', 'thanks!')
  await waitForBubbles(b, ['thanks!'])
  await composer(b).press('Enter')
  await banner.waitFor({ timeout: LIVE_MS })
  t.match(await banner.locator('[data-changed-by]').innerText(), /^The customer wrote (just now|\d+ s ago)$/)
  await banner.getByRole('button', { name: 'Edit' }).click()
  await banner.waitFor({ state: 'detached', timeout: LIVE_MS })
  t.ok(await composerShows(b, 'One more thing'))
  await composer(b).fill('One more thing: you are welcome.')
  await composer(b).press('Enter')
  await waitForBubbles(b, ['One more thing: you are welcome.'])
  t.equal(await banner.count(), 0, 'not held again')
})

t.test('only the assignee replies: the admin switches it on in Settings; B sees why and "Assign to me" lets B send', async (t) => {
  const { s, a, b, yara } = await twoAgents(t)
  await a.click('[aria-label=Settings]')
  const sw = a.locator('[data-assignee-only]').first()
  await sw.waitFor({ timeout: LIVE_MS })
  t.equal(await sw.locator('[data-state]').innerText(), 'Off', 'off by default')
  await sw.getByLabel('Only the assignee can reply').check()
  await sw.locator('[data-state=on]').waitFor({ timeout: LIVE_MS })
  // A boolean on PostgreSQL, 1 on SQLite.
  t.equal(Number((await s.sql.get<{ assignee_only: number | boolean }>('SELECT assignee_only FROM channels'))!.assignee_only), 1, 'saved')

  // B's page, loaded after the change, says so before B even writes.
  await b.reload()
  await b.waitForSelector(`[data-conversation="${yara}"] #composer-input`, { timeout: LIVE_MS })
  const note = b.locator('[data-send-guard=assignee-only][role=note]')
  await note.waitFor({ timeout: LIVE_MS })
  t.match(await note.innerText(), /Assign this conversation to yourself to reply/, 'told before writing')

  await composer(b).fill('I can help with that.')
  await composer(b).press('Enter')
  const banner = b.locator('[data-send-guard=assignee-only][role=alert]')
  await banner.waitFor({ timeout: LIVE_MS })
  t.match(await banner.innerText(), /Assign this conversation to yourself to reply/, 'the reason')
  t.ok(await composerShows(b, 'I can help with that.'), 'the words stay')
  t.equal(await outTexts(s), '', 'nothing stored')

  await banner.getByRole('button', { name: 'Assign to me' }).click()
  await banner.waitFor({ state: 'detached', timeout: LIVE_MS })
  await composer(b).press('Enter')
  await waitForBubbles(b, ['I can help with that.'])
  t.equal(await storedAs(s, 'I can help with that.'), 'I can help with that.', 'the assignee’s reply is stored')
})
