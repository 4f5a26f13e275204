// What the health page and /metrics read at the moment they are asked (issue 16): the
// outbox's backlog per channel, paused and running campaigns, media bytes, the event
// log's extent and the last backup's time. Every query is an index lookup or a small
// group; none runs on a webhook or a send.
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'

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

export class HealthRepo {
  private readonly channelsStmt: Database.Statement
  private readonly backlogStmt: Database.Statement
  private readonly pausedStmt: Database.Statement
  private readonly runningStmt: Database.Statement
  private readonly mediaStmt: Database.Statement
  private readonly eventsStmt: Database.Statement
  private readonly metaStmt: Database.Statement
  private readonly isChannelStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    this.channelsStmt = c.prepare(
      `SELECT id, workspace_id AS workspaceId, kind, external_id AS externalId, name, enabled,
              credentials_status AS credentialsStatus, credentials_detail AS credentialsDetail,
              credentials_checked_at AS credentialsCheckedAt
         FROM channels ORDER BY id`,
    )
    // Over the (state, next_attempt_at) index: only rows still waiting are read.
    this.backlogStmt = c.prepare(
      `SELECT channel_id AS channelId, count(*) AS depth, min(created_at) AS oldestAt
         FROM outbox WHERE state IN ('queued', 'sending') GROUP BY channel_id`,
    )
    this.pausedStmt = c.prepare(
      `SELECT id, workspace_id AS workspaceId, channel_id AS channelId, name, pause_code AS code,
              pause_reason AS reason, paused_at AS pausedAt
         FROM campaigns WHERE status = 'paused' ORDER BY id DESC LIMIT ?`,
    )
    this.runningStmt = c.prepare(`SELECT id, name FROM campaigns WHERE status = 'running' ORDER BY id LIMIT ?`)
    this.mediaStmt = c.prepare(`SELECT coalesce(sum(size), 0) FROM media WHERE state = 'stored'`).pluck()
    // Ids only grow and pruning removes the oldest: the span of ids is the row count
    // (give or take rolled-back inserts), read from the primary key in two steps.
    this.eventsStmt = c.prepare(
      `SELECT (SELECT min(id) FROM events) AS minId, (SELECT max(id) FROM events) AS maxId,
              (SELECT created_at FROM events ORDER BY id LIMIT 1) AS oldestAt`,
    )
    this.metaStmt = c.prepare(`SELECT value FROM meta WHERE key = ?`).pluck()
    // On the unique (kind, external_id) index; reads no secret column.
    this.isChannelStmt = c.prepare(`SELECT 1 FROM channels WHERE kind = ? AND external_id = ?`).pluck()
  }

  /** Whether this number or Page is connected. */
  isChannel(kind: string, externalId: string): boolean {
    return this.isChannelStmt.get(kind, externalId) !== undefined
  }

  channels(): ChannelRef[] {
    return (this.channelsStmt.all() as (Omit<ChannelRef, 'enabled'> & { enabled: number })[]).map((r) => ({
      ...r,
      enabled: r.enabled === 1,
    }))
  }

  backlog(): Backlog[] {
    return this.backlogStmt.all() as Backlog[]
  }

  pausedCampaigns(limit: number): PausedCampaign[] {
    return this.pausedStmt.all(limit) as PausedCampaign[]
  }

  runningCampaigns(limit: number): { id: number; name: string }[] {
    return this.runningStmt.all(limit) as { id: number; name: string }[]
  }

  mediaBytes(): number {
    return Number(this.mediaStmt.get() ?? 0)
  }

  eventLog(): { events: number; oldestAt: number | null } {
    const r = this.eventsStmt.get() as { minId: number | null; maxId: number | null; oldestAt: number | null }
    return { events: r.minId === null || r.maxId === null ? 0 : r.maxId - r.minId + 1, oldestAt: r.oldestAt }
  }

  meta(key: string): string | undefined {
    return this.metaStmt.get(key) as string | undefined
  }
}
