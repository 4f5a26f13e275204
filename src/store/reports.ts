// Reports (issue 15): reads of the facts the database keeps at write time (report_episodes,
// report_message_counts: migration report_triggers), each one range of a covering index,
// grouped in SQL. A report over a whole history reads 100,000s of index entries, so what
// crosses into JavaScript is one row per group: counts, and the durations a percentile needs
// as one comma-separated list per group (group_concat), which is an order of magnitude
// cheaper than a row per duration (bench "reports"). Every read takes the workspace id,
// which comes from the session.
//
// Written as units of work (store/unit.ts, issue 17): the same SQL on SQLite and PostgreSQL but
// for the lists (SQLite's group_concat, PostgreSQL's string_agg) and the names' order. The
// SQL texts depend only on the grouping's shape (a local day's offsets are bound, never
// inlined), so each is prepared once and reused (sqliteConn caches statements by text): a
// bounded set, where inlining each range's offsets would cache a statement per range.
import type { Dialect } from './conn.ts'
import { all, dialect, type Q } from './unit.ts'

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
  firstResponse: { start: 'first_in_at', end: 'first_reply_at', user: 'first_reply_by', where: ' AND first_in_at IS NOT NULL' },
  resolution: { start: 'opened_at', end: 'resolved_at', user: 'COALESCE(resolved_by, resolved_assignee_id)', where: '' },
}

/** A fact's group key: its SQL, and the values it binds (a local day's offsets). */
interface Key {
  sql: string
  params: number[]
}

/**
 * The SQL of a fact's group key. A local day's offsets are bound as BIGINT (PostgreSQL would
 * take an untyped parameter in a CASE for text), so the text depends only on how many changes.
 */
function keySql(g: Grouping, at: string, user: string, channel: string): Key {
  if (g.by === 'user') return { sql: `COALESCE(${user}, 0)`, params: [] }
  if (g.by === 'channel') return { sql: `COALESCE(${channel}, 0)`, params: [] }
  const params: number[] = []
  const when = g.changes.map((c, i) => {
    params.push(c, g.offsets[i]!)
    return `WHEN ${at} < CAST(? AS BIGINT) THEN CAST(? AS BIGINT)`
  })
  params.push(g.offsets[g.offsets.length - 1]!)
  const offset = when.length ? `CASE ${when.join(' ')} ELSE CAST(? AS BIGINT) END` : 'CAST(? AS BIGINT)'
  return { sql: `((${at} + ${offset}) / 86400000)`, params }
}

/** A grouping's shape: what the SQL text depends on. */
const shape = (g: Grouping) => (g.by === 'day' ? `day${g.changes.length}` : g.by)

// The texts built once per shape and dialect (and kind), then looked up.
const texts = new Map<string, string>()
function text(id: string, build: () => string): string {
  let sql = texts.get(id)
  if (sql === undefined) texts.set(id, (sql = build()))
  return sql
}

/** Values as one comma-separated text per group: the two dialects' aggregates. */
const listOf = (d: Dialect, expr: string) => (d === 'sqlite' ? `group_concat(${expr})` : `string_agg(CAST(${expr} AS TEXT), ',')`)

function list(csv: string | null): Float64Array {
  if (!csv) return new Float64Array(0)
  const parts = csv.split(',')
  const out = new Float64Array(parts.length)
  for (let i = 0; i < parts.length; i++) out[i] = +parts[i]!
  return out
}

export type WaitingRow = Omit<WaitingCounts, 'key'> & { key: number | null }

const USERS: Record<Dialect, string> = {
  sqlite: 'SELECT id, name FROM users WHERE workspace_id = ? ORDER BY name, id',
  // By code point, as SQLite's BINARY: a database's linguistic collation would order otherwise.
  postgres: 'SELECT id, name FROM users WHERE workspace_id = ? ORDER BY name COLLATE "C", id',
}
const CHANNELS: Record<Dialect, string> = {
  sqlite: 'SELECT id, name FROM channels WHERE workspace_id = ? ORDER BY name, id',
  postgres: 'SELECT id, name FROM channels WHERE workspace_id = ? ORDER BY name COLLATE "C", id',
}

export class ReportsRepo {
  /** Episodes opened in [from, to): how many, and how many of them reopened a conversation. */
  *episodeCounts(ws: number, from: number, to: number, g: Grouping): Q<EpisodeCounts[]> {
    const key = keySql(g, 'opened_at', 'opened_assignee_id', 'channel_id')
    const sql = text(
      `episodes:${shape(g)}`,
      () => `SELECT ${key.sql} AS "key", count(*) AS "opened", CAST(sum(reopened) AS INTEGER) AS "reopened" FROM report_episodes
       WHERE workspace_id = ? AND opened_at >= ? AND opened_at < ? GROUP BY 1`,
    )
    return yield* all<EpisodeCounts>(sql, [...key.params, ws, from, to])
  }

  /** First responses or resolutions in [from, to), per group. */
  *durations(ws: number, kind: DurationKind, from: number, to: number, g: Grouping, withStarts: boolean): Q<DurationList[]> {
    const d = DURATIONS[kind]
    const key = keySql(g, d.end, d.user, 'channel_id')
    const dia = yield* dialect()
    // Both lists of a group are aggregated over the same rows in one pass: their orders agree.
    const sql = text(`durations:${kind}:${shape(g)}:${dia}:${withStarts}`, () => {
      const lists = withStarts
        ? `${listOf(dia, d.start)} AS "starts", ${listOf(dia, d.end)} AS "values"`
        : `NULL AS "starts", ${listOf(dia, `${d.end} - ${d.start}`)} AS "values"`
      return `SELECT ${key.sql} AS "key", ${lists} FROM report_episodes
       WHERE workspace_id = ? AND ${d.end} >= ? AND ${d.end} < ?${d.where} GROUP BY 1`
    })
    const rows = yield* all<{ key: number; starts: string | null; values: string }>(sql, [...key.params, ws, from, to])
    return rows.map((r) => ({ key: r.key, starts: withStarts ? list(r.starts) : null, values: list(r.values) }))
  }

  /** Messages in and out in the hours starting in [from, to). */
  *messageCounts(ws: number, from: number, to: number, g: Grouping): Q<MessageCounts[]> {
    const key = keySql(g, 'hour', 'user_id', 'channel_id')
    const sql = text(
      `messages:${shape(g)}`,
      () => `SELECT ${key.sql} AS "key", CAST(sum(messages_in) AS INTEGER) AS "messagesIn",
         CAST(sum(messages_out) AS INTEGER) AS "messagesOut" FROM report_message_counts
       WHERE workspace_id = ? AND hour >= ? AND hour < ? GROUP BY 1`,
    )
    return yield* all<MessageCounts>(sql, [...key.params, ws, from, to])
  }

  /**
   * Open conversations whose customer waits for a person's reply now, per group. With a
   * grouping by day, only waits that began in [from, to) have a group; the others come
   * under key null (they count in the totals).
   */
  *waiting(ws: number, from: number, to: number, g: Grouping): Q<WaitingRow[]> {
    let key: Key
    if (g.by === 'day') {
      const day = keySql(g, 'waiting_since', '', '')
      key = {
        sql: `CASE WHEN waiting_since >= CAST(? AS BIGINT) AND waiting_since < CAST(? AS BIGINT) THEN ${day.sql} END`,
        params: [from, to, ...day.params],
      }
    } else key = keySql(g, 'waiting_since', 'assignee_id', 'channel_id')
    const sql = text(
      `waiting:${shape(g)}`,
      () => `SELECT ${key.sql} AS "key", count(*) AS "count", min(waiting_since) AS "since" FROM conversations
       WHERE workspace_id = ? AND status = 'open' AND waiting_since IS NOT NULL GROUP BY 1`,
    )
    return yield* all<WaitingRow>(sql, [...key.params, ws])
  }

  /**
   * Campaign messages queued in [from, to): how many the customer's phone had (delivered,
   * read or played), and how many of those the customer answered. By the campaign's author.
   */
  *campaignCounts(ws: number, from: number, to: number, g: Grouping): Q<CampaignCounts[]> {
    const key = keySql(g, 'queued_at', 'created_by', 'channel_id')
    // 1 and 0, not booleans: PostgreSQL sums no booleans.
    const sql = text(
      `campaigns:${shape(g)}`,
      () => `SELECT ${key.sql} AS "key", CAST(sum(delivered) AS INTEGER) AS "delivered",
         CAST(sum(delivered * replied) AS INTEGER) AS "replied" FROM (
         SELECT r.queued_at, k.created_by, k.channel_id, CASE WHEN r.replied_at IS NOT NULL THEN 1 ELSE 0 END AS replied,
           CASE WHEN m.status IN ('delivered', 'read', 'played') OR m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL
             THEN 1 ELSE 0 END AS delivered
         FROM campaign_recipients r JOIN campaigns k ON k.id = r.campaign_id JOIN messages m ON m.id = r.message_id
         WHERE r.workspace_id = ? AND r.queued_at >= ? AND r.queued_at < ?) AS f
       GROUP BY 1`,
    )
    return yield* all<CampaignCounts>(sql, [...key.params, ws, from, to])
  }

  *users(ws: number): Q<Array<{ id: number; name: string }>> {
    return yield* all<{ id: number; name: string }>(USERS[yield* dialect()], [ws])
  }

  *channels(ws: number): Q<Array<{ id: number; name: string }>> {
    return yield* all<{ id: number; name: string }>(CHANNELS[yield* dialect()], [ws])
  }
}
