// Who works which channel (issue 13): agents see the conversations of their channels
// only; admins see every channel and need no rows here.
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'

export class ChannelMembersRepo {
  private readonly ofUserStmt: Database.Statement
  private readonly ofChannelStmt: Database.Statement
  private readonly deleteOfUserStmt: Database.Statement
  private readonly insertStmt: Database.Statement

  constructor(private readonly db: Db) {
    const c = db.$client
    // Prepared once: read for every authenticated request of an agent.
    this.ofUserStmt = c.prepare('SELECT channel_id FROM channel_members WHERE user_id = ? ORDER BY channel_id').pluck()
    this.ofChannelStmt = c.prepare('SELECT user_id FROM channel_members WHERE channel_id = ? ORDER BY user_id').pluck()
    this.deleteOfUserStmt = c.prepare('DELETE FROM channel_members WHERE user_id = ?')
    this.insertStmt = c.prepare('INSERT OR IGNORE INTO channel_members(channel_id, user_id) VALUES (?, ?)')
  }

  /** The channels a person is a member of, ascending. */
  channelIdsOf(userId: number): number[] {
    return this.ofUserStmt.all(userId) as number[]
  }

  /** A channel's members, ascending. */
  membersOf(channelId: number): number[] {
    return this.ofChannelStmt.all(channelId) as number[]
  }

  /** Replaces a person's channels (in one transaction). */
  set(userId: number, channelIds: readonly number[]): void {
    this.db.$client.transaction(() => {
      this.deleteOfUserStmt.run(userId)
      for (const id of channelIds) this.insertStmt.run(id, userId)
    })()
  }
}
