// The event log's table: rows appended inside each state change's transaction, read
// back for replay, and pruned after the retention. Ids come from one AUTOINCREMENT
// sequence (never reused), so the head survives pruning.
import type Database from 'better-sqlite3'
import { readMeta, writeMeta, type Db } from './db.ts'

/** An event row as replay reads it: the payload stays the JSON text it was stored as. */
export interface StoredEvent {
  id: number
  workspaceId: number
  type: string
  data: string
  /** The audience (issue 13): one channel's members, or one user; both null: the whole workspace. */
  channelId: number | null
  userId: number | null
}

/** Whose stream a replay is for: every channel (null: an admin), or these channels, and this user. */
export interface ReplayAudience {
  channelIds: readonly number[] | null
  userId: number
}

const PRUNED_THROUGH_KEY = 'events_pruned_through'

export class EventsRepo {
  // Prepared once: the insert runs for every event of every webhook (the hot path).
  private readonly insertStmt: Database.Statement
  private readonly readPageStmt: Database.Statement
  private readonly readAudiencePageStmt: Database.Statement
  private readonly readAllChannelsPageStmt: Database.Statement
  private readonly pruneRangeStmt: Database.Statement
  private readonly deleteThroughStmt: Database.Statement

  constructor(private readonly db: Db) {
    const c = db.$client
    // pluck: the id alone, not a row object per event.
    this.insertStmt = c
      .prepare('INSERT INTO events(workspace_id, type, payload, created_at, channel_id, user_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id')
      .pluck()
    const columns = 'id, workspace_id AS workspaceId, type, payload AS data, channel_id AS channelId, user_id AS userId'
    this.readPageStmt = c.prepare(`SELECT ${columns} FROM events WHERE workspace_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?`)
    // A member's replay: the workspace's events, their channels' and their own, in id
    // order. The channel list is a JSON array (one prepared statement for any list).
    this.readAudiencePageStmt = c.prepare(
      `SELECT ${columns} FROM events
        WHERE workspace_id = ? AND id > ? AND id <= ?
          AND (channel_id IS NULL OR channel_id IN (SELECT value FROM json_each(?)))
          AND (user_id IS NULL OR user_id = ?)
        ORDER BY id LIMIT ?`,
    )
    // An admin's: every channel, but another person's own events stay theirs.
    this.readAllChannelsPageStmt = c.prepare(
      `SELECT ${columns} FROM events
        WHERE workspace_id = ? AND id > ? AND id <= ? AND (user_id IS NULL OR user_id = ?)
        ORDER BY id LIMIT ?`,
    )
    this.pruneRangeStmt = c.prepare('SELECT max(id) AS maxId, count(*) AS n FROM events WHERE created_at < ?')
    this.deleteThroughStmt = c.prepare('DELETE FROM events WHERE id <= ?')
  }

  /** This database's stream epoch (written when it was opened). */
  epoch(): string {
    return readMeta(this.db, 'epoch')!
  }

  /** Every id at or below this may have been pruned. */
  prunedThrough(): number {
    return Number(readMeta(this.db, PRUNED_THROUGH_KEY) ?? 0)
  }

  /** The last id handed out; sqlite_sequence survives pruning, so it is right even with an empty table. */
  sequenceHead(): number {
    const seq = this.db.$client.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).get() as { seq: number } | undefined
    return seq?.seq ?? 0
  }

  /** Must run inside the change's transaction; returns the new id. */
  insertEvent(workspaceId: number, type: string, data: string, createdAt: number, channelId: number | null, userId: number | null): number {
    return this.insertStmt.get(workspaceId, type, data, createdAt, channelId, userId) as number
  }

  /**
   * Events of one workspace with afterId < id <= upToId, oldest first; with an audience,
   * only those it may see (an event it may not see is simply absent: no gap to fill).
   */
  readEventsPage(workspaceId: number, afterId: number, upToId: number, limit: number, audience?: ReplayAudience): StoredEvent[] {
    if (!audience) return this.readPageStmt.all(workspaceId, afterId, upToId, limit) as StoredEvent[]
    if (audience.channelIds === null) {
      return this.readAllChannelsPageStmt.all(workspaceId, afterId, upToId, audience.userId, limit) as StoredEvent[]
    }
    const channels = JSON.stringify(audience.channelIds)
    return this.readAudiencePageStmt.all(workspaceId, afterId, upToId, channels, audience.userId, limit) as StoredEvent[]
  }

  /**
   * Deletes events created before `olderThanMs` and records how far, in one transaction;
   * returns the highest deleted id (0: nothing to delete).
   */
  pruneEventsBefore(olderThanMs: number): number {
    const tx = this.db.$client.transaction(() => {
      const row = this.pruneRangeStmt.get(olderThanMs) as { maxId: number | null; n: number }
      if (row.maxId === null) return 0
      this.deleteThroughStmt.run(row.maxId)
      writeMeta(this.db, PRUNED_THROUGH_KEY, String(row.maxId))
      return row.maxId
    })
    return tx() as number
  }
}
