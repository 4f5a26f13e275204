// Retry after a failure (issue 11 point 3), over real HTTP against the emulator: the
// route offers a new attempt only where one can succeed, by the same function the
// bubble's button follows (src/events/send-recovery.ts), and refuses the rest with a
// named code and the reason.
import t from 'tap'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { statusWebhook, status, textWebhook } from './helpers/wa.ts'
import { classify, plainReason } from '../src/domain/sending/meta-errors.ts'
import { RETRYABLE_CODES, sendRecovery } from '../src/events/send-recovery.ts'
import type { MessageDTO } from '../src/events/types.ts'

const CUSTOMER = '15550001111'
const DAY = 24 * 3600_000

const messageOf = async (p: Pick<Pair, 'call'>, conv: number, id: number) =>
  ((await p.call('GET', `/api/conversations/${conv}/messages`)).body.messages as MessageDTO[]).find((m) => m.id === id)

t.test('131047 after sending: retry refused with the reason; the action is the template picker', async (t) => {
  const p = await startPair(t)
  // Parley's window is open (a signed message) while Meta's is not (the emulator never saw her write).
  await p.emu.customer('Dana', CUSTOMER)
  t.equal((await p.parley.webhook(textWebhook(CUSTOMER, 'Dana', 'hi').payload)).status, 200)
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  const sent = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Hello Dana', clientMessageId: 'm-1' })
  const id = sent.body.message.id as number
  const failed = await until(async () => {
    const m = await messageOf(p, conv.id, id)
    return m?.status === 'failed' ? m : undefined
  }, 'failed by status webhook')
  t.equal(failed.error?.code, 131047)
  const recovery = sendRecovery(failed, 'whatsapp')
  t.equal(recovery?.action, 'template', 'the shared rule: choose a template')
  t.match(recovery?.reason, /24 hours/)

  const retry = await p.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)
  t.equal(retry.status, 422)
  t.equal(retry.body.error.code, 'RETRY_NEEDS_TEMPLATE')
  t.equal(retry.body.error.message, recovery!.reason, 'the route says what the bubble says')
  t.equal((await p.emu.stats()).sendRequests, 1, 'nothing sent again')
  t.equal((await messageOf(p, conv.id, id))!.status, 'failed')
})

t.test(
  'a transient failure after sending: retry is a new attempt, its ticks follow, a late status of the old one is ignored',
  async (t) => {
    const p = await startPair(t)
    await p.emu.customer('Maria', CUSTOMER)
    await p.emu.say(CUSTOMER, 'Is my order on its way?')
    const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
    // Meta's statuses for the first attempt wait (they arrive after the retry, below).
    await p.emu.faults({ pauseWebhooks: true })
    const sent = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'It ships today.', clientMessageId: 'm-1' })
    const id = sent.body.message.id as number
    const first = await until(async () => {
      const m = await messageOf(p, conv.id, id)
      return m?.providerMessageId ? m : undefined
    }, 'accepted by Meta')
    // Meta then fails it with a transient error (signed, as Meta sends it).
    const hook = statusWebhook(
      status(first.providerMessageId!, 'failed', CUSTOMER, {
        errors: [
          { code: 131000, title: 'Something went wrong', message: 'Something went wrong', error_data: { details: 'Something went wrong' } },
        ],
      }),
    )
    t.equal((await p.parley.webhook(hook)).status, 200)
    const failed = await until(async () => {
      const m = await messageOf(p, conv.id, id)
      return m?.status === 'failed' ? m : undefined
    }, 'failed')
    t.equal(sendRecovery(failed, 'whatsapp')?.action, 'retry')

    // Four clicks at once (two agents, two tabs): one new attempt, and each click is answered
    // with the message — on PostgreSQL they run side by side, so none may read between another's
    // statements. Meta holds its answer for a moment (as a slow call would).
    await p.emu.faults({ holdSends: true })
    const clicks = await Promise.all([1, 2, 3, 4].map(() => p.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)))
    t.same(
      clicks.map((c) => c.status),
      [202, 202, 202, 202],
    )
    t.same(
      clicks.map((c) => c.body.message.id),
      [id, id, id, id],
      'the same message, not a copy',
    )
    await until(async () => (await p.emu.stats()).held === 1, 'the new attempt at Meta')
    // While it is in flight, a late status of the first attempt (its own callback tag) arrives:
    // it must not name the message with the old wamid.
    const outboxId = (await p.parley.sql.get<{ id: number }>('SELECT id FROM outbox WHERE message_id = ?', [id]))!.id
    const oldTag = `parley:${p.parley.app.services.events.epoch}:${outboxId}`
    t.equal(
      (await p.parley.webhook(statusWebhook(status(first.providerMessageId!, 'delivered', CUSTOMER, { biz_opaque_callback_data: oldTag }))))
        .status,
      200,
    )
    const inFlight = (await messageOf(p, conv.id, id))!
    t.equal(inFlight.providerMessageId, null, 'the old attempt’s status settles nothing')
    t.equal(inFlight.status, 'sending')

    await p.emu.faults({ holdSends: false, pauseWebhooks: false })
    const delivered = await until(async () => {
      const m = await messageOf(p, conv.id, id)
      return m && (m.status === 'delivered' || m.status === 'read') ? m : undefined
    }, 'the new attempt delivered')
    t.not(delivered.providerMessageId, first.providerMessageId, 'a new wamid')
    t.equal(delivered.error, null)
    t.equal((await p.emu.stats()).sendRequests, 2, 'one new send for four clicks')
    const atCustomer = (await p.emu.messages(CUSTOMER)).filter((m) => m.direction === 'out')
    t.same(
      atCustomer.map((m) => m.text),
      ['It ships today.', 'It ships today.'],
      'Meta has both attempts',
    )

    // The first attempt's statuses held until now, and its 'failed' again, change nothing.
    t.equal((await p.parley.webhook(hook)).status, 200)
    await until(async () => (await p.emu.stats()).webhooksPending === 0, 'held webhooks delivered')
    const after = (await messageOf(p, conv.id, id))!
    t.equal(after.providerMessageId, delivered.providerMessageId)
    t.not(after.status, 'failed')

    // A delivered message is not retried.
    const again = await p.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)
    t.equal(again.status, 409)
    t.equal(again.body.error.code, 'NOT_RETRYABLE')
  },
)

t.test('a permanent failure is refused with its reason; the rule agrees with the worker on what is transient', async (t) => {
  // Every code the worker retries by itself is one an agent may retry.
  const table = [1, 2, 4, 80007, 130429, 131000, 131016, 131057]
  for (const code of table) t.ok(classify(code) !== 'permanent' && RETRYABLE_CODES.has(code), `${code} retryable on both sides`)
  const m = (code: number | null, status = 'failed'): Pick<MessageDTO, 'direction' | 'status' | 'error' | 'context'> => ({
    direction: 'out',
    status,
    error: { code, title: null, detail: plainReason(code) },
    context: null,
  })
  t.equal(sendRecovery(m(131026), 'whatsapp')?.action, 'none')
  t.equal(sendRecovery(m(131026), 'whatsapp')?.reason, plainReason(131026))
  t.equal(sendRecovery(m(null), 'whatsapp')?.action, 'retry', 'Parley’s own side (network, token missing)')
  t.equal(sendRecovery(m(null, 'unknown'), 'whatsapp')?.action, 'retry', 'unconfirmed')
  t.equal(sendRecovery(m(10), 'whatsapp')?.action, 'none', 'code 10 on WhatsApp is a permission problem')
  t.equal(sendRecovery(m(null, 'delivered'), 'whatsapp'), null)
  t.equal(sendRecovery({ ...m(131047), direction: 'in' }, 'whatsapp'), null)

  const p = await startPair(t, { emulator: { faults: { script: [{ error: 131026 }] } } })
  await p.emu.customer('Maria', CUSTOMER)
  await p.emu.say(CUSTOMER, 'hello')
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  const sent = await p.call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Hi!', clientMessageId: 'm-1' })
  const id = sent.body.message.id as number
  await until(async () => (await messageOf(p, conv.id, id))?.status === 'failed', 'failed')
  const retry = await p.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)
  t.equal(retry.status, 422)
  t.equal(retry.body.error.code, 'RETRY_WOULD_FAIL')
  t.equal(retry.body.error.message, plainReason(131026))
  t.equal((await p.emu.stats()).sendRequests, 1)
})

t.test('Messenger code 10: retry refused, the action is a human-agent follow-up, which Messenger accepts', async (t) => {
  const sb = await startMessengerSandbox(t)
  const { psid, conv } = await sb.chat('Ines', 'Hello?')
  // Meta's clock: she wrote 3 days ago, so an untagged reply is refused with code 10.
  t.equal((await sb.call('PATCH', `/api/sandbox/messenger/users/${psid}`, { lastInboundAt: Date.now() - 3 * DAY })).status, 200)
  const sent = await sb.reply(conv.id, 'Still there?')
  const id = sent.body.message.id as number
  const failed = await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'failed'), 'failed')
  t.equal(failed.error?.code, 10)
  const recovery = sendRecovery(failed, 'messenger')
  t.equal(recovery?.action, 'human_agent')
  t.match(recovery?.reason, /HUMAN_AGENT/)

  const retry = await sb.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)
  t.equal(retry.status, 422)
  t.equal(retry.body.error.code, 'RETRY_NEEDS_FOLLOW_UP')
  t.equal(retry.body.error.message, recovery!.reason)
  t.same((await sb.stats()).rejected, { 10: 1 }, 'not sent again the same way')

  // The follow-up the bubble offers: the same words, tagged.
  const follow = await sb.call('POST', `/api/conversations/${conv.id}/messages`, {
    text: 'Still there?',
    humanAgent: true,
    clientMessageId: 'f-1',
  })
  t.equal(follow.status, 202)
  await until(
    async () => (await sb.messages(conv.id)).find((m) => m.id === follow.body.message.id && m.status === 'delivered'),
    'delivered',
  )
  t.match(
    (await sb.atUser(psid)).filter((m) => m.direction === 'out'),
    [{ messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', text: 'Still there?' }],
  )
})

t.test('Messenger code 10 on a tagged follow-up: the 7 days are over too, nothing is offered', async (t) => {
  const sb = await startMessengerSandbox(t)
  // Parley: she wrote 3 days ago (a follow-up is tagged); Meta's clock: 8 days.
  const { psid, conv } = await sb.chat('Omar', 'Is my order coming?', Date.now() - 3 * DAY)
  t.equal((await sb.call('PATCH', `/api/sandbox/messenger/users/${psid}`, { lastInboundAt: Date.now() - 8 * DAY })).status, 200)
  const sent = await sb.reply(conv.id, 'Sorry for the wait')
  const id = sent.body.message.id as number
  const failed = await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'failed'), 'failed')
  t.equal(failed.error?.code, 10)
  t.same(failed.context, { messengerTag: 'HUMAN_AGENT' }, 'the message says it was a follow-up')
  const recovery = sendRecovery(failed, 'messenger')
  t.equal(recovery?.action, 'none')
  t.match(recovery?.reason, /7 days/)
  const retry = await sb.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)
  t.equal(retry.status, 422)
  t.equal(retry.body.error.code, 'RETRY_WOULD_FAIL')
  t.equal(retry.body.error.message, recovery!.reason)
})

t.test('Messenger: a reply failed inside the 24 hours and retried after them goes with the HUMAN_AGENT tag', async (t) => {
  const sb = await startMessengerSandbox(t, { OUTBOX_MAX_ATTEMPTS: '1' })
  const { psid, conv } = await sb.chat('Lea', 'Do you have it in blue?')
  // Meta has a moment of trouble (code 2, transient); with one attempt allowed it fails.
  t.equal((await sb.call('PUT', '/api/sandbox/messenger/faults', { sends: { sends: [{ error: 2 }] } })).status, 200)
  const sent = await sb.reply(conv.id, 'Yes, in blue too.')
  const id = sent.body.message.id as number
  const failed = await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'failed'), 'failed')
  t.equal(sendRecovery(failed, 'messenger')?.action, 'retry')
  // A day and a half later (on both clocks), the agent clicks Retry.
  const wrote = Date.now() - 36 * 3600_000
  await sb.s.sql.run('UPDATE conversations SET last_inbound_at = ?, window_expires_at = ? WHERE id = ?', [wrote, wrote + DAY, conv.id])
  t.equal((await sb.call('PATCH', `/api/sandbox/messenger/users/${psid}`, { lastInboundAt: wrote })).status, 200)
  const retry = await sb.call('POST', `/api/conversations/${conv.id}/messages/${id}/retry`)
  t.equal(retry.status, 202)
  t.same(retry.body.message.context, { messengerTag: 'HUMAN_AGENT' })
  await until(async () => (await sb.messages(conv.id)).find((m) => m.id === id && m.status === 'delivered'), 'delivered')
  t.match(
    (await sb.atUser(psid)).filter((m) => m.direction === 'out'),
    [{ messagingType: 'MESSAGE_TAG', tag: 'HUMAN_AGENT', text: 'Yes, in blue too.' }],
  )
})
