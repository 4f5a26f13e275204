// Reports (issue 15) over real HTTP, checked against a scenario computed by hand with the
// app's clock: a customer writes, a person answers 5 minutes later, it is resolved an hour
// after, the customer reopens it, the answer comes the next morning across a closed night
// (business hours count only open hours), another customer still waits. The figures come
// from facts the database keeps at write time, so they are the same after a restart.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { apiCall, startServer, type TestLike } from './helpers/server.ts'
import { AGENT_PASSWORD } from './helpers/team-fixtures.ts'
import { contact, envelope, inbound, value } from './helpers/wa.ts'
import type { ConversationDTO } from '../src/events/types.ts'
import type { ReportRow } from '../src/domain/reports/reports.ts'

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const weekday = [{ from: '09:00', to: '17:00' }]
const HOURS = { weekly: { mon: weekday, tue: weekday, wed: weekday, thu: weekday, fri: weekday }, holidays: [] }

// A Monday 00:00 UTC, two to three weeks ago (sessions and JWTs stay valid at any step of the clock).
const MONDAY = (() => {
  const d = new Date(Date.now() - 14 * DAY)
  d.setUTCHours(0, 0, 0, 0)
  return d.getTime() - ((d.getUTCDay() + 6) % 7) * DAY
})()
const day = (offset: number) => new Date(MONDAY + offset * DAY).toISOString().slice(0, 10)
const MON = day(0)
const TUE = day(1)

interface Scenario {
  s: Awaited<ReturnType<typeof startServer>>
  clock: { t: number; now(): number }
  dataDir: string
  ana: { id: number; token: string }
}

async function scenario(t: TestLike, opts: { sqlite?: boolean } = {}): Promise<Scenario> {
  const clock = { t: MONDAY, now: () => clock.t }
  const env = { SESSION_TTL_SECONDS: String(30 * 86400) }
  // Its own data dir, kept over a restart (startServer removes only the ones it made).
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-reports-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const s = await startServer(t, { clock, env, dataDir, ...opts })
  const { token } = await s.login()
  const admin = apiCall(s.url, token)
  const { auth } = s.app.services
  const ws = await auth.defaultWorkspace()
  const ana = await auth.createUser({ workspaceId: ws, email: 'ana@example.com', name: 'Ana', password: AGENT_PASSWORD, role: 'admin' })
  const anaToken = (await s.login({ email: 'ana@example.com', password: AGENT_PASSWORD })).token
  const asAna = apiCall(s.url, anaToken)
  const settings = await admin('PATCH', '/api/settings/workspace', { timezone: 'UTC', businessHours: HOURS })
  if (settings.status !== 200) throw new Error(`settings ${settings.status} ${JSON.stringify(settings.body)}`)

  const say = async (phone: string, name: string, text: string) => {
    const m = inbound(phone, 'text', { body: text }, { timestamp: String(Math.floor(clock.t / 1000)) })
    const res = await s.webhook(envelope(value({ contacts: [contact(phone, name)], messages: [m] })))
    if (res.status !== 200) throw new Error(`webhook ${res.status}`)
  }
  const convOf = async (phone: string) =>
    ((await admin('GET', '/api/conversations?status=all')).body.conversations as ConversationDTO[]).find(
      (c) => c.contact.externalId === phone,
    )!
  let n = 0
  const reply = async (call: typeof admin, id: number, text: string) => {
    const r = await call('POST', `/api/conversations/${id}/messages`, { text, clientMessageId: `r-${++n}` })
    if (r.status !== 202) throw new Error(`reply ${r.status} ${JSON.stringify(r.body)}`)
  }
  const status = async (call: typeof admin, id: number, to: string) => {
    const r = await call('POST', `/api/conversations/${id}/status`, { status: to })
    if (r.status !== 200) throw new Error(`status ${r.status} ${JSON.stringify(r.body)}`)
  }

  // Monday 10:00: Maria writes; the admin answers at 10:05 (300 s) and resolves at 11:00 (3600 s).
  clock.t = MONDAY + 10 * HOUR
  await say('15550000001', 'Maria', 'Where is my parcel?')
  const a = await convOf('15550000001')
  clock.t += 5 * MIN
  await reply(admin, a.id, 'On its way!')
  clock.t = MONDAY + 11 * HOUR
  await status(admin, a.id, 'resolved')
  // Monday 16:00: Maria reopens it. Ana answers Tuesday 09:30 (all hours 17.5 h = 63000 s;
  // business 16–17 + 9–9:30 = 5400 s) and resolves at 10:00 (64800 s; business 7200 s).
  clock.t = MONDAY + 16 * HOUR
  await say('15550000001', 'Maria', 'It has not arrived')
  clock.t = MONDAY + DAY + 9 * HOUR + 30 * MIN
  await reply(asAna, a.id, 'Sorry! A new one leaves today.')
  clock.t = MONDAY + DAY + 10 * HOUR
  await status(asAna, a.id, 'resolved')
  // Tuesday 12:00: João writes and nobody answers; "now" is Tuesday 13:00 (waiting 3600 s).
  clock.t = MONDAY + DAY + 12 * HOUR
  await say('15550000002', 'João', 'Do you ship to Porto?')
  clock.t = MONDAY + DAY + 13 * HOUR
  return { s, clock, dataDir, ana: { id: ana.id, token: anaToken } }
}

const none = { count: 0, medianSeconds: null, p90Seconds: null }

t.test('the summary matches the hand-computed scenario, by day, agent, channel and week, in all and business hours', async (t) => {
  const { s } = await scenario(t)
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const get = async (q: string) => {
    const r = await call('GET', `/api/reports/summary?${q}`)
    t.equal(r.status, 200, q)
    return r.body
  }

  const all = await get(`from=${MON}&to=${TUE}&groupBy=day&hours=all`)
  t.same(all.totals, {
    conversationsOpened: 3,
    conversationsReopened: 1,
    conversationsResolved: 2,
    messagesIn: 3,
    messagesOut: 2,
    firstResponse: { count: 2, medianSeconds: 300, p90Seconds: 63000 },
    resolution: { count: 2, medianSeconds: 3600, p90Seconds: 64800 },
    waiting: { count: 1, waitingSince: MONDAY + DAY + 12 * HOUR, longestWaitSeconds: 3600 },
    campaigns: { delivered: 0, replied: 0, replyRate: null },
  })
  t.same(
    all.rows.map((r: ReportRow) => r.key),
    [MON, TUE],
  )
  const [mon, tue] = all.rows
  t.match(mon, { conversationsOpened: 2, conversationsReopened: 1, conversationsResolved: 1, messagesIn: 2, messagesOut: 1 })
  t.same(mon.firstResponse, { count: 1, medianSeconds: 300, p90Seconds: 300 })
  t.same(mon.resolution, { count: 1, medianSeconds: 3600, p90Seconds: 3600 })
  t.match(tue, { conversationsOpened: 1, conversationsReopened: 0, conversationsResolved: 1, messagesIn: 1, messagesOut: 1 })
  t.same(tue.firstResponse, { count: 1, medianSeconds: 63000, p90Seconds: 63000 }, 'counted on the day of the answer')
  t.same(tue.resolution, { count: 1, medianSeconds: 64800, p90Seconds: 64800 })
  t.equal(tue.waiting.count, 1)

  // Business hours: the closed night does not count.
  const biz = await get(`from=${MON}&to=${TUE}&groupBy=day&hours=business`)
  t.same(biz.totals.firstResponse, { count: 2, medianSeconds: 300, p90Seconds: 5400 })
  t.same(biz.totals.resolution, { count: 2, medianSeconds: 3600, p90Seconds: 7200 })
  t.equal(biz.totals.waiting.longestWaitSeconds, 3600)
  t.equal(biz.totals.conversationsOpened, 3, 'counts do not depend on the hours')

  // Per agent: each figure to the person who did it.
  const agents = await get(`from=${MON}&to=${TUE}&groupBy=agent&hours=business`)
  const byName = Object.fromEntries(agents.rows.map((r: ReportRow) => [r.label, r]))
  t.match(byName.Admin, { messagesOut: 1, conversationsResolved: 1 })
  t.same(byName.Admin.firstResponse, { count: 1, medianSeconds: 300, p90Seconds: 300 })
  t.same(byName.Admin.resolution, { count: 1, medianSeconds: 3600, p90Seconds: 3600 })
  t.match(byName.Ana, { messagesOut: 1, conversationsResolved: 1 })
  t.same(byName.Ana.firstResponse, { count: 1, medianSeconds: 5400, p90Seconds: 5400 })
  t.same(byName.Ana.resolution, { count: 1, medianSeconds: 7200, p90Seconds: 7200 })
  const sum = (k: keyof ReportRow) => agents.rows.reduce((n: number, r: ReportRow) => n + (r[k] as number), 0)
  t.equal(sum('messagesIn'), 3, 'every message in belongs to one row')
  t.equal(sum('conversationsOpened'), 3)

  // Per channel: the one channel carries everything.
  const channels = await get(`from=${MON}&to=${TUE}&groupBy=channel&hours=all`)
  t.equal(channels.rows.length, 1)
  t.same({ ...channels.rows[0], key: undefined, label: undefined }, { ...all.totals, key: undefined, label: undefined })

  // By week: one week, Monday first.
  const week = await get(`from=${MON}&to=${day(6)}&groupBy=week&hours=all`)
  t.same(
    week.rows.map((r: ReportRow) => r.key),
    [MON],
  )
  t.equal(week.rows[0].conversationsOpened, 3)

  // A range before anything happened: zeros, never an error.
  const empty = await get(`from=${day(-7)}&to=${day(-1)}&groupBy=day`)
  t.equal(empty.rows.length, 7)
  t.equal(empty.totals.conversationsOpened, 0)
  t.same(empty.totals.firstResponse, none)
})

t.test('the CSV has a header and the JSON rows, escaped', async (t) => {
  const { s } = await scenario(t)
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const q = `from=${MON}&to=${TUE}&groupBy=agent&hours=business`
  const json = (await call('GET', `/api/reports/summary?${q}`)).body
  const res = await fetch(`${s.url}/api/reports/summary.csv?${q}`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/csv/)
  t.match(res.headers.get('content-disposition'), /attachment; filename="parley-report-agent-/)
  const lines = (await res.text()).trimEnd().split('\r\n')
  t.equal(lines[0]!.split(',')[0], 'group')
  t.equal(lines.length, json.rows.length + 1, 'a header, then one line per row')
  const cols = lines[0]!.split(',')
  for (const [i, row] of json.rows.entries()) {
    const cells = Object.fromEntries(lines[i + 1]!.split(',').map((v, j) => [cols[j], v]))
    t.equal(cells.label, row.label)
    t.equal(Number(cells.messages_out), row.messagesOut)
    t.equal(Number(cells.conversations_resolved), row.conversationsResolved)
    t.equal(cells.first_response_p90_seconds, row.firstResponse.p90Seconds === null ? '' : String(row.firstResponse.p90Seconds))
    t.equal(cells.resolution_median_seconds, row.resolution.medianSeconds === null ? '' : String(row.resolution.medianSeconds))
  }
  // A name with a comma, a quote and a formula is one escaped cell, defused.
  await s.sql.run(`UPDATE users SET name = '=Ana, "the best"' WHERE email = 'ana@example.com'`)
  const csv = await (await fetch(`${s.url}/api/reports/summary.csv?${q}`, { headers: { authorization: `Bearer ${token}` } })).text()
  t.match(csv, /,"'=Ana, ""the best""",/)
})

t.test('facts survive a restart; an agent is refused; bad parameters are named', async (t) => {
  const { s, dataDir } = await scenario(t)
  const { token } = await s.login()
  const q = `/api/reports/summary?from=${MON}&to=${TUE}&groupBy=day&hours=business`
  const before = (await apiCall(s.url, token)('GET', q)).body
  const clock = { now: () => MONDAY + DAY + 13 * HOUR }
  await s.close()
  const again = await startServer(t, { dataDir, clock, env: { SESSION_TTL_SECONDS: String(30 * 86400) } })
  const call = apiCall(again.url, (await again.login()).token)
  const after = (await call('GET', q)).body
  t.same(after, before, 'the same figures after a restart')

  const { auth } = again.app.services
  await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'bo@example.com',
    name: 'Bo',
    password: AGENT_PASSWORD,
    role: 'agent',
  })
  const agent = apiCall(again.url, (await again.login({ email: 'bo@example.com', password: AGENT_PASSWORD })).token)
  const refused = await agent('GET', q)
  t.equal(refused.status, 403)
  t.equal(refused.body.error.code, 'FORBIDDEN')
  t.equal((await agent('GET', q.replace('summary?', 'summary.csv?'))).status, 403)

  for (const [bad, why] of [
    ['groupBy=month', /groupBy/],
    ['hours=some', /hours/],
    ['from=2026-02-30', /from is a date/],
    [`from=${TUE}&to=${MON}`, /after/],
    ['from=2020-01-01&to=2026-01-01', /at most/],
  ] as const) {
    const r = await call('GET', `/api/reports/summary?${bad}`)
    t.equal(r.status, 400, bad)
    t.equal(r.body.error.code, 'BAD_REPORT_QUERY')
    t.match(r.body.error.message, why)
  }
})

t.test('the migration’s backfill rebuilds from the history the facts the triggers kept', async (t) => {
  // SQLite's migration file is what is tested (PostgreSQL's has no backfill: its rows come from db:copy).
  const { s } = await scenario(t, { sqlite: true })
  const c = s.db.$client
  const episodes = () =>
    c
      .prepare(
        `SELECT conversation_id, channel_id, opened_at, reopened, first_in_at, first_reply_at, first_reply_by, resolved_at, resolved_by
         FROM report_episodes ORDER BY conversation_id, opened_at`,
      )
      .all()
  const counts = () => c.prepare('SELECT * FROM report_message_counts ORDER BY hour, channel_id, user_id').all()
  const kept = { episodes: episodes(), counts: counts() }
  t.equal(kept.episodes.length, 3, 'two episodes of Maria’s, one of João’s')
  const backfill = readFileSync(path.join(import.meta.dirname, '../migrations/sqlite/0012_report_triggers.sql'), 'utf8')
    .split('--> statement-breakpoint')
    .filter((sql) => /^\s*(--[^\n]*\n\s*)*(INSERT|WITH)/.test(sql))
  t.equal(backfill.length, 2, 'the two backfill statements')
  c.exec('DELETE FROM report_episodes; DELETE FROM report_message_counts')
  for (const sql of backfill) c.exec(sql)
  t.same(episodes(), kept.episodes)
  t.same(counts(), kept.counts)
})
