// The failed bubble in a real Chromium (issue 11 point 3): it says why and offers the one
// action that can help — the template picker after WhatsApp's 131047 (never Retry), and
// Retry after a transient failure, whose new attempt then shows its ticks, and the
// HUMAN_AGENT follow-up after Messenger's code 10.
import t from 'tap'
import type { Page } from 'playwright-core'
import { startPair, until } from './helpers/emulator.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { textWebhook } from './helpers/wa.ts'
import { agentPage, E2E_FILE_TIMEOUT_MS, ensureWebBuild, launchBrowser, LIVE_MS, openConversation } from './helpers/browser.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)
t.before(ensureWebBuild)

async function reply(page: Page, text: string) {
  await page.fill('#composer-input', text)
  await page.keyboard.press('Enter')
}

const bubble = (page: Page, text: string) => page.locator('.msg.out', { has: page.locator('.text', { hasText: text }) })

t.test('131047: the reason and "Send a template", which opens the picker; a transient failure: Retry, then ticks', async (t) => {
  // One attempt per send, so a transient error ends as failed at once (the agent's Retry is what is tested).
  const p = await startPair(t, { env: { OUTBOX_MAX_ATTEMPTS: '1' } })
  // Dana: Parley's window is open (a signed message), Meta's is not (the emulator never saw her write).
  await p.emu.customer('Dana', '15550001111')
  t.equal((await p.parley.webhook(textWebhook('15550001111', 'Dana', 'hi').payload)).status, 200)
  // Maria wrote through the emulator: both sides agree her window is open.
  await p.emu.customer('Maria', '15550002222')
  await p.emu.say('15550002222', 'is it shipped?')
  const convs = (await p.call('GET', '/api/conversations')).body.conversations as { id: number; contact: { externalId: string } }[]
  const dana = convs.find((c) => c.contact.externalId === '15550001111')!.id
  const maria = convs.find((c) => c.contact.externalId === '15550002222')!.id

  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, p.parley.url)

  await openConversation(page, dana)
  await reply(page, 'Hello Dana')
  const failed = bubble(page, 'Hello Dana')
  await failed.locator('.fail-reason[data-recovery="template"]').waitFor({ timeout: LIVE_MS })
  const reason = (await failed.locator('.fail-reason').textContent()) ?? ''
  t.match(reason, /more than 24 hours have passed since the customer last wrote/i, 'the reason in words')
  t.match(reason, /code 131047/)
  t.equal(await failed.getByRole('button', { name: 'Retry' }).count(), 0, 'no Retry that cannot work')
  t.equal(await page.locator('.composer.template').count(), 0, 'Parley’s own window still says open')
  await failed.getByRole('button', { name: 'Send a template' }).click()
  await page.locator('.composer.template select').waitFor({ timeout: LIVE_MS })
  await page.waitForFunction(() => document.querySelectorAll('.composer.template select option').length > 1, undefined, {
    timeout: LIVE_MS,
  })
  t.ok(await page.locator('.composer.template option', { hasText: 'order_update' }).count(), 'the picker lists the approved templates')

  // Maria: Meta answers the next send with a transient error; the bubble offers Retry.
  await p.emu.faults({ script: [{ error: 131000 }] })
  await openConversation(page, maria)
  await reply(page, 'Yes, today')
  const transient = bubble(page, 'Yes, today')
  await transient.locator('.fail-reason[data-recovery="retry"]').waitFor({ timeout: LIVE_MS })
  t.match((await transient.locator('.fail-reason').textContent()) ?? '', /code 131000/)
  t.equal(await transient.getByRole('button', { name: 'Send a template' }).count(), 0)
  await transient.getByRole('button', { name: 'Retry' }).click()
  await transient.locator('.ticks[data-status="delivered"], .ticks[data-status="read"]').waitFor({ timeout: LIVE_MS })
  t.equal(await transient.locator('.fail-reason').count(), 0, 'the reason goes with the failure')
  t.equal((await p.emu.messages('15550002222')).filter((m) => m.direction === 'out' && m.text === 'Yes, today').length, 1, 'delivered once')
})

t.test('Messenger code 10: "Follow up as a person" sends the same words with the HUMAN_AGENT tag', async (t) => {
  const sb = await startMessengerSandbox(t)
  const { psid, conv } = await sb.chat('Ines', 'Hello?')
  // Meta's clock: she wrote 3 days ago; Parley's says just now.
  t.equal((await sb.call('PATCH', `/api/sandbox/messenger/users/${psid}`, { lastInboundAt: Date.now() - 3 * 86_400_000 })).status, 200)
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, sb.s.url)
  await openConversation(page, conv.id)
  await reply(page, 'Still there?')
  const failed = bubble(page, 'Still there?')
  await failed.locator('.fail-reason[data-recovery="human_agent"]').waitFor({ timeout: LIVE_MS })
  t.match((await failed.locator('.fail-reason').textContent()) ?? '', /HUMAN_AGENT/)
  t.equal(await failed.getByRole('button', { name: 'Retry' }).count(), 0, 'no Retry into the same refusal')
  await failed.getByRole('button', { name: 'Follow up as a person' }).click()
  await page.locator('.window-note.human-agent').waitFor({ timeout: LIVE_MS })
  t.equal(await page.inputValue('#composer-input'), 'Still there?', 'the failed words, ready to send')
  // Pressed on the input itself: the composer focuses it in an effect after it renders, and
  // a key pressed before that (a busy CI machine) would go to the page and send nothing.
  await page.locator('#composer-input').press('Enter')
  await until(async () => (await sb.atUser(psid)).some((m) => m.direction === 'out'), 'the follow-up at the user')
  t.match(
    (await sb.atUser(psid)).filter((m) => m.direction === 'out'),
    [{ messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', text: 'Still there?' }],
  )
  t.same((await sb.stats()).rejected, { 10: 1 }, 'only the first, untagged send was refused')
})
