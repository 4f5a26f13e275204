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
import type { ReportsRepo } from '../../store/reports.ts'
import type { WorkspaceSettings } from '../../store/workspace-settings.ts'
import { localTime } from '../team/business-hours.ts'
import { csvLine } from '../contacts/csv.ts'
import { addDays, BusinessClock, instantOf, weekdayIndex } from './business-time.ts'

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
  resolved: number
  in: number
  out: number
  firstResponse: number[]
  resolution: number[]
  waits: number[]
  waitingSince: number | null
  delivered: number
  replied: number
}

const emptyAcc = (): Acc => ({
  opened: 0,
  reopened: 0,
  resolved: 0,
  in: 0,
  out: 0,
  firstResponse: [],
  resolution: [],
  waits: [],
  waitingSince: null,
  delivered: 0,
  replied: 0,
})

/** The value at a share of the sorted values, nearest rank (median: 0.5, p90: 0.9). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!
}

function durations(ms: number[]): Durations {
  const s = ms.map((v) => Math.round(v / 1000)).sort((a, b) => a - b)
  return { count: s.length, medianSeconds: percentile(s, 0.5), p90Seconds: percentile(s, 0.9) }
}

function figures(a: Acc): ReportFigures {
  const longest = a.waits.length ? Math.round(Math.max(...a.waits) / 1000) : null
  return {
    conversationsOpened: a.opened,
    conversationsReopened: a.reopened,
    conversationsResolved: a.resolved,
    messagesIn: a.in,
    messagesOut: a.out,
    firstResponse: durations(a.firstResponse),
    resolution: durations(a.resolution),
    waiting: { count: a.waits.length, waitingSince: a.waitingSince, longestWaitSeconds: longest },
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
      settings: (workspaceId: number) => Readonly<WorkspaceSettings> | undefined
      now: () => number
    },
  ) {}

  summary(workspaceId: number, q: ReportQuery): ReportSummary {
    const settings = this.d.settings(workspaceId)
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
    const episodes = repo.episodes(workspaceId, start, end)
    const waiting = repo.waiting(workspaceId)
    // The clock covers every instant a duration starts or ends at.
    let lo = start
    for (const e of episodes) lo = Math.min(lo, e.openedAt, e.firstInAt ?? e.openedAt)
    for (const w of waiting) lo = Math.min(lo, w.waitingSince)
    const clock = new BusinessClock(hours === 'business' ? (settings?.businessHours ?? null) : null, timezone, lo, Math.max(end, now))

    const inRange = (t: number | null): t is number => t !== null && t >= start && t < end
    // Every timezone's offset is a whole number of quarter hours: one Intl call per quarter hour seen.
    const days = new Map<number, string>()
    const dayOf = (t: number) => {
      const q = Math.floor(t / 900_000)
      let d = days.get(q)
      if (d === undefined) days.set(q, (d = localTime(timezone, q * 900_000).date))
      return d
    }
    const timeKey = (t: number) => {
      const day = dayOf(t)
      return groupBy === 'week' ? addDays(day, -weekdayIndex(day)) : day
    }
    const byTime = groupBy === 'day' || groupBy === 'week'
    // The group of a fact: its time, its person or its channel.
    const keyOf = (t: number, userId: number | null | undefined, channelId: number | null | undefined): string =>
      byTime ? timeKey(t) : groupBy === 'agent' ? String(userId ?? 0) : String(channelId ?? 0)

    const groups = new Map<string, Acc>()
    const total = emptyAcc()
    const accOf = (key: string) => {
      let a = groups.get(key)
      if (!a) groups.set(key, (a = emptyAcc()))
      return a
    }
    const add = (key: string, f: (a: Acc) => void) => {
      f(accOf(key))
      f(total)
    }

    for (const e of episodes) {
      if (inRange(e.openedAt)) {
        add(keyOf(e.openedAt, e.openedAssigneeId, e.channelId), (a) => {
          a.opened++
          if (e.reopened) a.reopened++
        })
      }
      if (inRange(e.firstReplyAt) && e.firstInAt !== null) {
        const ms = clock.between(e.firstInAt, e.firstReplyAt)
        add(keyOf(e.firstReplyAt, e.firstReplyBy, e.channelId), (a) => a.firstResponse.push(ms))
      }
      if (inRange(e.resolvedAt)) {
        const ms = clock.between(e.openedAt, e.resolvedAt)
        add(keyOf(e.resolvedAt, e.resolvedBy ?? e.resolvedAssigneeId, e.channelId), (a) => {
          a.resolved++
          a.resolution.push(ms)
        })
      }
    }
    for (const c of repo.messageCounts(workspaceId, start, end)) {
      add(keyOf(c.hour, c.userId, c.channelId), (a) => {
        a.in += c.messagesIn
        a.out += c.messagesOut
      })
    }
    for (const r of repo.campaignRecipients(workspaceId, start, end)) {
      add(keyOf(r.queuedAt, r.createdBy, r.channelId), (a) => {
        a.delivered += r.delivered
        a.replied += r.delivered ? r.replied : 0
      })
    }
    // Waiting is now, whatever the range: by day or week, in the group of the day the wait began (if in the range).
    for (const w of waiting) {
      const wait = (a: Acc) => {
        a.waits.push(clock.between(w.waitingSince, now))
        a.waitingSince = a.waitingSince === null ? w.waitingSince : Math.min(a.waitingSince, w.waitingSince)
      }
      wait(total)
      if (!byTime || inRange(w.waitingSince)) wait(accOf(keyOf(w.waitingSince, w.assigneeId, w.channelId)))
    }

    const rows: ReportRow[] = []
    const row = (key: string, label: string) => rows.push({ key, label, ...figures(groups.get(key) ?? emptyAcc()) })
    if (byTime) {
      // Every day or week of the range, with nothing or not: a chart's axis has no holes.
      for (let d = groupBy === 'week' ? addDays(from, -weekdayIndex(from)) : from; d <= to; d = addDays(d, groupBy === 'week' ? 7 : 1)) {
        row(d, groupBy === 'week' ? `Week of ${d}` : d)
      }
    } else {
      const named = groupBy === 'agent' ? repo.users(workspaceId) : repo.channels(workspaceId)
      for (const n of named) row(String(n.id), n.name)
      if (groups.has('0')) row('0', groupBy === 'agent' ? 'Nobody' : 'No channel')
    }
    return { from, to, groupBy, hours, timezone, rows, totals: figures(total) }
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
