// The snooze wake-up's reads (issue 14): the next snooze to end and those already due,
// both on the partial index conversations_snoozed_idx (only snoozed rows carry
// snoozed_until), so the timer costs one index seek however large the inbox is.
// Writes go through the inbox writer (InboxWriter.snooze / wake).
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'
import { TableCodec } from './prepared.ts'
import type { ConversationRow } from './rows.ts'
import { conversations } from './schema.ts'

export class SnoozeRepo {
  private readonly codec = new TableCodec<ConversationRow>(conversations)
  private readonly nextStmt: Database.Statement
  private readonly dueStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    this.nextStmt = c.prepare('SELECT min(snoozed_until) FROM conversations WHERE snoozed_until IS NOT NULL').pluck()
    // Every workspace's: the timer is the process's, each wake is written in its own workspace.
    this.dueStmt = c.prepare(
      `SELECT ${this.codec.select('v')} FROM conversations v
        WHERE v.snoozed_until IS NOT NULL AND v.snoozed_until <= ? AND v.status = 'snoozed'
        ORDER BY v.snoozed_until, v.id LIMIT ?`,
    )
  }

  /** When the next snooze ends (ms), or undefined when nothing is snoozed. */
  nextDue(): number | undefined {
    return (this.nextStmt.get() as number | null) ?? undefined
  }

  /** Snoozed conversations whose time has come, the earliest first. */
  due(now: number, limit: number): ConversationRow[] {
    return this.dueStmt.all(now, limit).map((r) => this.codec.decode(r))
  }
}
