// Health written once for both databases (issue 17): the repository's units and the facts
// the report and /metrics are built from, on a fresh SQLite and a fresh PostgreSQL database
// from their real migrations, are the same — channels (booleans as booleans), the outbox's
// backlog, paused and running campaigns, media bytes past 2 GB, the event log's extent, the
// last backup — and so are the report and the metrics' text. Another workspace's channels
// and campaigns are absent from a workspace's report.
import t, { type Test } from 'tap'
import { Health, type HealthFacts, type HealthReport, LAST_BACKUP_KEY } from '../src/domain/health/health.ts'
import { ParleyMetrics } from '../src/domain/health/metrics.ts'
import { HealthTracker } from '../src/domain/health/tracker.ts'
import { isDatabaseUnavailable } from '../src/http/health.ts'
import { HealthRepo } from '../src/store/health.ts'
import { openPgPool } from '../src/store/pg/db.ts'
import { PgRunner } from '../src/store/runner.ts'
import { get } from '../src/store/unit.ts'
import { type DialectDb, pgDb, sqliteDb, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2
const NOW = 1_780_000_000_000
const MIN = 60_000
// Past 2^31: a 4-byte sum would overflow on PostgreSQL.
const BIG_MEDIA = 3_000_000_000

/** The body on SQLite, then on PostgreSQL, both with the same fixed clock (event times). */
async function onBoth<T>(t: Test, body: (db: DialectDb) => Promise<T>): Promise<{ sqlite: T; pg: T | undefined }> {
  const clock = () => NOW - 10 * MIN
  const sqlite = await body(await sqliteDb(t, clock))
  const p = await pgDb(t, clock)
  return { sqlite, pg: p ? await body(p) : undefined }
}

async function seed(db: DialectDb): Promise<void> {
  const channel = (ws: number, kind: string, external: string, enabled: boolean, status: string | null, detail: string | null) =>
    insertId(
      db,
      `INSERT INTO channels (workspace_id, kind, external_id, name, enabled, credentials_status, credentials_detail, credentials_checked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [ws, kind, external, `${kind} ${external}`, enabled, status, detail, status === null ? null : NOW - 60 * MIN],
    )
  const wa = await channel(WS, 'whatsapp', '15550001', true, 'verified', null)
  const page = await channel(WS, 'messenger', 'page-1', false, 'rejected', 'Error validating access token')
  const other = await channel(OTHER_WS, 'whatsapp', '15550009', true, null, null)

  /** An outbox row in `state`, created `ageMin` minutes ago, on a conversation of its own. */
  const outbox = async (ws: number, channelId: number, state: string, ageMin: number) => {
    const contact = await insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id) VALUES (?, 'whatsapp', ?)`, [
      ws,
      `c${channelId}-${state}-${ageMin}`,
    ])
    const conv = await insertId(
      db,
      'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, ?, ?, ?)',
      [ws, channelId, contact, 1],
    )
    const message = await insertId(
      db,
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, timestamp) VALUES (?, ?, ?, 'out', 'text', 'pending', ?)`,
      [ws, conv, channelId, NOW],
    )
    await db.exec(
      `INSERT INTO outbox (workspace_id, channel_id, conversation_id, message_id, kind, payload, state, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'text', '{}', ?, ?, ?, ?)`,
      [ws, channelId, conv, message, state, NOW, NOW - ageMin * MIN, NOW],
    )
  }
  await outbox(WS, wa, 'queued', 12)
  await outbox(WS, wa, 'sending', 3)
  await outbox(WS, wa, 'sent', 60)
  await outbox(WS, page, 'queued', 1)
  await outbox(OTHER_WS, other, 'queued', 30)

  const campaign = (ws: number, channelId: number, name: string, status: string, code: string | null, reason: string | null) =>
    insertId(
      db,
      `INSERT INTO campaigns (workspace_id, channel_id, name, status, template_name, template_language, params, audience, paused_at, pause_code, pause_reason)
       VALUES (?, ?, ?, ?, 'hello', 'en', '{}', '{}', ?, ?, ?)`,
      [ws, channelId, name, status, status === 'paused' ? NOW - 5 * MIN : null, code, reason],
    )
  await campaign(WS, wa, 'Spring sale', 'paused', 'token_invalid', 'Meta refused the access token (190).')
  await campaign(WS, wa, 'Held back', 'paused', 'manual', null)
  await campaign(WS, wa, 'Newsletter', 'running', null, null)
  await campaign(OTHER_WS, other, 'Their sale', 'paused', 'error_flood', 'Most sends failed.')
  await campaign(OTHER_WS, other, 'Their newsletter', 'running', null, null)

  const media = (state: string, size: number | null) =>
    db.exec(`INSERT INTO media (workspace_id, direction, state, size) VALUES (?, 'in', ?, ?)`, [WS, state, size])
  await media('stored', BIG_MEDIA)
  await media('stored', 12_345)
  await media('stored', null)
  await media('pending', 999)

  for (let i = 0; i < 3; i++)
    await db.log.transact(function* (batch) {
      // A unit reads before it writes; the event is what counts here.
      yield* get('SELECT 1 AS one')
      batch.emit(WS, 'labels.changed', { labels: [] })
    })
  await db.exec('INSERT INTO meta (key, value) VALUES (?, ?)', [LAST_BACKUP_KEY, String(NOW - 72 * 3600_000)])
}

function healthOn(): Health {
  const metrics = new ParleyMetrics({ processMetrics: false })
  const tracker = new HealthTracker({ metrics, now: () => NOW, isChannel: () => true })
  return new Health({
    tracker,
    metrics,
    repo: new HealthRepo(),
    now: () => NOW,
    // Neither exists: no disk or file sizes, which would differ between the two runs.
    dataDir: '/nonexistent/parley-health-dialects',
    databaseFile: '/nonexistent/parley-health-dialects/p.db',
    eventRetentionDays: 30,
    openStreams: () => 2,
    pausedUntil: () => null,
    // biome-ignore lint/correctness/useYield: a unit that reads nothing
    campaignCounts: function* () {
      return {
        total: 4,
        queued: 1,
        sending: 1,
        unknown: 0,
        sent: 1,
        delivered: 1,
        read: 0,
        failed: 0,
        skipped: 0,
        replied: 0,
      }
    },
    storageFailure: () => null,
  })
}

t.test('the same health facts, report and metrics on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    await seed(db)
    const repo = new HealthRepo()
    const raw = await db.runner.read(function* () {
      return {
        channels: yield* repo.channels(),
        // Grouped rows come in no set order on PostgreSQL; the domain keys them by channel.
        backlog: (yield* repo.backlog()).sort((a, b) => a.channelId - b.channelId),
        paused: yield* repo.pausedCampaigns(20),
        pausedOne: yield* repo.pausedCampaigns(1),
        running: yield* repo.runningCampaigns(20),
        media: yield* repo.mediaBytes(),
        eventLog: yield* repo.eventLog(),
        backup: (yield* repo.meta(LAST_BACKUP_KEY)) ?? null,
        noKey: (yield* repo.meta('no such key')) ?? null,
        isChannel: yield* repo.isChannel('whatsapp', '15550001'),
        isNotChannel: yield* repo.isChannel('messenger', '15550001'),
      }
    })
    const health = healthOn()
    const facts: HealthFacts = await db.runner.read(() => health.factsUnit())
    facts.backlog.sort((a, b) => a.channelId - b.channelId)
    const report = health.report(WS, facts)
    const otherReport = health.report(OTHER_WS, facts)
    const metricsFacts = await db.runner.read(() => healthOn().factsUnit({ metrics: true }))
    const metrics = (await healthOn().metricsText(metricsFacts)).body
    return { raw, facts, report, otherReport, metrics }
  })

  const { raw, report, otherReport, metrics } = sqlite
  t.same(
    raw.channels.map((c) => [c.externalId, c.enabled, c.credentialsStatus]),
    [
      ['15550001', true, 'verified'],
      ['page-1', false, 'rejected'],
      ['15550009', true, null],
    ],
    'booleans read as booleans',
  )
  t.same(
    raw.backlog.map((b) => [b.depth, b.oldestAt]),
    [
      [2, NOW - 12 * MIN],
      [1, NOW - MIN],
      [1, NOW - 30 * MIN],
    ],
    'only queued and sending rows wait',
  )
  t.same(
    raw.paused.map((c) => c.name),
    ['Their sale', 'Held back', 'Spring sale'],
    'newest first',
  )
  t.equal(raw.pausedOne.length, 1)
  t.same(
    raw.running.map((c) => c.name),
    ['Newsletter', 'Their newsletter'],
  )
  t.equal(raw.media, BIG_MEDIA + 12_345, 'stored media only, past 2^31')
  t.same(raw.eventLog, { events: 3, oldestAt: NOW - 10 * MIN })
  t.equal(raw.backup, String(NOW - 72 * 3600_000))
  t.equal(raw.noKey, null)
  t.equal(raw.isChannel, true)
  t.equal(raw.isNotChannel, false)

  const names = (r: HealthReport) => r.channels.map((c) => c.name)
  t.same(names(report), ['whatsapp 15550001', 'messenger page-1'], "this workspace's channels only")
  t.same(names(otherReport), ['whatsapp 15550009'], "the other workspace's only")
  const wa = report.channels[0]!
  t.same(
    wa.pauses.campaigns.map((c) => c.name),
    ['Held back', 'Spring sale'],
    "its campaigns, none of the other workspace's",
  )
  t.match(wa.queue, { depth: 2, oldestAgeSeconds: 12 * 60 })
  t.equal(wa.items.find((i) => i.key === 'queue')?.status, 'red', 'the oldest waits past 5 minutes')
  t.equal(report.channels[1]!.tokenErrors.rejected, true)
  t.equal(report.system.items.find((i) => i.key === 'backup')?.status, 'red', 'the last backup is 3 days old')
  t.same(report.system.media, { bytes: BIG_MEDIA + 12_345 })
  t.equal(report.status, 'attention')
  t.match(metrics, /parley_outbox_depth\{channel="\d+",kind="whatsapp",number="15550001"\} 2/)
  t.match(metrics, /parley_media_bytes 3000012345/)
  t.match(metrics, /parley_event_log_events 3/)
  t.match(metrics, /parley_campaign_progress_ratio\{campaign="\d+"\} 0\.5/)
  t.equal(sqlite.facts.databaseBytes, null, 'SQLite: the file is measured, not asked')
  if (pg) {
    // The database's size is the one fact that differs: PostgreSQL's own figure, no WAL file.
    t.ok(pg.facts.databaseBytes! > 0, 'PostgreSQL: the database size comes from the server')
    t.equal(pg.report.system.database.bytes, pg.facts.databaseBytes)
    t.equal(pg.report.system.database.walBytes, 0)
    t.match(pg.metrics, new RegExp(`parley_database_bytes\\{file="db"\\} ${pg.facts.databaseBytes}\\b`))
    t.same(withoutSize(pg), withoutSize(sqlite), 'PostgreSQL gives exactly what SQLite does')
  } else t.comment('no PostgreSQL (PARLEY_TEST_PG_URL unset): SQLite only')
})

/** The facts and answers without the database's size, which each database measures its own way. */
function withoutSize<T extends { facts: HealthFacts; report: HealthReport; otherReport: HealthReport; metrics: string }>(o: T) {
  const { databaseBytes: _d, ...facts } = o.facts
  const sizeless = (r: HealthReport) => {
    const { database: _db, items, ...system } = r.system
    return { ...r, system: { ...system, items: items.filter((i) => i.key !== 'size') } }
  }
  return {
    ...o,
    facts,
    report: sizeless(o.report),
    otherReport: sizeless(o.otherReport),
    metrics: o.metrics
      .split('\n')
      .filter((l) => !l.startsWith('parley_database'))
      .join('\n'),
  }
}
