// What the health page and /metrics read at the moment they are asked (issue 16): the
// outbox's backlog per channel, paused and running campaigns, media bytes, the event
// log's extent and the last backup's time. Every query is an index lookup or a small
// group; none runs on a webhook or a send. Written as units of work (store/unit.ts): the
// same SQL on SQLite and PostgreSQL (issue 17).
import { all, dialect, get, type Q } from './unit.ts'

export interface ChannelRef {
  id: number
  workspaceId: number
  kind: 'whatsapp' | 'messenger'
  externalId: string
  name: string
  enabled: boolean
  credentialsStatus: string | null
  credentialsDetail: string | null
  credentialsCheckedAt: number | null
}

export interface Backlog {
  channelId: number
  depth: number
  oldestAt: number | null
}

export interface PausedCampaign {
  id: number
  workspaceId: number
  channelId: number | null
  name: string
  code: string | null
  reason: string | null
  pausedAt: number | null
}

const CHANNELS = `SELECT id, workspace_id AS "workspaceId", kind, external_id AS "externalId", name, enabled,
       credentials_status AS "credentialsStatus", credentials_detail AS "credentialsDetail",
       credentials_checked_at AS "credentialsCheckedAt"
  FROM channels ORDER BY id`
// Over the (state, next_attempt_at) index: only rows still waiting are read.
const BACKLOG = `SELECT channel_id AS "channelId", count(*) AS depth, min(created_at) AS "oldestAt"
  FROM outbox WHERE state IN ('queued', 'sending') GROUP BY channel_id`
const PAUSED = `SELECT id, workspace_id AS "workspaceId", channel_id AS "channelId", name, pause_code AS code,
       pause_reason AS reason, paused_at AS "pausedAt"
  FROM campaigns WHERE status = 'paused' ORDER BY id DESC LIMIT ?`
const RUNNING = `SELECT id, name FROM campaigns WHERE status = 'running' ORDER BY id LIMIT ?`
// PostgreSQL's sum of a bigint is numeric (text in node-postgres): cast back to an 8-byte
// integer (BIGINT, not INTEGER: more than 2 GB of media overflows a 4-byte one there).
const MEDIA = `SELECT CAST(coalesce(sum(size), 0) AS BIGINT) AS bytes FROM media WHERE state = 'stored'`
// Ids only grow and pruning removes the oldest: the span of ids is the row count
// (give or take rolled-back inserts on SQLite; dense on PostgreSQL, event_seq), read
// from the primary key in two steps.
const EVENTS = `SELECT (SELECT min(id) FROM events) AS "minId", (SELECT max(id) FROM events) AS "maxId",
       (SELECT created_at FROM events ORDER BY id LIMIT 1) AS "oldestAt"`
const META = `SELECT value FROM meta WHERE key = ?`
// On the unique (kind, external_id) index; reads no secret column.
const IS_CHANNEL = `SELECT 1 AS one FROM channels WHERE kind = ? AND external_id = ?`

export class HealthRepo {
  /** Whether this number or Page is connected. */
  *isChannel(kind: string, externalId: string): Q<boolean> {
    return (yield* get(IS_CHANNEL, [kind, externalId])) !== undefined
  }

  *channels(): Q<ChannelRef[]> {
    // SQLite answers 0/1 for a boolean, PostgreSQL true/false.
    const rows = yield* all<Omit<ChannelRef, 'enabled'> & { enabled: number | boolean }>(CHANNELS)
    return rows.map((r) => ({ ...r, enabled: Boolean(r.enabled) }))
  }

  *backlog(): Q<Backlog[]> {
    return yield* all<Backlog>(BACKLOG)
  }

  *pausedCampaigns(limit: number): Q<PausedCampaign[]> {
    return yield* all<PausedCampaign>(PAUSED, [limit])
  }

  *runningCampaigns(limit: number): Q<{ id: number; name: string }[]> {
    return yield* all<{ id: number; name: string }>(RUNNING, [limit])
  }

  *mediaBytes(): Q<number> {
    return Number((yield* get<{ bytes: number | null }>(MEDIA))?.bytes ?? 0)
  }

  /** PostgreSQL's size of this database (null on SQLite: its files are measured instead). */
  *databaseBytes(): Q<number | null> {
    if ((yield* dialect()) !== 'postgres') return null
    return Number((yield* get<{ bytes: number | string }>('SELECT pg_database_size(current_database()) AS bytes'))!.bytes)
  }

  *eventLog(): Q<{ events: number; oldestAt: number | null }> {
    const r = (yield* get<{ minId: number | null; maxId: number | null; oldestAt: number | null }>(EVENTS))!
    return { events: r.minId === null || r.maxId === null ? 0 : r.maxId - r.minId + 1, oldestAt: r.oldestAt }
  }

  *meta(key: string): Q<string | undefined> {
    return (yield* get<{ value: string }>(META, [key]))?.value
  }
}
