// What a report reads from the facts (store/reports.ts), in two halves of about equal work so
// two report threads can each take one (report-threads.ts): the first responses with the
// openings, and the resolutions with every other count. In business hours, the thread that
// read a list of durations also measures it on its own BusinessClock (from its earliest
// start): that work runs in parallel too, and the starts never cross to the main thread.
// A unit of work (store/unit.ts, issue 17): a SQLite report thread runs it on its own
// connection (runSync), PostgreSQL through the runner (no threads: the server does the work).
import type { BusinessHours } from '../team/business-hours.ts'
import type { CampaignCounts, DurationList, EpisodeCounts, Grouping, MessageCounts, ReportsRepo, WaitingRow } from '../../store/reports.ts'
import type { Q } from '../../store/unit.ts'
import { BusinessClock } from './business-time.ts'

export interface FactsQuery {
  workspaceId: number
  start: number
  end: number
  grouping: Grouping
  /** Durations count only open hours: the workspace's hours and timezone, and the latest instant measured. */
  business: { hours: BusinessHours; timezone: string; hi: number } | null
}

export interface ReportFacts {
  /** Durations in ms (open ms in business hours), one list per group. */
  firstResponses: DurationList[]
  resolutions: DurationList[]
  episodes: EpisodeCounts[]
  messages: MessageCounts[]
  campaigns: CampaignCounts[]
  waiting: WaitingRow[]
}

export type FactsPart = 'first' | 'second' | 'all'

/** Each list's values become open ms between its starts and ends; the starts are dropped. */
function measure(lists: DurationList[], q: FactsQuery): DurationList[] {
  if (!q.business) return lists
  let lo = q.start
  for (const l of lists) for (const s of l.starts ?? []) lo = Math.min(lo, s)
  const clock = new BusinessClock(q.business.hours, q.business.timezone, lo, Math.max(q.end, q.business.hi))
  return lists.map((l) => {
    const { starts, values } = l
    if (starts) for (let i = 0; i < values.length; i++) values[i] = clock.between(starts[i]!, values[i]!)
    return { key: l.key, starts: null, values }
  })
}

export function* readFacts(repo: ReportsRepo, q: FactsQuery, part: FactsPart): Q<Partial<ReportFacts>> {
  const { workspaceId: ws, start, end, grouping: g } = q
  const withStarts = q.business !== null
  const out: Partial<ReportFacts> = {}
  if (part !== 'second') {
    out.firstResponses = measure(yield* repo.durations(ws, 'firstResponse', start, end, g, withStarts), q)
    out.episodes = yield* repo.episodeCounts(ws, start, end, g)
  }
  if (part !== 'first') {
    out.resolutions = measure(yield* repo.durations(ws, 'resolution', start, end, g, withStarts), q)
    out.messages = yield* repo.messageCounts(ws, start, end, g)
    out.campaigns = yield* repo.campaignCounts(ws, start, end, g)
    out.waiting = yield* repo.waiting(ws, start, end, g)
  }
  return out
}
