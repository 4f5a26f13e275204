// Issue 17, "Proven by" 4 and the outbox part of 2, with real processes: three real Parley
// processes (`node --import tsx src/main.ts`) on one fresh PostgreSQL database, a WhatsApp number
// on the Graph emulator, and a campaign created and started through the REST API as a user
// would. About halfway (the emulator's own count), with sends accepted by Meta but not yet
// answered, the process that runs the campaigns (the `campaigns` lease) and the one that sends
// on the number (`channel:<id>` lease) are killed with SIGKILL — one process or two, whichever
// holds them. The bar: the campaign finishes through a survivor; nobody gets two messages; each
// recipient is sent once or, only for a send in flight at the kill, `unknown` and never resent;
// the dead process's `sending` rows become `unknown`; its number and campaign are owned by a
// survivor (the 20 s: the times are logged, not asserted).
// Without PARLEY_TEST_PG_URL the file is skipped with a comment (PARLEY_TEST_PG=required: it fails).
import t from 'tap'
import type { CampaignDTO, CampaignRecipientDTO } from '../src/events/types.ts'
import { campaign, contactsCsv, play, recipients } from './helpers/campaigns.ts'
import { liveLeases, ownersOf } from './helpers/cluster-proofs.ts'
import { startEmulator, until } from './helpers/emulator.ts'
import { type Cluster, signIn, startCluster } from './helpers/pg-cluster.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { apiCall } from './helpers/server.ts'

// Recipients, and the number's rate: ~7 s of sending, so the kill lands mid-campaign.
const N = 150
const RATE = 20
// Generous deadlines for states on a busy 2-core machine; nothing is asserted about time.
const STATE_MS = 120_000

const databaseUrl = await freshPgDatabase(t)

if (!databaseUrl) {
  t.comment('skipped: PostgreSQL is needed for several processes (set PARLEY_TEST_PG_URL)')
} else {
  const dbUrl = databaseUrl
  t.test('proof 4: a campaign whose processes are killed halfway finishes on a survivor; nobody gets two messages', async (tt) => {
    let cluster: Cluster | undefined
    tt.teardown(() => {
      if (!tt.passing() && cluster) tt.comment(cluster.logs())
    })
    const emu = await startEmulator(tt)
    // The audience: the emulator counts, per number, every template message it accepted.
    const player = play({ emu })
    cluster = await startCluster(tt, dbUrl, emu, 3, {
      WHATSAPP_SEND_RATE_PER_SECOND: String(RATE),
    })
    const c = cluster
    const token = await signIn(c.nodes[0]!.url)
    const call = apiCall(c.nodes[0]!.url, token)

    tt.equal((await call('POST', '/api/contacts/import', { csv: contactsCsv(N) })).status, 201, 'contacts imported')
    const created = await call('POST', '/api/campaigns', {
      name: 'Killed halfway',
      template: { name: 'order_update', language: 'en' },
      params: {
        body: { '1': { from: 'first_name' }, '2': { from: 'attribute', key: 'order' }, '3': { from: 'fixed', value: 'Friday' } },
        header: {},
      },
      audience: { kind: 'all' },
    })
    tt.equal(created.status, 201, 'campaign created')
    const id = (created.body.campaign as CampaignDTO).id
    // Started on another process than the one it was created on: the database is the truth.
    tt.equal((await apiCall(c.nodes[1]!.url, token)('POST', `/api/campaigns/${id}/start`, {})).status, 200, 'campaign started')

    // Halfway by Meta's count, sends start being held (accepted at Meta, unanswered): the kill
    // then lands with requests in flight whose answer will never reach the process.
    await until(async () => player.tally().messages >= N / 2, 'half the recipients messaged', STATE_MS)
    await emu.faults({ holdSends: true })
    await until(async () => (await emu.stats()).held >= 3, 'sends held at Meta', STATE_MS)
    // Who runs the campaigns and who sends on the number, read right before the kill: the two
    // may differ, and each process gives up what is above its share as the others start.
    const owners = async () => {
      const l = await liveLeases(dbUrl, '')
      const camp = l.find((x) => x.name === 'campaigns')
      const chan = l.find((x) => x.name.startsWith('channel:'))
      return camp && chan ? { campaignOwner: camp.owner, channelOwner: chan.owner, channel: chan.name } : undefined
    }
    const leases = await until(owners, 'the campaigns and the number owned', STATE_MS)
    const victims = c.nodes.filter((n) => n.name === leases.campaignOwner || n.name === leases.channelOwner)
    const survivors = c.nodes.filter((n) => !victims.includes(n))
    await Promise.all(victims.map((v) => v.proc.kill('SIGKILL')))
    const killedAt = Date.now()
    const heldAtKill = (await emu.stats()).held
    const messagedAtKill = player.tally().messages
    // The leases outlive their holder until they expire: still the victims' right after the kill.
    tt.same(await owners(), leases, `campaigns run by ${leases.campaignOwner}, ${leases.channel} sent on by ${leases.channelOwner}: killed`)
    tt.comment(`kill -9 ${victims.map((v) => v.name).join(' and ')} with ${messagedAtKill} of ${N} messaged, ${heldAtKill} held at Meta`)
    // Meta answers the held requests now; their connections died with the process.
    await emu.faults({ holdSends: false })

    const survivor = apiCall(survivors[0]!.url, token)
    // The dead sender's rows in flight, as a survivor shows them right after the kill.
    const inFlight = await recipients({ call: survivor }, id, 'sending')
    tt.ok(inFlight.length >= heldAtKill, `${inFlight.length} recipients were being sent to (≥ ${heldAtKill} held at Meta)`)
    const inFlightIds = new Set(inFlight.map((r) => r.id))

    // Each proof's wait measures its own time from the kill (logged; the bar is 20 s).
    const since = () => `${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`
    const names = new Set(survivors.map((s) => s.name))
    const waits = await Promise.all([
      until(
        async () => {
          const by = await ownersOf(dbUrl, 'channel:')
          return by.length === 1 && names.has(by[0]!) ? `the number owned by ${by[0]} ${since()}` : undefined
        },
        'the number owned by a survivor',
        STATE_MS,
      ),
      until(
        async () => {
          const by = await ownersOf(dbUrl, 'campaigns')
          return by.length === 1 && names.has(by[0]!) ? `the campaigns run by ${by[0]} ${since()}` : undefined
        },
        'the campaign owned by a survivor',
        STATE_MS,
      ),
      until(
        async () => {
          const now = await recipients({ call: survivor }, id)
          return now.filter((r) => inFlightIds.has(r.id)).every((r) => r.status === 'unknown')
            ? `the ${inFlight.length} sends in flight unknown ${since()}`
            : undefined
        },
        "the dead sender's sends in flight unknown",
        STATE_MS,
      ),
    ])
    for (const w of waits) tt.comment(w)

    const done = await until(
      async () => {
        const now = await campaign({ call: survivor }, id)
        return now.status === 'completed' ? now : undefined
      },
      'the campaign completed through a survivor',
      STATE_MS,
    )
    tt.comment(`campaign completed ${since()}: ${JSON.stringify(done.counts)}`)
    tt.ok(player.tally().messages > messagedAtKill, 'the survivors sent the rest')

    // Nobody got two messages, at Meta's own count, and each request Meta saw was accepted once.
    const tally = player.tally()
    tt.same(tally.twice, [], 'no recipient received two messages')
    const stats = await emu.stats()
    tt.equal(stats.sendRequests, tally.messages, 'every send request Meta saw was a distinct recipient’s one message')

    // Each recipient: sent exactly once, or unknown only if it was in flight at the kill, never resent.
    const rs: CampaignRecipientDTO[] = await recipients({ call: survivor }, id)
    tt.equal(rs.length, N, 'every recipient listed')
    const received = (r: CampaignRecipientDTO) => player.received.get(r.contact.phone!.replace(/^\+/, '')) ?? 0
    const sent = rs.filter((r) => r.status === 'sent' || r.status === 'delivered' || r.status === 'read')
    const unknown = rs.filter((r) => r.status === 'unknown')
    tt.equal(sent.length + unknown.length, N, 'every recipient sent or unknown (none failed, skipped or left queued)')
    tt.same(
      sent.filter((r) => received(r) !== 1).map((r) => r.contact.phone),
      [],
      'every recipient shown as sent was messaged exactly once',
    )
    tt.same(
      unknown.filter((r) => !inFlightIds.has(r.id)).map((r) => r.contact.phone),
      [],
      'unknown only for sends that were in flight at the kill',
    )
    tt.same(
      unknown.filter((r) => received(r) > 1).map((r) => r.contact.phone),
      [],
      'an unknown send was never resent',
    )
    tt.ok(
      unknown.filter((r) => received(r) === 1).length >= heldAtKill,
      'the sends Meta accepted but never answered are among the unknown ones',
    )
    // The message itself, in the customer's conversation, says the same.
    for (const r of unknown.slice(0, 5)) {
      const page = await survivor('GET', `/api/conversations/${r.conversationId}/messages?limit=50`)
      const m = (page.body.messages as Array<{ id: number; status: string }>).find((x) => x.id === r.messageId)
      tt.equal(m?.status, 'unknown', `the message to ${r.contact.phone} is unknown in its conversation`)
    }
    tt.comment(
      `${unknown.length} unknown (${unknown.filter((r) => received(r) === 1).length} of them reached Meta), resent only on request`,
    )
  })
}
