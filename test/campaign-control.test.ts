// Pause, resume, cancel and schedule a campaign (issue 7), and the pauses it makes by
// itself: an invalid token (190) and a flood of failures, each with its reason shown.
// Progress is counted at the emulator (Meta's side); nothing here measures time.
import t from 'tap'
import { startPair, until, type Pair } from './helpers/emulator.ts'
import { action, campaign, contactsCsv, createCampaign, importCsv, play, recipients, truth, waitCampaign } from './helpers/campaigns.ts'

// A slow number keeps the campaign running long enough to act on it.
const SLOW = { env: { WHATSAPP_SEND_RATE_PER_SECOND: '10' }, emulator: { ratePerSecond: 10 } }
// The outbox backlog a 10/s number keeps (half a second, at least 5) plus the sends the
// worker may have claimed in its current window: what can still go out after a pause.
const AFTER_PAUSE_BOUND = 5 + 10

const campaignRowsInOutbox = async (p: Pair) =>
  (await p.parley.sql.get<{ n: number }>(`SELECT count(*) AS n FROM outbox WHERE priority = 1 AND state IN ('queued', 'sending')`))!.n

t.test('pause stops sending within the backlog; resume sends exactly the rest', async (t) => {
  const p = await startPair(t, SLOW)
  const player = play(p)
  await importCsv(p, contactsCsv(60))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  await until(async () => player.tally().messages >= 10, '10 sent')
  const paused = await action(p, c.id, 'pause')
  t.equal(paused.status, 'paused')
  t.same(paused.pause, { code: 'manual', reason: 'Paused by a user.' })
  const atPause = player.tally().messages
  await until(async () => (await campaignRowsInOutbox(p)) === 0, 'the backlog drained')
  const drained = player.tally().messages
  t.ok(drained - atPause <= AFTER_PAUSE_BOUND, `after the pause only the backlog went out (${drained - atPause})`)
  t.ok(drained < 60, 'the campaign did not finish while paused')
  // Nothing moves while paused (several runner ticks).
  await new Promise((r) => setTimeout(r, 600))
  t.equal(player.tally().messages, drained)
  // Compare counters with the table once the statuses of what went out have arrived
  // (each is delivered in this play), not while a webhook may land between two reads.
  const mid = await waitCampaign(p, c.id, (x) => x.counts.delivered === drained, 'what went out is delivered')
  t.equal(mid.counts.queued, 60 - drained, 'the rest waits')
  t.same(mid.counts, truth(await recipients(p, c.id)))

  t.equal((await p.call('POST', `/api/campaigns/${c.id}/pause`, {})).status, 409, 'pausing twice is refused')
  const resumed = await action(p, c.id, 'resume')
  t.equal(resumed.status, 'running')
  t.equal(resumed.pause, null)
  const done = await waitCampaign(p, c.id, (x) => x.status === 'completed' && x.counts.delivered === 60, 'completed')
  t.same(done.counts, truth(await recipients(p, c.id)))
  const tally = player.tally()
  t.equal(tally.recipients, 60)
  t.same(tally.twice, [], 'nobody messaged twice across pause and resume')
})

t.test('cancel: the rest is skipped as cancelled, and counted', async (t) => {
  const p = await startPair(t, SLOW)
  const player = play(p)
  await importCsv(p, contactsCsv(50))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  await until(async () => player.tally().messages >= 5, '5 sent')
  const cancelled = await action(p, c.id, 'cancel')
  t.equal(cancelled.status, 'cancelled')
  await until(async () => (await campaignRowsInOutbox(p)) === 0, 'the backlog drained')
  const final = await waitCampaign(p, c.id, (x) => x.counts.queued + x.counts.sending + x.counts.sent === 0, 'settled')
  const sent = player.tally()
  t.same(sent.twice, [])
  t.equal(final.counts.delivered, sent.messages, 'what went out was delivered')
  t.equal(final.counts.skipped, 50 - sent.messages, 'the rest is skipped')
  t.same(final.skips, [{ reason: 'cancelled', label: 'Campaign cancelled before sending', count: 50 - sent.messages }])
  t.same(final.counts, truth(await recipients(p, c.id)))
  t.equal((await p.call('POST', `/api/campaigns/${c.id}/resume`, {})).status, 409, 'a cancelled campaign stays cancelled')
})

t.test('an invalid token (190) pauses the campaign with its reason; after the fix, resume sends the refused ones', async (t) => {
  const p = await startPair(t)
  const player = play(p)
  await importCsv(p, contactsCsv(100))
  const channel = (await p.call('GET', '/api/channels')).body.channels.find((x: { kind: string }) => x.kind === 'whatsapp')
  const c = await createCampaign(p)
  // The token is revoked at Meta between the draft and the start.
  t.equal((await p.call('PATCH', `/api/channels/${channel.id}`, { accessToken: 'revoked-token' })).status, 200)
  await action(p, c.id, 'start', {})
  const paused = await waitCampaign(p, c.id, (x) => x.status === 'paused', 'paused by itself')
  t.equal(paused.pause?.code, 'token_invalid')
  t.match(paused.pause?.reason, /access token has expired or is invalid/)
  await until(async () => (await campaignRowsInOutbox(p)) === 0, 'the backlog drained')
  const refused = await campaign(p, c.id)
  t.ok(refused.counts.failed > 0 && refused.failures[0]?.code === 190, `${refused.counts.failed} refused with 190`)
  t.ok(refused.counts.queued > 0, 'the rest waits instead of failing one by one')
  t.equal(player.tally().messages, 0, 'Meta accepted nothing')

  t.equal((await p.call('PATCH', `/api/channels/${channel.id}`, { accessToken: 'test-graph-token' })).status, 200)
  await action(p, c.id, 'resume')
  const done = await waitCampaign(p, c.id, (x) => x.status === 'completed' && x.counts.delivered === 100, 'completed after the fix')
  t.equal(done.counts.failed, 0, 'the refused sends went again')
  const tally = player.tally()
  t.equal(tally.recipients, 100)
  t.same(tally.twice, [])
})

t.test('a flood of failures pauses the campaign, naming the most common reason', async (t) => {
  const p = await startPair(t, SLOW)
  play(p, { failures: { 131026: 0.9 } })
  await importCsv(p, contactsCsv(80))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  const paused = await waitCampaign(p, c.id, (x) => x.status === 'paused', 'paused by itself')
  t.equal(paused.pause?.code, 'error_flood')
  t.match(paused.pause?.reason, /of the last \d+ messages failed\. Most common reason: The message could not be delivered/)
  t.ok(paused.counts.queued > 0, 'stopped before the whole list failed')
})

t.test('scheduled: starts at its time; cancelled before it, sends nothing', async (t) => {
  const p = await startPair(t)
  const player = play(p)
  await importCsv(p, contactsCsv(5))
  const later = await createCampaign(p, { name: 'Later' })
  const s = await action(p, later.id, 'start', { at: Date.now() + 800 })
  t.equal(s.status, 'scheduled')
  t.ok(s.scheduledAt! > Date.now() - 1000)
  t.equal(player.tally().messages, 0)
  const done = await waitCampaign(p, later.id, (x) => x.status === 'completed' && x.counts.delivered === 5, 'ran at its time')
  t.ok(done.startedAt! >= s.scheduledAt!, 'not before its time')

  const never = await createCampaign(p, { name: 'Never' })
  await action(p, never.id, 'start', { at: Date.now() + 3600_000 })
  const x = await action(p, never.id, 'cancel')
  t.equal(x.status, 'cancelled')
  t.equal(x.counts.total, 0, 'no audience was taken')
  t.equal(player.tally().messages, 5)

  // Refusals with reasons: an empty audience, a template without its values.
  const empty = await createCampaign(p, { name: 'Nobody', audience: { kind: 'tags', tags: ['nobody'], match: 'any' } })
  const res = await p.call('POST', `/api/campaigns/${empty.id}/start`, {})
  t.equal(res.status, 422)
  t.equal(res.body.error.code, 'AUDIENCE_EMPTY')
  const bad = await p.call('POST', '/api/campaigns', {
    name: 'Bad',
    template: { name: 'order_update', language: 'en' },
    params: { body: { '1': { from: 'name' } }, header: {} },
    audience: { kind: 'all' },
  })
  t.equal(bad.status, 400)
  t.match(bad.body.error.message, /\{\{2\}\}, \{\{3\}\}/)
  const other = await p.call('GET', '/api/campaigns/999999')
  t.equal(other.status, 404)
})

t.test('preview for one contact: the rendered template, or why that contact would be skipped', async (t) => {
  const p = await startPair(t)
  await importCsv(p, 'phone,name,order,tags\n+4915100000001,Ana Lima,#77,vip\n+4915100000002,,,vip\n')
  const contacts = (await p.call('GET', '/api/contacts?tag=vip')).body.contacts as { id: number; phone: string }[]
  const ana = contacts.find((c) => c.phone === '4915100000001')!
  const blank = contacts.find((c) => c.phone === '4915100000002')!
  const spec = {
    template: { name: 'order_update', language: 'en' },
    params: {
      body: { '1': { from: 'first_name' }, '2': { from: 'attribute', key: 'order' }, '3': { from: 'fixed', value: 'Friday' } },
      header: {},
    },
    audience: { kind: 'tags', tags: ['vip'], match: 'any' },
  }
  const first = (await p.call('POST', '/api/campaigns/preview', spec)).body
  t.equal(first.contact.id, ana.id, 'the first contact of the audience by default')
  t.equal(first.text, 'Hi Ana, your order #77 has shipped and should arrive by Friday.')
  t.same(first.audience, { total: 2, optedOut: 0, eligible: 2 })
  const missing = (await p.call('POST', '/api/campaigns/preview', { ...spec, contactId: blank.id })).body
  t.equal(missing.text, null)
  t.same(missing.skip, { reason: 'missing_value', detail: 'No value for {{1}} (first name)' })
  const withFallback = {
    ...spec,
    params: { body: { ...spec.params.body, '1': { from: 'attribute', key: 'nickname', fallback: 'there' } }, header: {} },
    contactId: blank.id,
  }
  t.equal((await p.call('POST', '/api/campaigns/preview', withFallback)).body.skip.detail, 'No value for {{2}} (attribute "order")')
  await p.call('POST', `/api/contacts/${ana.id}/opt-out`, { optedOut: true })
  const out = (await p.call('POST', '/api/campaigns/preview', { ...spec, contactId: ana.id })).body
  t.equal(out.skip.reason, 'opted_out')
  t.same(out.audience, { total: 2, optedOut: 1, eligible: 1 })

  // The runner skips (and counts) exactly what the preview warned about.
  const player = play(p)
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  const done = await waitCampaign(p, c.id, (x) => x.status === 'completed', 'completed')
  t.same(done.skips.map((s) => s.reason).sort(), ['missing_value', 'opted_out'])
  t.equal(player.tally().messages, 0)
  const rs = await recipients(p, c.id, 'skipped')
  t.same(rs.map((r) => r.skip?.detail).sort(), ['No value for {{1}} (first name)', null].sort())
})
