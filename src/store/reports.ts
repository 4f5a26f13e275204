// Reports (issue 15): reads of the facts the database keeps at write time (report_episodes,
// report_message_counts: migration report_triggers), each one range of a covering index,
// grouped in SQL. A report over a whole history reads 100,000s of index entries, so what
// crosses into JavaScript is one row per group: counts, and the durations a percentile needs
// as one comma-separated list per group (group_concat), which is an order of magnitude
// cheaper than a row per duration (bench "reports"). Every read takes the workspace id,
// which comes from the session.
import type { Db } from './db.ts'

/**
 * How facts are grouped: by the person a fact belongs to, by channel, or by local day.
 * A local day is (t + offset) / 1 day, with the timezone's UTC offset in effect at t given
 * as segments: `offsets[i]` applies before `changes[i]`, the last one after every change.
 */
export type Grouping = { by: 'user' } | { by: 'channel' } | { by: 'day'; changes: number[]; offsets: number[] }

/** A group's key: a user or channel id (0: none), or a local day number (days since 1970-01-01). */
export interface Grouped {
  key: number
}

export interface EpisodeCounts extends Grouped {
  opened: number
  reopened: number
}

export interface MessageCounts extends Grouped {
  messagesIn: number
  messagesOut: number
}

export interface CampaignCounts extends Grouped {
  delivered: number
  replied: number
}

export interface WaitingCounts extends Grouped {
  count: number
  /** When the longest-waiting customer began to wait. */
  since: number
}

/**
 * Durations ending in the range, per group: with `starts`, the start and end of each
 * (for business hours, measured by the caller); else each one's length in ms.
 */
export interface DurationList extends Grouped {
  starts: Float64Array | null
  values: Float64Array
}

export type DurationKind = 'firstResponse' | 'resolution'

// Per fact: the instant that places it in the range, and the columns of its person and channel.
const DURATIONS: Record<DurationKind, { start: string; end: string; user: string; where: string }> = {
  firstResponse: { start: 'first_in_at', end: 'first_reply_at', user: 'first_reply_by', where: 'first_in_at IS NOT NULL' },
  resolution: { start: 'opened_at', end: 'resolved_at', user: 'COALESCE(resolved_by, resolved_assignee_id)', where: '1' },
}

const int = (n: number) => {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`)
  return String(n)
}

/** The SQL of a fact's group key (only integers computed by Parley are inlined). */
function keySql(g: Grouping, at: string, user: string, channel: string): string {
  if (g.by === 'user') return `COALESCE(${user}, 0)`
  if (g.by === 'channel') return `COALESCE(${channel}, 0)`
  const last = g.offsets[g.offsets.length - 1]!
  const offset = g.changes.length
    ? `CASE ${g.changes.map((c, i) => `WHEN ${at} < ${int(c)} THEN ${int(g.offsets[i]!)}`).join(' ')} ELSE ${int(last)} END`
    : int(last)
  return `((${at} + ${offset}) / 86400000)`
}

function list(csv: string | null): Float64Array {
  if (!csv) return new Float64Array(0)
  const parts = csv.split(',')
  const out = new Float64Array(parts.length)
  for (let i = 0; i < parts.length; i++) out[i] = +parts[i]!
  return out
}

export type WaitingRow = Omit<WaitingCounts, 'key'> & { key: number | null }

export class ReportsRepo {
  private readonly c: Db['$client']

  /** Only the connection is used: a report thread gives its own (store/report-threads.ts). */
  constructor(db: Pick<Db, '$client'>) {
    this.c = db.$client
  }

  // The statements depend on the grouping (and its offsets): prepared per call, which costs
  // microseconds against the milliseconds of the range they read.
  private rows<T>(sql: string, params: unknown[]): T[] {
    return this.c
      .prepare(sql)
      .raw()
      .all(...params) as T[]
  }

  /** Episodes opened in [from, to): how many, and how many of them reopened a conversation. */
  episodeCounts(ws: number, from: number, to: number, g: Grouping): EpisodeCounts[] {
    const key = keySql(g, 'opened_at', 'opened_assignee_id', 'channel_id')
    return this.rows<[number, number, number]>(
      `SELECT ${key}, count(*), sum(reopened) FROM report_episodes
       WHERE workspace_id = ? AND opened_at >= ? AND opened_at < ? GROUP BY 1`,
      [ws, from, to],
    ).map(([key, opened, reopened]) => ({ key, opened, reopened }))
  }

  /** First responses or resolutions in [from, to), per group. */
  durations(ws: number, kind: DurationKind, from: number, to: number, g: Grouping, withStarts: boolean): DurationList[] {
    const d = DURATIONS[kind]
    const key = keySql(g, d.end, d.user, 'channel_id')
    const lists = withStarts ? `group_concat(${d.start}), group_concat(${d.end})` : `NULL, group_concat(${d.end} - ${d.start})`
    return this.rows<[number, string | null, string]>(
      `SELECT ${key}, ${lists} FROM report_episodes
       WHERE workspace_id = ? AND ${d.end} >= ? AND ${d.end} < ? AND ${d.where} GROUP BY 1`,
      [ws, from, to],
    ).map(([key, starts, values]) => ({ key, starts: withStarts ? list(starts) : null, values: list(values) }))
  }

  /** Messages in and out in the hours starting in [from, to). */
  messageCounts(ws: number, from: number, to: number, g: Grouping): MessageCounts[] {
    const key = keySql(g, 'hour', 'user_id', 'channel_id')
    return this.rows<[number, number, number]>(
      `SELECT ${key}, sum(messages_in), sum(messages_out) FROM report_message_counts
       WHERE workspace_id = ? AND hour >= ? AND hour < ? GROUP BY 1`,
      [ws, from, to],
    ).map(([key, messagesIn, messagesOut]) => ({ key, messagesIn, messagesOut }))
  }

  /**
   * Open conversations whose customer waits for a person's reply now, per group. With a
   * grouping by day, only waits that began in [from, to) have a group; the others come
   * under key null (they count in the totals).
   */
  waiting(ws: number, from: number, to: number, g: Grouping): WaitingRow[] {
    const key =
      g.by === 'day'
        ? `CASE WHEN waiting_since >= ${int(from)} AND waiting_since < ${int(to)} THEN ${keySql(g, 'waiting_since', '', '')} END`
        : keySql(g, 'waiting_since', 'assignee_id', 'channel_id')
    return this.rows<[number | null, number, number]>(
      `SELECT ${key}, count(*), min(waiting_since) FROM conversations
       WHERE workspace_id = ? AND status = 'open' AND waiting_since IS NOT NULL GROUP BY 1`,
      [ws],
    ).map(([key, count, since]) => ({ key, count, since }))
  }

  /**
   * Campaign messages queued in [from, to): how many the customer's phone had (delivered,
   * read or played), and how many of those the customer answered. By the campaign's author.
   */
  campaignCounts(ws: number, from: number, to: number, g: Grouping): CampaignCounts[] {
    const key = keySql(g, 'queued_at', 'created_by', 'channel_id')
    return this.rows<[number, number, number]>(
      `SELECT ${key}, sum(delivered), sum(delivered AND replied) FROM (
         SELECT r.queued_at, k.created_by, k.channel_id, r.replied_at IS NOT NULL AS replied,
           (m.status IN ('delivered', 'read', 'played') OR m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL) AS delivered
         FROM campaign_recipients r JOIN campaigns k ON k.id = r.campaign_id JOIN messages m ON m.id = r.message_id
         WHERE r.workspace_id = ? AND r.queued_at >= ? AND r.queued_at < ?)
       GROUP BY 1`,
      [ws, from, to],
    ).map(([key, delivered, replied]) => ({ key, delivered, replied }))
  }

  users(ws: number): Array<{ id: number; name: string }> {
    return this.c.prepare('SELECT id, name FROM users WHERE workspace_id = ? ORDER BY name, id').all(ws) as Array<{
      id: number
      name: string
    }>
  }

  channels(ws: number): Array<{ id: number; name: string }> {
    return this.c.prepare('SELECT id, name FROM channels WHERE workspace_id = ? ORDER BY name, id').all(ws) as Array<{
      id: number
      name: string
    }>
  }
}
