// Reports (issue 15) group facts by the workspace's local day in SQL, from the timezone's
// offsets over the range (offsetSegments), and take medians and p90s by quickselect instead
// of sorting. Checked against Intl's own local dates in zones with daylight saving, odd
// offsets and half-hour changes, and over HTTP across Lisbon's autumn change, where a fixed
// offset would put a Sunday-night message on Monday.
import t from 'tap'
import { dateOfDay, offsetSegments } from '../src/domain/reports/business-time.ts'
import { localTime } from '../src/domain/team/business-hours.ts'
import { selectKth } from '../src/domain/reports/reports.ts'
import { apiCall, startServer } from './helpers/server.ts'
import { contact, envelope, inbound, value } from './helpers/wa.ts'
import type { ReportRow } from '../src/domain/reports/reports.ts'

const HOUR = 3600_000
const DAY = 24 * HOUR

t.test('the local day of an instant from the offset segments is the one Intl gives, across a year', async (t) => {
  const from = Date.UTC(2026, 0, 1)
  const to = Date.UTC(2027, 0, 1)
  for (const zone of ['Europe/Lisbon', 'America/New_York', 'America/Sao_Paulo', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'UTC']) {
    const { changes, offsets } = offsetSegments(zone, from, to)
    const offsetAt = (at: number) => {
      let i = 0
      while (i < changes.length && at >= changes[i]!) i++
      return offsets[i]!
    }
    let wrong = 0
    // Every 37 minutes through the year: every hour of the day, both sides of each change.
    for (let at = from; at < to; at += 37 * 60_000) {
      if (dateOfDay(Math.floor((at + offsetAt(at)) / DAY)) !== localTime(zone, at).date) wrong++
    }
    t.equal(wrong, 0, `${zone}: ${changes.length} changes, every instant on its local day`)
    if (zone === 'Europe/Lisbon' || zone === 'America/New_York') t.equal(changes.length, 2, `${zone} changes twice in 2026`)
    if (zone === 'Australia/Lord_Howe') t.same(new Set(offsets.map((o) => o / 60_000)), new Set([630, 660]), 'a half-hour change')
  }
})

t.test('quickselect finds the k-th smallest as a sort would, duplicates included', async (t) => {
  let seed = 7
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return (seed >>> 8) % n
  }
  let wrong = 0
  for (let trial = 0; trial < 3000; trial++) {
    const n = 1 + rnd(60)
    const spread = trial % 3 === 0 ? 3 : 10_000
    const a = Float64Array.from({ length: n }, () => rnd(spread))
    const sorted = a.slice().sort()
    const k = rnd(n)
    const k2 = k + rnd(n - k)
    const b = a.slice()
    selectKth(b, k)
    selectKth(b, k2, k)
    if (b[k] !== sorted[k] || b[k2] !== sorted[k2]) wrong++
  }
  t.equal(wrong, 0)
})

t.test('by day and week in Europe/Lisbon across the autumn change', async (t) => {
  // Lisbon leaves summer time (UTC+1) for UTC+0 on Sunday 2026-10-25 at 01:00 UTC.
  const at = (iso: string) => Date.parse(iso)
  // Signed in now; the history is written with the clock set back to those days.
  const clock = { t: Date.now(), now: () => clock.t }
  const s = await startServer(t, { clock })
  const { token } = await s.login()
  const admin = apiCall(s.url, token)
  const set = await admin('PATCH', '/api/settings/workspace', { timezone: 'Europe/Lisbon' })
  t.equal(set.status, 200)
  const writes: Array<[string, string]> = [
    ['2026-10-24T22:30:00Z', '15550000001'], // Saturday 23:30 (summer time)
    ['2026-10-24T23:30:00Z', '15550000002'], // Sunday 00:30 (summer time)
    ['2026-10-25T23:30:00Z', '15550000003'], // Sunday 23:30 (winter time): Monday with a fixed +1
    ['2026-10-26T00:30:00Z', '15550000004'], // Monday 00:30
  ]
  for (const [when, phone] of writes) {
    clock.t = at(when)
    const m = inbound(phone, 'text', { body: 'hello' }, { timestamp: String(Math.floor(clock.t / 1000)) })
    const res = await s.webhook(envelope(value({ contacts: [contact(phone, 'Customer')], messages: [m] })))
    t.equal(res.status, 200)
  }
  clock.t = at('2026-10-27T12:00:00Z')
  const byDay = await admin('GET', '/api/reports/summary?from=2026-10-24&to=2026-10-26&groupBy=day&hours=all')
  t.equal(byDay.status, 200)
  const rows = byDay.body.rows as ReportRow[]
  t.same(
    rows.map((r) => [r.key, r.messagesIn, r.conversationsOpened]),
    [
      ['2026-10-24', 1, 1],
      ['2026-10-25', 2, 2],
      ['2026-10-26', 1, 1],
    ],
  )
  // The waits began on those days too (nobody answered): each in its day's row.
  t.same(
    rows.map((r) => r.waiting.count),
    [1, 2, 1],
  )
  const byWeek = await admin('GET', '/api/reports/summary?from=2026-10-24&to=2026-10-26&groupBy=week&hours=all')
  t.same(
    (byWeek.body.rows as ReportRow[]).map((r) => [r.key, r.messagesIn]),
    [
      ['2026-10-19', 3],
      ['2026-10-26', 1],
    ],
  )
  t.equal(byWeek.body.totals.messagesIn, 4)
})
