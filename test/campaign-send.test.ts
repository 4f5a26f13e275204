// Campaigns end to end (issue 7): real Parley over HTTP, real SQLite from the
// migrations, the emulator as Meta playing the audience, and the real SSE stream.
// Counted where the outside world counts: every recipient messaged at most once at the
// emulator, and the live counters equal the per-recipient table.
import t from 'tap'
import { startPair, until } from './helpers/emulator.ts'
import { connectSse } from './helpers/sse.ts'
import {
  action,
  contactsCsv,
  createCampaign,
  importCsv,
  play,
  recipientPhone,
  recipients,
  truth,
  waitCampaign,
} from './helpers/campaigns.ts'
import type { CampaignDTO, MessageDTO } from '../src/events/types.ts'

t.test('a campaign reaches each recipient once; live counters equal the per-recipient truth and the emulator', async (t) => {
  const p = await startPair(t)
  const player = play(p, { failures: { 131026: 0.1, 131049: 0.05 }, delivered: 0.9, read: 0.6, replied: 0.5, quoted: 1 })
  await importCsv(p, contactsCsv(120))
  // Two contacts opted out beforehand: skipped and counted, never messaged.
  const listed = (await p.call('GET', '/api/contacts?q=Customer 7&limit=200')).body.contacts as { id: number; name: string }[]
  const out = listed.filter((c) => c.name === 'Customer 7' || c.name === 'Customer 70')
  t.equal(out.length, 2)
  for (const c of out) t.equal((await p.call('POST', `/api/contacts/${c.id}/opt-out`, { optedOut: true })).status, 200)

  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => sse.close())
  const draft = await createCampaign(p)
  t.equal(draft.status, 'draft')
  const started = await action(p, draft.id, 'start', {})
  t.equal(started.status, 'running')
  t.equal(started.counts.total, 120)

  const done = await waitCampaign(
    p,
    draft.id,
    // Settled: every status and reply the emulator played has arrived (statuses keep
    // coming after the last send, so "completed" alone is a moving snapshot).
    (c) =>
      c.status === 'completed' &&
      c.counts.queued + c.counts.sending + c.counts.unknown === 0 &&
      c.counts.sent === player.outcomes.sent &&
      c.counts.delivered === player.outcomes.delivered &&
      c.counts.read === player.outcomes.read + player.outcomes.replied &&
      c.counts.replied === player.outcomes.replied &&
      c.counts.failed === Object.values(player.outcomes.failed).reduce((a, b) => a + b, 0),
    'campaign completed, every played status and reply arrived',
    // A state wait, not a timing assertion: on PostgreSQL every send, status and reply is a
    // transaction of several round trips, and a loaded machine can take well over 30s here.
    90_000,
  )
  const rs = await recipients(p, draft.id)
  t.equal(rs.length, 120, 'one row per recipient')
  t.equal(new Set(rs.map((r) => r.contact.id)).size, 120, 'nobody twice')
  t.same(done.counts, truth(rs), 'counters equal the per-recipient table')
  t.equal(done.counts.skipped, 2, 'opted-out contacts are skipped and counted')
  t.same(done.skips, [{ reason: 'opted_out', label: 'Opted out', count: 2 }])
  t.equal(done.progress, 1)

  // The outside world's count: 118 numbers, one message each; the skipped got nothing.
  const tally = player.tally()
  t.equal(tally.recipients, 118)
  t.same(tally.twice, [], 'no number received the campaign twice')
  t.notOk(player.received.has(recipientPhone(7)), 'an opted-out contact was not messaged')
  const failedAtEmulator = Object.values(player.outcomes.failed).reduce((a, b) => a + b, 0)
  t.equal(done.counts.failed, failedAtEmulator, 'failed as Meta reported')
  t.equal(done.counts.sent + done.counts.delivered + done.counts.read, 118 - failedAtEmulator)
  for (const f of done.failures) {
    t.equal(f.count, player.outcomes.failed[f.code!], `failures grouped by code ${f.code}`)
    t.ok(f.reason.length > 10, `a plain-language reason for ${f.code}: ${f.reason}`)
  }
  t.equal(done.counts.replied, player.outcomes.replied)

  // The same counters arrived live on the stream.
  await sse.waitFor((evs) =>
    evs.some(
      (e) =>
        e.event === 'campaign.updated' &&
        JSON.stringify((JSON.parse(e.data) as { campaign: CampaignDTO }).campaign.counts) === JSON.stringify(done.counts),
    ),
  )
  const updates = sse.data<{ campaign: CampaignDTO }>('campaign.updated').filter((e) => e.campaign.id === draft.id)
  t.ok(updates.length >= 2, `${updates.length} campaign.updated events`)
  t.ok(
    updates.some((u) => u.campaign.status === 'running' && u.campaign.progress > 0 && u.campaign.progress < 1),
    'progress was visible while running',
  )

  // A campaign message is an ordinary outbound message in the customer's conversation.
  const someone = rs.find((r) => r.status === 'read')!
  const msgs = (await p.call('GET', `/api/conversations/${someone.conversationId}/messages`)).body.messages as MessageDTO[]
  const sent = msgs.find((m) => m.id === someone.messageId)!
  t.equal(sent.type, 'template')
  t.match(sent.text, /^Hi Customer, your order #1\d{3} has shipped and should arrive by Friday\.$/)
  t.same((sent.context as { campaign?: unknown }).campaign, { id: draft.id, name: 'Spring' })

  // Replies land in the inbox as open conversations, marked "replied to campaign".
  const replied = rs.find((r) => r.repliedAt !== null)!
  const thread = (await p.call('GET', `/api/conversations/${replied.conversationId}/messages`)).body.messages as MessageDTO[]
  const answer = thread.find((m) => m.direction === 'in')!
  t.same((answer.context as { campaign?: unknown }).campaign, { id: draft.id, name: 'Spring' })
  const conv = (await p.call('GET', `/api/conversations/${replied.conversationId}`)).body.conversation
  t.equal(conv.status, 'open')
  const quiet = rs.find((r) => r.repliedAt === null && r.conversationId !== null)!
  t.equal(
    (await p.call('GET', `/api/conversations/${quiet.conversationId}`)).body.conversation.status,
    'resolved',
    'a broadcast does not fill the open inbox',
  )

  // CSV export: one line per recipient, with the same statuses.
  const res = await fetch(`${p.parley.url}/api/campaigns/${draft.id}/recipients.csv`, { headers: { authorization: `Bearer ${p.token}` } })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /text\/csv/)
  t.match(res.headers.get('content-disposition'), /attachment/)
  const lines = (await res.text())
    .replace(/^\ufeff/, '')
    .trim()
    .split('\r\n')
  t.equal(lines.length, 121)
  t.match(lines[0], /^recipient_id,contact_id,name,phone,status/)
  t.equal(lines.filter((l) => l.split(',')[4] === 'failed').length, done.counts.failed)
})

t.test('follow-up: a new campaign for the failed, the unread or those who did not reply', async (t) => {
  const p = await startPair(t)
  const player = play(p, { failures: { 131026: 0.25 }, delivered: 1, read: 0.5, replied: 0 })
  await importCsv(p, contactsCsv(40))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  // Every status the emulator played has arrived.
  const done = await waitCampaign(
    p,
    c.id,
    (x) =>
      x.status === 'completed' &&
      x.counts.delivered === player.outcomes.delivered &&
      x.counts.read === player.outcomes.read &&
      x.counts.failed === (player.outcomes.failed[131026] ?? 0),
    'completed',
  )
  for (const [filter, expected] of [
    ['failed', done.counts.failed],
    ['unread', done.counts.delivered],
    ['no_reply', done.counts.delivered + done.counts.read],
  ] as const) {
    if (expected === 0) continue
    const res = await p.call('POST', `/api/campaigns/${c.id}/follow-up`, { filter })
    t.equal(res.status, 201, filter)
    t.equal(res.body.campaign.status, 'draft')
    t.equal(res.body.campaign.followUpOf, c.id)
    const size = await p.call('POST', '/api/campaigns/audience', { audience: res.body.campaign.audience })
    t.equal(size.body.audience.total, expected, `${filter}: ${expected} recipients`)
  }
})

t.test('an agent’s reply on the same number goes before the campaign’s queue', async (t) => {
  // A slow number (5/s) and a 60-recipient campaign: the backlog is always full.
  const p = await startPair(t, { env: { WHATSAPP_SEND_RATE_PER_SECOND: '5' }, emulator: { ratePerSecond: 5 } })
  const player = play(p)
  await p.emu.customer('Agent’s customer', '15550009999')
  await p.emu.say('15550009999', 'Hello, is my order ready?')
  const conv = (await p.call('GET', '/api/conversations')).body.conversations[0]
  await importCsv(p, contactsCsv(60))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  await until(async () => player.tally().messages >= 5, 'the campaign is sending')
  const before = player.tally().messages
  const reply = await p.call('POST', `/api/conversations/${conv.id}/messages`, {
    text: 'Yes, ready for pickup',
    clientMessageId: 'agent-1',
  })
  t.equal(reply.status, 202)
  await until(async () => (await p.emu.messages('15550009999')).some((m) => m.direction === 'out'), 'the reply reached the customer')
  const after = player.tally().messages
  // The reply waited at most for the sends already claimed, never for the campaign's queue.
  t.ok(after - before <= 5 + 1, `campaign messages sent while the reply waited: ${after - before}`)
  await action(p, c.id, 'cancel')
})
