// Presence's memory across restarts (issue 13): who held an open stream and when Parley
// last saw them. Written only when a person's first stream opens or last one closes.
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'

export class PresenceRepo {
  private readonly markStmt: Database.Statement
  private readonly recentStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    this.markStmt = c.prepare('UPDATE users SET streaming = ?, seen_at = ? WHERE id = ?')
    this.recentStmt = c.prepare(
      `SELECT id AS userId, workspace_id AS workspaceId FROM users
        WHERE disabled_at IS NULL AND (streaming = 1 OR seen_at >= ?) ORDER BY id`,
    )
  }

  mark(userId: number, streaming: boolean, at: number): void {
    this.markStmt.run(streaming ? 1 : 0, at, userId)
  }

  /** Active people who were streaming when the process stopped, or seen since `since`. */
  recent(since: number): { userId: number; workspaceId: number }[] {
    return this.recentStmt.all(since) as { userId: number; workspaceId: number }[]
  }
}
