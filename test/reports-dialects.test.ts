// Reports written once for both databases (issue 17): the same writes — conversations opened,
// answered, resolved and reopened, messages in and out (automatic and campaign ones not
// counted, reactions ignored), an assignment, campaign messages delivered and replied to —
// made as plain SQL, as the triggers see them (SQLite's in migrations/sqlite/0012, PostgreSQL's
// in migrations/pg report_triggers), give the same facts and the same summary figures on SQLite
// and PostgreSQL, in every grouping, in all hours and in business hours, across a daylight
// saving change. Another workspace's rows never count.
import t from 'tap'
import { InlineFacts } from '../src/domain/reports/report-threads.ts'
import { type ReportSummary, Reports } from '../src/domain/reports/reports.ts'
import type { BusinessHours } from '../src/domain/team/business-hours.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { ReportsRepo } from '../src/store/reports.ts'
import { all } from '../src/store/unit.ts'
import type { WorkspaceSettings } from '../src/store/workspace-settings.ts'
import { type DialectDb, onBoth, insertId } from './helpers/dialects.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const WS = 1
const OTHER_WS = 2
const MIN = 60_000
const HOUR = 60 * MIN
// Monday 16 November 2026, 09:00 UTC (09:00 in Lisbon, winter time).
const T0 = Date.UTC(2026, 10, 16, 9)
// Tuesday 20 October 2026, 23:30 UTC: Wednesday 00:30 in Lisbon, summer time (UTC+1), before
// the change of 25 October — a day key that only a right offset puts on the 21st.
const SUMMER = Date.UTC(2026, 9, 20, 23, 30)
const NOW = Date.UTC(2026, 10, 21, 12)
const TIMEZONE = 'Europe/Lisbon'
const HOURS: BusinessHours = {
  weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, [{ from: '09:00', to: '17:00' }]])),
  holidays: [],
}

/** The writes of a small history, in the order Parley's writers make them. */
async function seed(db: DialectDb) {
  const user = (ws: number, name: string) =>
    insertId(db, `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, 'x', 'agent')`, [
      ws,
      `${name.toLowerCase()}@example.com`,
      name,
    ])
  const ana = await user(WS, 'Ana')
  const bob = await user(WS, 'Bob')
  const zed = await user(OTHER_WS, 'Zed')
  const channel = (ws: number, name: string) =>
    insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, ?)`, [ws, `e-${name}`, name])
  const main = await channel(WS, 'Main')
  const second = await channel(WS, 'Second')
  const other = await channel(OTHER_WS, 'Elsewhere')
  const conversation = async (ws: number, ch: number, phone: string) => {
    const contact = await insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id) VALUES (?, 'whatsapp', ?)`, [ws, phone])
    const id = await insertId(
      db,
      'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, ?, ?, ?)',
      [ws, ch, contact, 1],
    )
    return { id, ws, ch, contact }
  }
  type Conv = Awaited<ReturnType<typeof conversation>>
  const message = (
    c: Conv,
    direction: 'in' | 'out' | 'system',
    at: number,
    o: { type?: string; status?: string; sender?: number; context?: unknown; data?: unknown } = {},
  ) =>
    insertId(
      db,
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, timestamp, sender_user_id, context, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        c.ws,
        c.id,
        c.ch,
        direction,
        o.type ?? 'text',
        o.status ?? (direction === 'in' ? 'received' : 'sent'),
        at,
        o.sender ?? null,
        o.context === undefined ? null : JSON.stringify(o.context),
        o.data === undefined ? null : JSON.stringify(o.data),
      ],
    )
  const update = (c: Conv, set: string, params: unknown[]) => db.exec(`UPDATE conversations SET ${set} WHERE id = ?`, [...params, c.id])
  // A customer's message, as the inbox writer records it: the message, then the conversation waits.
  const customer = async (c: Conv, at: number, set = '') => {
    const m = await message(c, 'in', at)
    await update(c, `waiting_since = COALESCE(waiting_since, ?), last_message_id = ?, updated_at = ?${set}`, [at, m, at])
    return m
  }
  // A person's reply: the message, then the customer stops waiting.
  const reply = async (c: Conv, at: number, sender: number | null) => {
    const m = await message(c, 'out', at, { sender: sender ?? undefined })
    await update(c, 'waiting_since = NULL, last_message_id = ?, updated_at = ?', [m, at])
  }
  // A resolution, as conversation-status.ts writes it: the status, then the timeline's line.
  const resolve = async (c: Conv, at: number, by: number, set = '') => {
    await update(c, `status = 'resolved', updated_at = ?${set}`, [at])
    await message(c, 'system', at, { type: 'activity', sender: by, data: { action: 'resolved' } })
  }

  const a = await conversation(WS, main, '351900000001')
  const b = await conversation(WS, second, '351900000002')
  const c = await conversation(WS, main, '351900000003')
  const z = await conversation(OTHER_WS, other, '351900000009')

  // C: a customer in summer time, still waiting (before the range of a one-week report).
  await customer(c, SUMMER)

  // A: opens, gets Ana, a second message, Ana's first reply, an automatic message (not a
  // person's), a reply with a null campaign (a person's), a reaction (nothing); Bob resolves.
  await customer(a, T0)
  await update(a, 'assignee_id = ?', [ana])
  await customer(a, T0 + MIN)
  await reply(a, T0 + 10 * MIN, ana)
  await message(a, 'out', T0 + 11 * MIN, { context: { automatic: true } })
  await message(a, 'out', T0 + 12 * MIN, { sender: ana, context: { campaign: null } })
  await message(a, 'in', T0 + 13 * MIN, { type: 'reaction' })
  await resolve(a, T0 + HOUR, bob)
  // The customer comes back (a reopening), and is left unanswered: resolved again by Ana with
  // waiting cleared in the same UPDATE (no first reply: the episode ends first, as on SQLite).
  await customer(a, T0 + 2 * HOUR, `, status = 'open'`)
  await resolve(a, T0 + 4 * HOUR, ana, ', waiting_since = NULL')
  // Ana reopens it herself: an episode without a customer message.
  await update(a, `status = 'open', updated_at = ?`, [T0 + 5 * HOUR])

  // B: Bob's, with a campaign of Ana's: three messages queued, two delivered (one read), one
  // replied to — by the customer of B, whose reply opens B's episode; then B waits.
  await update(b, 'assignee_id = ?', [bob])
  const campaign = await insertId(
    db,
    `INSERT INTO campaigns (workspace_id, name, status, template_name, template_language, params, audience, channel_id, created_by)
     VALUES (?, 'Promo', 'done', 'promo', 'en', '[]', '{}', ?, ?)`,
    [WS, second, ana],
  )
  const recipients: [string, number | null][] = [
    ['delivered', T0 + 40 * MIN],
    ['read', null],
    ['sent', null],
  ]
  for (const [i, [status, repliedAt]] of recipients.entries()) {
    const m = await message(b, 'out', T0 + 30 * MIN, { status, context: { campaign } })
    const contact =
      i === 0
        ? b.contact
        : await insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id) VALUES (?, 'whatsapp', ?)`, [WS, `c${i}`])
    await db.exec(
      `INSERT INTO campaign_recipients (campaign_id, workspace_id, contact_id, state, message_id, queued_at, replied_at)
       VALUES (?, ?, ?, 'sent', ?, ?, ?)`,
      [campaign, WS, contact, m, T0 + 30 * MIN, repliedAt],
    )
  }
  await customer(b, T0 + 40 * MIN)
  await customer(b, T0 + 3 * HOUR)
  // A day later, Bob answers B from the next day.
  await reply(b, T0 + 25 * HOUR, bob)
  await customer(b, T0 + 26 * HOUR)

  // Z, the other workspace: a whole episode of Zed's, which no report of W may count.
  await update(z, 'assignee_id = ?', [zed])
  await customer(z, T0)
  await reply(z, T0 + 5 * MIN, zed)
  await resolve(z, T0 + HOUR, zed)
  await customer(z, T0 + 2 * HOUR)
  return { ana, bob, main, second }
}

const QUERIES = [
  { from: '2026-11-16', to: '2026-11-20', groupBy: 'day' },
  { from: '2026-10-15', to: '2026-11-20', groupBy: 'day' },
  { from: '2026-10-15', to: '2026-11-20', groupBy: 'week' },
  { from: '2026-10-15', to: '2026-11-20', groupBy: 'agent' },
  { from: '2026-10-15', to: '2026-11-20', groupBy: 'channel' },
  { from: '2026-11-16', to: '2026-11-16', groupBy: 'agent', hours: 'business' },
  { from: '2026-10-15', to: '2026-11-20', groupBy: 'day', hours: 'business' },
]

t.test('the same facts and figures on SQLite and PostgreSQL, workspace-scoped', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const ids = await seed(db)
    const repo = new ReportsRepo()
    const settings = { timezone: TIMEZONE, businessHours: HOURS } as WorkspaceSettings
    const reports = new Reports({
      repo,
      facts: new InlineFacts(repo, db.runner),
      units: db.runner,
      settings: async () => settings,
      now: () => NOW,
    })
    // The facts themselves, without ids (each database numbers its own).
    const facts = await db.runner.read(function* () {
      return {
        episodes: yield* all(
          `SELECT workspace_id AS "ws", conversation_id AS "conv", channel_id AS "channel", opened_at AS "openedAt", reopened,
             opened_assignee_id AS "openedAssignee", first_in_at AS "firstIn", first_reply_at AS "firstReply",
             first_reply_by AS "firstReplyBy", resolved_at AS "resolvedAt", resolved_by AS "resolvedBy",
             resolved_assignee_id AS "resolvedAssignee"
           FROM report_episodes ORDER BY workspace_id, conversation_id, opened_at`,
        ),
        counts: yield* all(
          `SELECT workspace_id AS "ws", hour, channel_id AS "channel", user_id AS "user", messages_in AS "in", messages_out AS "out"
           FROM report_message_counts ORDER BY workspace_id, hour, channel_id, user_id`,
        ),
      }
    })
    const summaries: ReportSummary[] = []
    for (const q of QUERIES) summaries.push(await reports.summary(WS, q))
    const other = await reports.summary(OTHER_WS, QUERIES[3]!)
    return { ids, facts, summaries, other }
  })

  // SQLite's answers, checked by hand where the scenario says what they must be.
  const s = sqlite
  const week = s.summaries[0]!.totals
  t.match(
    week,
    {
      conversationsOpened: 4, // A, A reopened by its customer, A reopened by Ana, B (not C: before the week)
      messagesIn: 6, // A 3, B 3 (the reaction is none)
      messagesOut: 3, // Ana's reply, her reply with a null campaign, Bob's (not the automatic, nor the campaign's)
      conversationsResolved: 2,
      campaigns: { delivered: 2, replied: 1, replyRate: 0.5 },
    },
    'the week, as the scenario says (campaign and automatic messages are no person’s)',
  )
  t.equal(week.conversationsReopened, 2, 'the customer’s and Ana’s reopenings')
  t.equal(week.firstResponse.count, 2, 'A’s first episode and B: the second episode of A was never answered')
  t.equal(week.waiting.count, 2, 'B and C wait now')
  t.equal(s.summaries[1]!.totals.conversationsOpened, 5, 'with C, in summer time')
  const c = s.summaries[1]!.rows.find((r) => r.conversationsOpened === 1 && r.key < '2026-11-01')
  t.equal(c?.key, '2026-10-21', 'C opened on 21 October in Lisbon (00:30 summer time), 20 October in UTC')
  const agents = s.summaries[3]!.rows.map((r) => r.label)
  t.same(agents, ['Ana', 'Bob', 'Nobody'], 'the workspace’s own people, and nobody: Zed is another workspace’s')
  const channels = s.summaries[4]!.rows.map((r) => r.label)
  t.same(channels, ['Main', 'Second'], 'the workspace’s own channels')
  t.ok(
    s.facts.episodes.some((e) => (e as { ws: number }).ws === OTHER_WS),
    'the other workspace has facts of its own',
  )
  t.match(s.other.totals, { conversationsOpened: 2, messagesIn: 2, messagesOut: 1, conversationsResolved: 1 }, 'its own only')
  t.same(
    s.other.rows.map((r) => r.label),
    ['Zed'],
    'and only its people',
  )

  if (!pg) {
    t.comment('no PostgreSQL server (PARLEY_TEST_PG_URL): SQLite only')
    return
  }
  t.same(pg.ids, s.ids, 'the same ids')
  t.same(pg.facts.episodes, s.facts.episodes, 'the same episodes')
  t.same(pg.facts.counts, s.facts.counts, 'the same hourly counts')
  for (const [i, q] of QUERIES.entries()) t.same(pg.summaries[i], s.summaries[i], `the same summary: ${JSON.stringify(q)}`)
  t.same(pg.other, s.other, 'the same summary of the other workspace')
})

// SQLite has one writer at a time; PostgreSQL runs writers at once. Two customer messages of
// one conversation in concurrent transactions must still open one episode: the second waits
// for the first's lock on the conversation, then sees its episode.
t.test('PostgreSQL: two concurrent first messages of a conversation open one episode', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'reports-test')
  const pool = openPgPool(url, { nodeId: 'reports-test', max: 4 })
  t.teardown(() => pool.end())
  const one = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows[0] as { id: number }
  const ws = (await one(`INSERT INTO workspaces (name) VALUES ('W') RETURNING id`)).id
  const ch = (
    await one(`INSERT INTO channels (workspace_id, kind, external_id, name) VALUES ($1, 'whatsapp', 'e', 'Main') RETURNING id`, [ws])
  ).id
  const contact = (await one(`INSERT INTO contacts (workspace_id, kind, external_id) VALUES ($1, 'whatsapp', 'p') RETURNING id`, [ws])).id
  const conv = (
    await one('INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES ($1, $2, $3, 1) RETURNING id', [
      ws,
      ch,
      contact,
    ])
  ).id
  const insertIn = `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, timestamp)
    VALUES ($1, $2, $3, 'in', 'text', 'received', $4)`
  const first = await pool.connect()
  const second = await pool.connect()
  t.teardown(() => {
    first.release()
    second.release()
  })
  await first.query('BEGIN')
  await first.query(insertIn, [ws, conv, ch, T0])
  await second.query('BEGIN')
  // An hour later: another hourly count, so nothing but the conversation's lock orders the two.
  const secondDone = second.query(insertIn, [ws, conv, ch, T0 + HOUR])
  // Wait for the state, not a time: the second transaction waits on the first's lock.
  const deadline = Date.now() + 10_000
  for (;;) {
    const r = await pool.query<{ n: number }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    )
    if (r.rows[0]!.n > 0) break
    if (Date.now() > deadline) throw new Error('the second transaction never waited for the first')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await first.query('COMMIT')
  await secondDone
  await second.query('COMMIT')
  const episodes = await pool.query('SELECT opened_at, first_in_at, reopened FROM report_episodes WHERE conversation_id = $1', [conv])
  t.same(episodes.rows, [{ opened_at: T0, first_in_at: T0, reopened: 0 }], 'one episode, opened by the first message')
  const counts = await pool.query('SELECT messages_in FROM report_message_counts WHERE workspace_id = $1 ORDER BY hour', [ws])
  t.same(counts.rows, [{ messages_in: 1 }, { messages_in: 1 }], 'both messages counted')
})
