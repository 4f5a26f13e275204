// kill -9 mid-campaign, three times, then let it finish (issue 7). Parley runs as a
// real child process; the emulator (Meta) lives in this process and outlives every
// crash, counting each number it accepted a template message for. The bar: nobody is
// messaged twice, everybody is messaged once, the sends in flight at a crash become
// `unknown` and are settled by their statuses (biz_opaque_callback_data), and the
// counters equal the per-recipient truth.
import t from 'tap'
import { spawnAgainstEmulator, startEmulator, until } from './helpers/emulator.ts'
import { contactsCsv, play, recipients, truth, waitCampaign } from './helpers/campaigns.ts'
import type { CampaignDTO } from '../src/events/types.ts'

const N = 400

t.test('kill -9 at several points of a campaign: each recipient messaged exactly once and counted once', async (t) => {
  const emu = await startEmulator(t)
  const player = play({ emu })
  const parley = await spawnAgainstEmulator(t, emu, 'parley-campaign-crash')
  const call = parley.call
  const p = { call }
  const restart = async (why: string) => {
    t.comment(`kill -9 ${why} (accepted at Meta so far: ${player.tally().messages})`)
    await parley.kill('SIGKILL')
    await parley.start()
  }

  t.equal((await call('POST', '/api/contacts/import', { csv: contactsCsv(N) })).status, 201)
  const created = await call('POST', '/api/campaigns', {
    name: 'Crash',
    template: { name: 'order_update', language: 'en' },
    params: {
      body: { '1': { from: 'first_name' }, '2': { from: 'attribute', key: 'order' }, '3': { from: 'fixed', value: 'Friday' } },
      header: {},
    },
    audience: { kind: 'all' },
  })
  const id = (created.body.campaign as CampaignDTO).id
  t.equal((await call('POST', `/api/campaigns/${id}/start`, {})).status, 200)

  // 1. Right at the start: the first claims may be committed, the first calls in flight.
  await until(async () => player.tally().messages >= 1, 'the first send', 20_000)
  await restart('at the start')
  // 2. In full flow.
  await until(async () => player.tally().messages >= 120, '120 sent', 30_000)
  await restart('in full flow')
  // 3. With sends accepted by Meta but unanswered, and their statuses held back.
  await until(async () => player.tally().messages >= 220, '220 sent', 30_000)
  await emu.faults({ holdSends: true, pauseWebhooks: true })
  await until(async () => (await emu.stats()).held >= 3, 'sends held at Meta', 20_000)
  const heldAtCrash = (await emu.stats()).held
  await parley.kill('SIGKILL')
  t.comment(`kill -9 with ${heldAtCrash} sends held at Meta (accepted so far: ${player.tally().messages})`)
  await emu.faults({ holdSends: false })
  await parley.start()
  const inDoubt = await waitCampaign(p, id, (c) => c.counts.unknown >= 3, 'the interrupted sends are unknown after the restart', 30_000)
  t.ok(inDoubt.counts.unknown >= 3, `${inDoubt.counts.unknown} unknown, not resent`)
  // Meta's statuses arrive (they waited while Parley was down) and settle them.
  await emu.faults({ pauseWebhooks: false })

  // Everything Meta accepted is settled by its status; what is still unknown never
  // reached Meta (claimed, then killed before the request left). Parley does not guess.
  const settledAll = await waitCampaign(
    p,
    id,
    (c) => c.status === 'completed' && c.counts.delivered === player.tally().messages && c.counts.delivered + c.counts.unknown === N,
    'every send Meta accepted is delivered',
    60_000,
  )
  await until(async () => {
    const s = await emu.stats()
    return s.webhooksPending === 0 && s.statusesScheduled === 0
  }, 'Meta has nothing more to say')
  let tally = player.tally()
  t.same(tally.twice, [], 'nobody was messaged twice across three crashes')
  t.equal(settledAll.counts.delivered, tally.messages, 'every message Meta accepted is counted delivered, once')
  t.same(settledAll.counts, truth(await recipients(p, id)), 'counters equal the per-recipient truth')
  const unknown = await recipients(p, id, 'unknown')
  t.equal(unknown.length, settledAll.counts.unknown)
  t.ok(
    unknown.every((r) => !player.received.has(r.contact.phone!)),
    'the unknown ones are exactly those Meta never got',
  )
  t.comment(`${unknown.length} sends were claimed but never reached Meta; resent only on request`)

  // A user's explicit "send again" for those in doubt: they go out once each.
  const retry = await call('POST', `/api/campaigns/${id}/retry-unconfirmed`, {})
  t.equal(retry.status, 200)
  t.equal(retry.body.requeued, unknown.length)
  const done = await waitCampaign(p, id, (c) => c.status === 'completed' && c.counts.delivered === N, 'every recipient delivered', 60_000)
  tally = player.tally()
  t.same(tally.twice, [], 'nobody was messaged twice')
  t.equal(tally.recipients, N, 'everybody was messaged')
  t.equal(tally.messages, N, 'exactly one message per recipient at Meta')
  const rs = await recipients(p, id)
  t.equal(rs.length, N)
  t.equal(new Set(rs.map((r) => r.contact.id)).size, N, 'each recipient once in the table')
  t.same(done.counts, truth(rs), 'counters equal the per-recipient truth')
  t.equal(done.counts.total, N)
})
