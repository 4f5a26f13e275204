// Channel membership (issue 13) for code still synchronous on SQLite (issue 17): the
// access check of every request, the team's lists, start-up and tests. Each method runs the
// repository's unit at once on the one SQLite connection; code written as units (either
// database) uses `repo` directly.
import { sqliteConn } from '../../store/conn.ts'
import { ChannelMembersRepo } from '../../store/channel-members.ts'
import type { Db } from '../../store/db.ts'
import { SqliteRunner } from '../../store/runner.ts'
import { runSync, type Q } from '../../store/unit.ts'

export class ChannelMembers {
  readonly repo = new ChannelMembersRepo()
  private readonly runner: SqliteRunner

  constructor(private readonly db: Db) {
    this.runner = new SqliteRunner(db.$client)
  }

  private now<T>(unit: Q<T>): T {
    return runSync(unit, sqliteConn(this.db.$client))
  }

  channelIdsOf(userId: number): number[] {
    return this.now(this.repo.channelIdsOf(userId))
  }

  membersOf(channelId: number): number[] {
    return this.now(this.repo.membersOf(channelId))
  }

  /** Every membership, by user: one read for a people list. */
  byUser(): Map<number, number[]> {
    return this.now(this.repo.byUser())
  }

  /** Replaces the user's channels with these (in the caller's transaction, or its own: a savepoint inside one). */
  set(userId: number, channelIds: readonly number[]): void {
    this.runner.transactSync(() => this.repo.set(userId, channelIds))
  }
}
