// Channel membership (issue 13): which agents work which channels. Admins see every
// channel whatever this table says; the access rules that read it live in the domain.
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.ts'

export class ChannelMembersRepo {
  private readonly ofUser: Statement
  private readonly ofChannel: Statement
  private readonly all: Statement
  private readonly clear: Statement
  private readonly add: Statement

  constructor(private readonly db: Db) {
    const c = db.$client
    this.ofUser = c.prepare('SELECT channel_id AS id FROM channel_members WHERE user_id = ? ORDER BY channel_id').pluck()
    this.ofChannel = c.prepare('SELECT user_id AS id FROM channel_members WHERE channel_id = ? ORDER BY user_id').pluck()
    this.all = c.prepare('SELECT user_id AS userId, channel_id AS channelId FROM channel_members ORDER BY user_id, channel_id')
    this.clear = c.prepare('DELETE FROM channel_members WHERE user_id = ?')
    // Only channels of the user's own workspace: an id from another one is silently not a membership.
    this.add = c.prepare(
      `INSERT OR IGNORE INTO channel_members(channel_id, user_id)
       SELECT ch.id, u.id FROM channels ch JOIN users u ON u.workspace_id = ch.workspace_id WHERE ch.id = ? AND u.id = ?`,
    )
  }

  channelIdsOf(userId: number): number[] {
    return this.ofUser.all(userId) as number[]
  }

  membersOf(channelId: number): number[] {
    return this.ofChannel.all(channelId) as number[]
  }

  /** Every membership, by user: one read for a people list. */
  byUser(): Map<number, number[]> {
    const out = new Map<number, number[]>()
    for (const r of this.all.all() as Array<{ userId: number; channelId: number }>) {
      let list = out.get(r.userId)
      if (!list) out.set(r.userId, (list = []))
      list.push(r.channelId)
    }
    return out
  }

  /** Replaces the user's channels with these (in the caller's transaction, or its own). */
  set(userId: number, channelIds: readonly number[]): void {
    this.db.$client.transaction(() => {
      this.clear.run(userId)
      for (const id of new Set(channelIds)) this.add.run(id, userId)
    })()
  }
}
