// The team's figures for a date range (issue 15), grouped by day, week, agent or channel,
// in all hours or business hours only. Computed from the facts the database keeps at write
// time (store/reports.ts), never from the messages: a report reads the episodes and hourly
// counts of its range and nothing else.
//
// Who a figure belongs to (groupBy=agent): the person who did it — the first reply to its
// replier, a resolution to whoever resolved it, a message out to its sender; an opening, a
// message in and a waiting customer to the conversation's assignee then ("Nobody": none).
// Days and weeks (Monday first) are the workspace's local ones (its timezone).
import { Errors } from '../../errors.ts'
import type { Grouping, ReportsRepo } from '../../store/reports.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { ReportFactSource } from './report-threads.ts'
import type { WorkspaceSettings } from '../../store/workspace-settings.ts'
import { localTime } from '../team/business-hours.ts'
import { csvLine } from '../contacts/csv.ts'
import { addDays, BusinessClock, dateOfDay, instantOf, offsetSegments, weekdayIndex } from './business-time.ts'

export const GROUPINGS = ['day', 'week', 'agent', 'channel'] as const
export type GroupBy = (typeof GROUPINGS)[number]
export type Hours = 'business' | 'all'

/** The longest range a report covers. */
export const MAX_REPORT_DAYS = 400

export interface Durations {
  count: number
  medianSeconds: number | null
  p90Seconds: number | null
}

export interface ReportFigures {
  conversationsOpened: number
  conversationsReopened: number
  conversationsResolved: number
  messagesIn: number
  messagesOut: number
  firstResponse: Durations
  resolution: Durations
  /** Customers waiting for a person's reply now, and since when the longest has. */
  waiting: { count: number; waitingSince: number | null; longestWaitSeconds: number | null }
  /** Campaign messages queued in the range: delivered, replied to, and replies as a share of delivered. */
  campaigns: { delivered: number; replied: number; replyRate: number | null }
}

export interface ReportRow extends ReportFigures {
  /** The day or week's first day (YYYY-MM-DD), the user's id, the channel's id ("0": nobody). */
  key: string
  label: string
}

export interface ReportSummary {
  from: string
  to: string
  groupBy: GroupBy
  hours: Hours
  timezone: string
  rows: ReportRow[]
  totals: ReportFigures
}

export interface ReportQuery {
  from?: string
  to?: string
  groupBy?: string
  hours?: string
}

const DATE = /^\d{4}-\d{2}-\d{2}$/

interface Acc {
  opened: number
  reopened: number
  in: number
  out: number
  /** Durations in ms, as the lists of their groups (concatenated once, when sorted). */
  firstResponse: Float64Array[]
  resolution: Float64Array[]
  waiting: number
  waitingSince: number | null
  delivered: number
  replied: number
}

const emptyAcc = (): Acc => ({
  opened: 0,
  reopened: 0,
  in: 0,
  out: 0,
  firstResponse: [],
  resolution: [],
  waiting: 0,
  waitingSince: null,
  delivered: 0,
  replied: 0,
})

/** The value at a share of the sorted values, nearest rank (median: 0.5, p90: 0.9). */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!
}

/**
 * Puts the k-th smallest of a[lo..hi] at a[k], smaller ones before it and larger after
 * (quickselect, Hoare's partition around the middle of three): linear on average, where
 * sorting a whole history's durations twice (a group's, then the totals') cost the
 * report tens of milliseconds (bench "reports").
 */
export function selectKth(a: Float64Array, k: number, lo = 0, hi = a.length - 1): void {
  while (hi > lo) {
    const mid = (lo + hi) >> 1
    const x = a[lo]!
    const y = a[mid]!
    const z = a[hi]!
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const t = a[i]!
        a[i++] = a[j]!
        a[j--] = t
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return
  }
}

/** Count, median and p90 (nearest rank) of durations in ms, in whole seconds. */
function durations(lists: Float64Array[]): Durations {
  let n = 0
  for (const l of lists) n += l.length
  if (n === 0) return { count: 0, medianSeconds: null, p90Seconds: null }
  const all = new Float64Array(n)
  let at = 0
  for (const l of lists) all.set(l, (at += l.length) - l.length)
  const rank = (p: number) => Math.max(0, Math.ceil(p * n) - 1)
  const m = rank(0.5)
  const p90 = rank(0.9)
  selectKth(all, m)
  selectKth(all, p90, m)
  const seconds = (v: number) => Math.round(Math.max(0, v) / 1000)
  return { count: n, medianSeconds: seconds(all[m]!), p90Seconds: seconds(all[p90]!) }
}

function figures(a: Acc, longestWaitMs: (since: number) => number): ReportFigures {
  return {
    conversationsOpened: a.opened,
    conversationsReopened: a.reopened,
    conversationsResolved: a.resolution.reduce((n, l) => n + l.length, 0),
    messagesIn: a.in,
    messagesOut: a.out,
    firstResponse: durations(a.firstResponse),
    resolution: durations(a.resolution),
    waiting: {
      count: a.waiting,
      waitingSince: a.waitingSince,
      longestWaitSeconds: a.waitingSince === null ? null : Math.round(longestWaitMs(a.waitingSince) / 1000),
    },
    campaigns: {
      delivered: a.delivered,
      replied: a.replied,
      replyRate: a.delivered ? Math.round((a.replied / a.delivered) * 1000) / 1000 : null,
    },
  }
}

export class Reports {
  constructor(
    private readonly d: {
      repo: ReportsRepo
      /** Where the range's facts are read: report threads, or inline (store/report-threads.ts). */
      facts: ReportFactSource
      /** Runs the repository's units (the names of the people and channels). */
      units: UnitRunner
      settings: (workspaceId: number) => Promise<Readonly<WorkspaceSettings> | undefined>
      now: () => number
    },
  ) {}

  async summary(workspaceId: number, q: ReportQuery): Promise<ReportSummary> {
    const settings = await this.d.settings(workspaceId)
    const timezone = settings?.timezone ?? 'UTC'
    const now = this.d.now()
    const today = localTime(timezone, now).date
    const groupBy = (q.groupBy ?? 'day') as GroupBy
    if (!GROUPINGS.includes(groupBy)) throw Errors.badReportQuery(`groupBy is one of ${GROUPINGS.join(', ')}`)
    const hours = (q.hours ?? 'all') as Hours
    if (hours !== 'all' && hours !== 'business') throw Errors.badReportQuery('hours is business or all')
    const to = q.to || today
    const from = q.from || addDays(to, -6)
    for (const [name, d] of [
      ['from', from],
      ['to', to],
    ] as const) {
      if (!DATE.test(d) || Number.isNaN(Date.parse(d)) || new Date(d).toISOString().slice(0, 10) !== d)
        throw Errors.badReportQuery(`${name} is a date (YYYY-MM-DD)`)
    }
    if (from > to) throw Errors.badReportQuery('from is after to')
    if (Date.parse(to) - Date.parse(from) > MAX_REPORT_DAYS * 86400_000)
      throw Errors.badReportQuery(`A report covers at most ${MAX_REPORT_DAYS} days`)

    const start = instantOf(timezone, from)
    const end = instantOf(timezone, addDays(to, 1))
    const { repo } = this.d
    const byTime = groupBy === 'day' || groupBy === 'week'
    const grouping: Grouping = byTime
      ? { by: 'day', ...offsetSegments(timezone, start, end) }
      : { by: groupBy === 'agent' ? 'user' : 'channel' }
    // A group's key: its day or week (the Monday), or the person's or channel's id ("0": none).
    const keyOf = (key: number): string => {
      if (!byTime) return String(key)
      const day = dateOfDay(key)
      return groupBy === 'week' ? addDays(day, -weekdayIndex(day)) : day
    }
    const groups = new Map<string, Acc>()
    const total = emptyAcc()
    const accOf = (key: number) => {
      const k = keyOf(key)
      let a = groups.get(k)
      if (!a) groups.set(k, (a = emptyAcc()))
      return a
    }

    // In business hours, a duration counts only the open time between its start and end:
    // measured here over one clock covering every start.
    const hoursOpen = hours === 'business' ? (settings?.businessHours ?? null) : null
    const business = hoursOpen ? { hours: hoursOpen, timezone, hi: Math.max(end, now) } : null
    const facts = await this.d.facts.read({ workspaceId, start, end, grouping, business })
    const { firstResponses, resolutions, waiting } = facts
    for (const [lists, put] of [
      [firstResponses, (a: Acc) => a.firstResponse],
      [resolutions, (a: Acc) => a.resolution],
    ] as const) {
      for (const l of lists) {
        put(accOf(l.key)).push(l.values)
        put(total).push(l.values)
      }
    }
    for (const c of facts.episodes) {
      for (const a of [accOf(c.key), total]) (a.opened += c.opened), (a.reopened += c.reopened)
    }
    for (const c of facts.messages) {
      for (const a of [accOf(c.key), total]) (a.in += c.messagesIn), (a.out += c.messagesOut)
    }
    for (const c of facts.campaigns) {
      for (const a of [accOf(c.key), total]) (a.delivered += c.delivered), (a.replied += c.replied)
    }
    // Waiting is now, whatever the range: by day or week, in the group of the day the wait
    // began if that is in the range (else only in the totals).
    for (const w of waiting) {
      for (const a of w.key === null ? [total] : [accOf(w.key), total]) {
        a.waiting += w.count
        a.waitingSince = a.waitingSince === null ? w.since : Math.min(a.waitingSince, w.since)
      }
    }
    // The longest wait is the earliest one's: open time only grows with the wait.
    let earliest = now
    for (const w of waiting) earliest = Math.min(earliest, w.since)
    const clock = new BusinessClock(hoursOpen, timezone, earliest, now)
    const longest = (since: number) => clock.between(since, now)

    const rows: ReportRow[] = []
    const row = (key: string, label: string) => rows.push({ key, label, ...figures(groups.get(key) ?? emptyAcc(), longest) })
    if (byTime) {
      // Every day or week of the range, with nothing or not: a chart's axis has no holes.
      for (let d = groupBy === 'week' ? addDays(from, -weekdayIndex(from)) : from; d <= to; d = addDays(d, groupBy === 'week' ? 7 : 1)) {
        row(d, groupBy === 'week' ? `Week of ${d}` : d)
      }
    } else {
      const named = await this.d.units.read(() => (groupBy === 'agent' ? repo.users(workspaceId) : repo.channels(workspaceId)))
      for (const n of named) row(String(n.id), n.name)
      if (groups.has('0')) row('0', groupBy === 'agent' ? 'Nobody' : 'No channel')
    }
    return { from, to, groupBy, hours, timezone, rows, totals: figures(total, longest) }
  }
}

export const CSV_COLUMNS = [
  'group',
  'label',
  'conversations_opened',
  'conversations_reopened',
  'conversations_resolved',
  'messages_in',
  'messages_out',
  'first_responses',
  'first_response_median_seconds',
  'first_response_p90_seconds',
  'resolutions',
  'resolution_median_seconds',
  'resolution_p90_seconds',
  'waiting_now',
  'waiting_since',
  'longest_wait_seconds',
  'campaign_delivered',
  'campaign_replied',
  'campaign_reply_rate',
] as const

/** The summary as CSV: a header row, then one row per group (the JSON's rows, in order). */
export function summaryCsv(s: ReportSummary): string {
  let out = csvLine([...CSV_COLUMNS])
  for (const r of s.rows) {
    out += csvLine([
      r.key,
      r.label,
      r.conversationsOpened,
      r.conversationsReopened,
      r.conversationsResolved,
      r.messagesIn,
      r.messagesOut,
      r.firstResponse.count,
      r.firstResponse.medianSeconds,
      r.firstResponse.p90Seconds,
      r.resolution.count,
      r.resolution.medianSeconds,
      r.resolution.p90Seconds,
      r.waiting.count,
      r.waiting.waitingSince === null ? null : new Date(r.waiting.waitingSince).toISOString(),
      r.waiting.longestWaitSeconds,
      r.campaigns.delivered,
      r.campaigns.replied,
      r.campaigns.replyRate,
    ])
  }
  return out
}
