// Campaigns written once for both databases (issue 17): the repositories' and the domain's
// units, on a fresh SQLite and a fresh PostgreSQL database from their real migrations, give
// the same rows, refusals and `campaign.updated` events — audiences (everyone, tags any/all,
// a list, opted-out and number-less contacts skipped), the snapshot, the lifecycle (start,
// pause, resume with Meta's refusals, cancel, complete), counters, failures, the recipients
// page and reply attribution. Another workspace's campaign and contacts are absent. On
// PostgreSQL, runners claiming one campaign's recipients at once never take one twice.
import t from 'tap'
import type { CampaignAttribution as Attribution } from '../src/domain/campaigns/campaign-attribution.ts'
import { CampaignAnalytics } from '../src/domain/campaigns/campaign-analytics.ts'
import { CampaignAttribution } from '../src/domain/campaigns/campaign-attribution.ts'
import { CampaignService, PAUSE_CODE_LIST } from '../src/domain/campaigns/campaigns.ts'
import { OptOutKeywords } from '../src/domain/campaigns/opt-out.ts'
import { ContactsService } from '../src/domain/contacts/contacts.ts'
import type { CampaignAudience } from '../src/events/types.ts'
import { AppError } from '../src/errors.ts'
import { CampaignRecipientsRepo } from '../src/store/campaign-recipients.ts'
import { type CampaignRepos, CampaignsRepo } from '../src/store/campaigns.ts'
import { ContactsRepo } from '../src/store/contacts.ts'
import type { ChannelRow, MessageRow } from '../src/store/inbox-store.ts'
import { all, get, step } from '../src/store/unit.ts'
import { type DialectDb, onBoth, pgDb, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2

/** What a unit threw: its code, or the unit's result. */
async function outcome<T>(p: Promise<T>): Promise<T | { error: string }> {
  try {
    return await p
  } catch (err) {
    if (err instanceof AppError) return { error: err.code }
    throw err
  }
}

const events = (db: DialectDb) => db.published.map((e) => ({ type: e.type, data: JSON.parse(e.data) }))

/** The campaign domain over one database, with a counter clock: the same times on both. */
function domainOn(db: DialectDb) {
  let now = 1_000_000
  const clock = () => ++now
  const repos: CampaignRepos = { campaigns: new CampaignsRepo(), recipients: new CampaignRecipientsRepo() }
  const contacts = new ContactsService(new ContactsRepo(), clock)
  const analytics = new CampaignAnalytics(repos, db.log, clock, db.runner, {
    onError: (err) => {
      throw err
    },
  })
  const service = new CampaignService({
    repos,
    units: db.runner,
    unitLog: db.log,
    now: clock,
    contacts,
    templates: undefined as never,
    outbox: undefined as never,
    analytics,
    whatsappChannel: async () => undefined,
    channel: async () => undefined,
    kick: () => {},
    kickOutbox: () => {},
  })
  const attribution: Attribution = new CampaignAttribution(
    repos.recipients,
    { updateMessage: () => step(() => undefined as unknown as MessageRow) },
    contacts,
    new OptOutKeywords(['stop']),
    60_000,
    () => {},
  )
  return { repos, service, analytics, attribution, clock }
}

/** Workspace 1: a number, five contacts (one opted out, one without a number), tags and a list; workspace 2: one contact. */
async function seed(db: DialectDb) {
  const channel = await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', 'p1', 'Main')`, [
    WS,
  ])
  const contact = (ws: number, phone: string, name: string, optedOutAt: number | null = null) =>
    insertId(
      db,
      `INSERT INTO contacts (workspace_id, kind, external_id, phone, name, opted_out_at, created_at, updated_at) VALUES (?, 'whatsapp', ?, ?, ?, ?, 1, 1)`,
      [ws, phone, phone, name, optedOutAt],
    )
  const ana = await contact(WS, '111', 'Ana')
  const bob = await contact(WS, '222', 'Bob')
  const cat = await contact(WS, 'cat@example', 'Cat')
  const dan = await contact(WS, '444', 'Dan', 5)
  const eve = await contact(WS, '555', 'Eve')
  const zed = await contact(OTHER_WS, '999', 'Zed')
  const tag = (ws: number, id: number, tag: string) =>
    db.exec('INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES (?, ?, ?)', [ws, id, tag])
  for (const id of [ana, bob, cat, dan]) await tag(WS, id, 'vip')
  await tag(WS, bob, 'new')
  await tag(WS, eve, 'new')
  await tag(OTHER_WS, zed, 'vip')
  const list = await insertId(db, 'INSERT INTO contact_lists (workspace_id, name, created_at) VALUES (?, ?, 1)', [WS, 'L'])
  await db.exec('INSERT INTO contact_list_members (list_id, contact_id) VALUES (?, ?), (?, ?)', [list, bob, list, eve])
  return { channel, ana, bob, cat, dan, eve, zed, list }
}

const INPUT = (audience: CampaignAudience) => ({
  name: '  Spring sale ',
  template: { name: 'promo', language: 'en' },
  params: { body: { '1': { from: 'first_name' as const } }, header: {} },
  audience,
})

t.test('audiences, the snapshot, the lifecycle and the counters are the same on both; another workspace is absent', async (t) => {
  const r = await onBoth(t, async (db) => {
    const s = await seed(db)
    const { service, repos } = domainOn(db)
    const vip: CampaignAudience = { kind: 'tags', tags: ['vip'], match: 'any' }
    const sizes = await db.runner.read(function* () {
      return {
        all: yield* service.audienceSizeUnit(WS, { kind: 'all' }),
        vip: yield* service.audienceSizeUnit(WS, vip),
        vipAndNew: yield* service.audienceSizeUnit(WS, { kind: 'tags', tags: ['vip', 'new'], match: 'all' }),
        vipOrNew: yield* service.audienceSizeUnit(WS, { kind: 'tags', tags: ['vip', 'new'], match: 'any' }),
        list: yield* service.audienceSizeUnit(WS, { kind: 'list', listId: s.list }),
        otherVip: yield* service.audienceSizeUnit(OTHER_WS, vip),
        first: (yield* repos.campaigns.firstEligible(WS, vip))?.name,
      }
    })
    const noList = await outcome(db.runner.read(() => service.audienceSizeUnit(OTHER_WS, { kind: 'list', listId: s.list })))

    const created = await db.log.transact((batch) => service.createUnit(WS, 7, INPUT(vip), s.channel, null, batch))
    const id = created.id
    // Started by hand here (start() asks Meta for the template first): the same transition and snapshot.
    const started = await db.log.transact((batch) =>
      service.transitionUnit(
        WS,
        id,
        ['draft'],
        () => ({ status: 'running', startedAt: 10, resumedAt: 10 }),
        batch,
        function* (c) {
          yield* repos.campaigns.snapshot(c, vip, 11)
        },
      ),
    )
    const again = await db.runner.transact(() => repos.campaigns.snapshot({ id, workspaceId: WS }, vip, 12))
    const wrongState = await outcome(db.log.transact((batch) => service.transitionUnit(WS, id, ['draft'], () => ({}), batch)))
    const page = await db.runner.read(() => service.recipientsUnit(WS, id, { limit: 10 }))
    const skippedOnly = await db.runner.read(() => service.recipientsUnit(WS, id, { limit: 10, status: 'skipped' }))
    const otherOwned = await outcome(db.runner.read(() => service.getUnit(OTHER_WS, id)))
    const otherPage = await outcome(db.runner.read(() => service.recipientsUnit(OTHER_WS, id, { limit: 10 })))
    const otherList = await db.runner.read(() => service.listUnit(OTHER_WS, { limit: 10 }))

    const paused = await db.log.transact((batch) => service.pauseUnit(WS, id, 'token_invalid', 'Meta said 190', ['running'], batch))
    const resumed = await db.log.transact((batch) => service.resumeUnit(WS, id, batch))
    const cancelled = await db.log.transact((batch) => service.cancelUnit(WS, id, batch))
    const list = await db.runner.read(() => service.listUnit(WS, { limit: 10 }))
    const running = await db.runner.read(() => repos.campaigns.runningIds())
    const status = await db.runner.read(() => repos.campaigns.status(id))
    return {
      sizes,
      noList,
      created,
      started,
      again,
      wrongState,
      page: page.map((p) => ({ contact: p.contact, status: p.status, skip: p.skip, queuedAt: p.queuedAt })),
      skippedOnly: skippedOnly.map((p) => p.contact.name),
      otherOwned,
      otherPage,
      otherList,
      paused: paused.pause,
      resumed: { status: resumed.campaign.status, refused: resumed.refused },
      cancelled: { status: cancelled.status, counts: cancelled.counts, skips: cancelled.skips },
      list: list.campaigns.map((c) => [c.id, c.name, c.status]),
      running,
      status,
      events: events(db),
    }
  })
  const s = r.sqlite
  t.same(s.sizes.all, { total: 5, optedOut: 1, eligible: 4 })
  t.same(s.sizes.vip, { total: 4, optedOut: 1, eligible: 3 })
  t.same(s.sizes.vipAndNew, { total: 1, optedOut: 0, eligible: 1 })
  t.same(s.sizes.vipOrNew, { total: 5, optedOut: 1, eligible: 4 })
  t.same(s.sizes.list, { total: 2, optedOut: 0, eligible: 2 })
  t.same(s.sizes.otherVip, { total: 1, optedOut: 0, eligible: 1 }, "the other workspace's audience is its own")
  t.equal(s.sizes.first, 'Ana')
  t.same(s.noList, { error: 'NOT_FOUND' }, "another workspace's list is not found")
  t.equal(s.created.name, 'Spring sale')
  t.equal(s.started.status, 'running')
  t.same(s.started.counts, {
    total: 4,
    queued: 2,
    sending: 0,
    unknown: 0,
    sent: 0,
    delivered: 0,
    read: 0,
    failed: 0,
    skipped: 2,
    replied: 0,
  })
  t.equal(s.again, 0, 'a second snapshot adds nobody')
  t.same(s.wrongState, { error: 'CAMPAIGN_STATE' })
  t.same(
    s.page.map((p) => [p.contact.name, p.status, p.skip?.reason ?? null]),
    [
      ['Ana', 'queued', null],
      ['Bob', 'queued', null],
      ['Cat', 'skipped', 'no_phone'],
      ['Dan', 'skipped', 'opted_out'],
    ],
  )
  t.same(s.skippedOnly, ['Cat', 'Dan'])
  t.same(s.otherOwned, { error: 'NOT_FOUND' })
  t.same(s.otherPage, { error: 'NOT_FOUND' })
  t.same(s.otherList, { campaigns: [], nextBeforeId: null })
  t.same(s.paused, { code: 'token_invalid', reason: 'Meta said 190' })
  t.same(s.resumed, { status: 'running', refused: [] })
  t.equal(s.cancelled.status, 'cancelled')
  t.same(s.cancelled.counts.skipped, 4, 'the pending recipients are skipped as cancelled')
  t.same(
    s.cancelled.skips.map((x) => [x.reason, x.count]),
    [
      ['cancelled', 2],
      ['no_phone', 1],
      ['opted_out', 1],
    ],
  )
  t.same(s.running, [])
  t.equal(s.status, 'cancelled')
  t.same(
    s.events.map((e) => [e.type, e.data.campaign.status]),
    [
      ['campaign.updated', 'draft'],
      ['campaign.updated', 'running'],
      ['campaign.updated', 'paused'],
      ['campaign.updated', 'running'],
      ['campaign.updated', 'cancelled'],
    ],
  )
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL gives the same rows, refusals and events')
})

t.test('claims, sends, failures, Meta refusals on resume, completion and reply attribution are the same on both', async (t) => {
  const r = await onBoth(t, async (db) => {
    const s = await seed(db)
    const { service, repos, attribution } = domainOn(db)
    const { recipients } = repos
    const audience: CampaignAudience = { kind: 'all' }
    const c = await db.log.transact((batch) => service.createUnit(WS, 7, INPUT(audience), s.channel, null, batch))
    await db.log.transact((batch) =>
      service.transitionUnit(
        WS,
        c.id,
        ['draft'],
        () => ({ status: 'running', startedAt: 10, resumedAt: 10 }),
        batch,
        function* (row) {
          yield* repos.campaigns.snapshot(row, audience, 11)
        },
      ),
    )
    const pending = await db.runner.read(() => recipients.pending(c.id, 10))
    const [ana, bob, eve] = pending
    // Ana and Bob are claimed; Bob a second time is refused; Eve is skipped for a missing value.
    const takes = await db.runner.transact(function* () {
      return [
        yield* recipients.take(ana!.recipientId, 20),
        yield* recipients.take(bob!.recipientId, 20),
        yield* recipients.take(bob!.recipientId, 21),
      ]
    })
    await db.runner.transact(() => recipients.skip(eve!.recipientId, 'missing_value', 'No value for {{1}}'))
    // Their messages: Ana's delivered, Bob's refused by Meta (190), never accepted.
    const conv = (contact: number) =>
      insertId(
        db,
        'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at, created_at, updated_at) VALUES (?, ?, ?, 1, 1, 1)',
        [WS, s.channel, contact],
      )
    const message = (conversation: number, status: string, fields: { deliveredAt?: number; errorCode?: number; wamid?: string }) =>
      insertId(
        db,
        `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, "timestamp", created_at, updated_at,
                              delivered_at, error_code, error_detail, provider_message_id, client_message_id)
         VALUES (?, ?, ?, 'out', 'template', ?, 20, 20, 30, ?, ?, ?, ?, ?)`,
        [
          WS,
          conversation,
          s.channel,
          status,
          fields.deliveredAt ?? null,
          fields.errorCode ?? null,
          fields.errorCode ? 'Token expired' : null,
          fields.wamid ?? null,
          `campaign:${c.id}:${status}`,
        ],
      )
    const anaConv = await conv(s.ana)
    const anaMsg = await message(anaConv, 'delivered', { deliveredAt: 40, wamid: 'wamid.A' })
    const bobMsg = await message(await conv(s.bob), 'failed', { errorCode: 190 })
    await db.runner.transact(function* () {
      yield* recipients.link(ana!.recipientId, anaMsg)
      yield* recipients.link(bob!.recipientId, bobMsg)
    })
    const health = await db.runner.read(function* () {
      return {
        refusal: yield* recipients.refusalSince(c.id, 10, PAUSE_CODE_LIST),
        recent: yield* recipients.recentSettled(c.id, 10, 10),
        failures: yield* recipients.failureCounts(c.id),
        refused: yield* recipients.refusedMessages(c.id, PAUSE_CODE_LIST),
        unconfirmed: yield* recipients.unconfirmedMessages(c.id),
        anyPending: yield* recipients.anyPending(c.id),
        active: yield* recipients.activeCount(c.id),
        retrying: yield* recipients.retrying(c.id, 0),
        queuedInOutbox: yield* recipients.queuedInOutbox(s.channel, 1),
        byClientId: yield* recipients.messageIdByClientId(WS, `campaign:${c.id}:failed`),
        otherByClientId: yield* recipients.messageIdByClientId(OTHER_WS, `campaign:${c.id}:failed`),
        dto: yield* service.getUnit(WS, c.id),
        followUps: [
          yield* service.audienceSizeUnit(WS, { kind: 'followup', campaignId: c.id, filter: 'failed' }),
          yield* service.audienceSizeUnit(WS, { kind: 'followup', campaignId: c.id, filter: 'unread' }),
          yield* service.audienceSizeUnit(WS, { kind: 'followup', campaignId: c.id, filter: 'no_reply' }),
        ],
      }
    })
    // Paused by Meta's 190: its refused (never accepted) send comes back on resume.
    await db.log.transact((batch) => service.pauseUnit(WS, c.id, 'token_invalid', 'Meta said 190', ['running'], batch))
    const resumed = await db.log.transact((batch) => service.resumeUnit(WS, c.id, batch))
    // Ana answers within the window: attributed, her first reply marked; "STOP" from Bob opts him out.
    const channel = { kind: 'whatsapp' } as ChannelRow
    const inbound = (id: number, conversationId: number, text: string, at: number, replyTo: number | null = null) =>
      ({ id, conversationId, direction: 'in', type: 'text', text, timestamp: at, replyToMessageId: replyTo }) as unknown as MessageRow
    const reply = await db.log.transact((batch) => attribution.attributeUnit(channel, inbound(9001, anaConv, 'Yes please', 50), batch))
    const second = await db.log.transact((batch) =>
      attribution.attributeUnit(channel, inbound(9002, anaConv, 'And more', 60, anaMsg), batch),
    )
    const byMessage = await db.runner.read(() => recipients.byMessage(anaMsg))
    const late = await db.runner.read(() => recipients.deliveredWithin(s.ana, 40 + 60_001, 60_000))
    const bobConv = (await db.runner.read(() => all<{ id: number }>('SELECT id FROM conversations WHERE contact_id = ?', [s.bob])))[0]!.id
    const stop = await db.log.transact((batch) => attribution.attributeUnit(channel, inbound(9003, bobConv, 'STOP', 70), batch))
    const bobOptedOut = await db.runner.read(() =>
      get<{ at: number | null }>('SELECT opted_out_at AS at FROM contacts WHERE id = ?', [s.bob]),
    )
    await db.log.transact((batch) => service.completeUnit(WS, c.id, batch))
    const final = await db.runner.read(() => service.getUnit(WS, c.id))
    const page = await db.runner.read(() => service.recipientsUnit(WS, c.id, { limit: 10, status: 'replied' }))
    return {
      takes,
      health,
      resumed: resumed.refused.length,
      reply,
      second,
      byMessage,
      late,
      stop,
      bobOptedOut: bobOptedOut?.at,
      final: { status: final.status, counts: final.counts, failures: final.failures, skips: final.skips },
      replied: page.map((p) => [p.contact.name, p.repliedAt, p.messageId]),
      events: events(db).map((e) => [e.type, e.data.campaign?.status ?? e.data.contact?.optedOut ?? null]),
    }
  })
  const s = r.sqlite
  t.same(s.takes, [true, true, false], 'a recipient no longer pending is not taken again')
  t.equal(s.health.refusal?.code, 190)
  t.same(s.health.failures, [{ code: 190, n: 1, detail: 'Token expired' }])
  t.equal(s.health.refused.length, 1)
  t.equal(s.health.anyPending, false)
  t.equal(s.health.active, 0)
  t.same(s.health.retrying, { n: 0, why: null, code: null })
  t.equal(s.health.otherByClientId, undefined, "another workspace's message is absent")
  t.equal(s.health.dto.counts.delivered, 1)
  t.equal(s.health.dto.counts.failed, 1)
  t.same(
    s.health.followUps.map((x) => x.total),
    [1, 1, 1],
    'follow-ups: the failed one, the unread one, the one with no reply',
  )
  t.equal(s.resumed, 1, 'the send Meta refused with 190 is handed back on resume')
  t.same(s.reply, { id: s.health.dto.id, name: 'Spring sale' })
  t.same(s.second, s.reply, 'a quoted reply is attributed as well')
  t.equal(s.byMessage?.repliedAt, 50, 'the first reply is the one counted')
  t.equal(s.late, undefined, 'outside the window: not attributed')
  t.equal(s.stop, undefined)
  t.equal(s.bobOptedOut, 70, '"STOP" opts the contact out')
  t.equal(s.final.status, 'completed')
  t.equal(s.final.counts.replied, 1)
  t.same(
    s.replied.map(([name, at]) => [name, at]),
    [['Ana', 50]],
  )
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL gives the same rows and events')
})

t.test('PostgreSQL: runners claiming one campaign at once never take one recipient twice', async (t) => {
  const db = await pgDb(t)
  if (!db) {
    t.pass('no PostgreSQL server (PARLEY_TEST_PG_URL): skipped')
    return
  }
  const s = await seed(db)
  const { service, repos } = domainOn(db)
  const { recipients } = repos
  const N = 300
  await db.exec(
    `INSERT INTO contacts (workspace_id, kind, external_id, created_at, updated_at) SELECT CAST(? AS BIGINT), 'whatsapp', (1000000 + g)::text, 1, 1 FROM generate_series(1, ?::int) g`,
    [WS, N],
  )
  const audience: CampaignAudience = { kind: 'all' }
  const c = await db.log.transact((batch) => service.createUnit(WS, 7, INPUT(audience), s.channel, null, batch))
  await db.log.transact((batch) =>
    service.transitionUnit(
      WS,
      c.id,
      ['draft'],
      () => ({ status: 'running' }),
      batch,
      function* (row) {
        yield* repos.campaigns.snapshot(row, audience, 1)
      },
    ),
  )
  const total = (await db.runner.read(() => get<{ n: number }>(`SELECT count(*) AS n FROM campaign_recipients WHERE state = 'pending'`)))!.n
  t.equal(total, N + 3, 'every contact with a number and not opted out is pending')

  // Each runner does what CampaignRunner does: reads the pending rows, then claims them in
  // one transaction, in id order. All three read before any claims (a barrier), so all three
  // try to take every recipient at once: each row is contested by three transactions.
  const RUNNERS = 3
  let read = 0
  let allRead: () => void = () => {}
  const barrier = new Promise<void>((resolve) => {
    allRead = resolve
  })
  const runnerClaim = async (): Promise<{ taken: number[]; refused: number }> => {
    const rows = await db.runner.read(() => recipients.pending(c.id, N + 100))
    if (++read === RUNNERS) allRead()
    await barrier
    return db.runner.transact(function* () {
      const taken: number[] = []
      let refused = 0
      for (const r of rows) {
        if (yield* recipients.take(r.recipientId, 2)) taken.push(r.recipientId)
        else refused++
      }
      return { taken, refused }
    })
  }
  const claims = await Promise.all(Array.from({ length: RUNNERS }, runnerClaim))
  const everyClaim = claims.flatMap((x) => x.taken)
  t.equal(everyClaim.length, N + 3, 'every recipient claimed')
  t.equal(new Set(everyClaim).size, everyClaim.length, 'no recipient claimed twice')
  t.equal(
    claims.reduce((n, x) => n + x.refused, 0),
    (RUNNERS - 1) * (N + 3),
    'every other attempt found the recipient no longer pending',
  )
  const left = (await db.runner.read(() => get<{ n: number }>(`SELECT count(*) AS n FROM campaign_recipients WHERE state = 'pending'`)))!.n
  t.equal(left, 0)
})
