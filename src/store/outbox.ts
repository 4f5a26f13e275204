// The outbox's rows: one per outbound message, moved through its state machine by
// domain/sending/outbox.ts. Synchronous, over one connection: the domain runs each
// transition inside its own transaction, and the worker's HTTP calls between them.
import type Database from 'better-sqlite3'
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from './db.ts'
import { outbox } from './schema.ts'

export type OutboxRow = typeof outbox.$inferSelect
export type NewOutboxRow = typeof outbox.$inferInsert

export class OutboxRepo {
  // The worker's polling reads, prepared once: they run on every wake-up.
  private readonly dueChannelsStmt: Database.Statement
  private readonly claimableStmt: Database.Statement
  private readonly nextDueStmt: Database.Statement
  private readonly sendingStmt: Database.Statement
  private readonly directionStmt: Database.Statement

  constructor(private readonly db: Db) {
    const c = db.$client
    this.dueChannelsStmt = c.prepare(`SELECT DISTINCT channel_id AS channelId FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?`)
    // One send in flight per conversation, oldest first: a customer reads replies in the
    // order agents wrote them (Meta does not guarantee order across concurrent sends).
    // Agents' replies (priority 0) before campaign messages (1): a broadcast shares the
    // number's rate but never makes a customer wait for an answer.
    this.claimableStmt = c.prepare(
      `SELECT o.id FROM outbox o
        WHERE o.channel_id = ? AND o.state = 'queued' AND o.next_attempt_at <= ?
          AND NOT EXISTS (SELECT 1 FROM outbox p
                           WHERE p.conversation_id = o.conversation_id AND p.id < o.id
                             AND p.state IN ('queued', 'sending'))
        ORDER BY o.priority, o.id LIMIT ?`,
    )
    this.nextDueStmt = c.prepare(`SELECT min(next_attempt_at) AS at FROM outbox WHERE state = 'queued' AND next_attempt_at > ?`)
    this.directionStmt = c.prepare('SELECT direction FROM messages WHERE id = ?').pluck()
    this.sendingStmt = c.prepare(`SELECT id FROM outbox WHERE state = 'sending' AND (? IS NULL OR lease_until < ?)`)
  }

  /**
   * Issue 14: a row only for an outbound message — the second line of the rule the
   * domain's enqueue states (a note, a system line, a customer's message can never be
   * sent), checked here so no other caller can get past it either.
   */
  insertOutboxRow(values: NewOutboxRow): OutboxRow {
    const direction = this.directionStmt.get(values.messageId) as string | undefined
    if (direction !== 'out') throw new Error(`outbox: message ${values.messageId} is not outbound (${direction ?? 'missing'}); refused`)
    return this.db.insert(outbox).values(values).returning().get()
  }

  outboxById(id: number): OutboxRow | undefined {
    return this.db.select().from(outbox).where(eq(outbox.id, id)).get()
  }

  outboxByMessage(messageId: number): OutboxRow | undefined {
    return this.db.select().from(outbox).where(eq(outbox.messageId, messageId)).get()
  }

  /** Channels with a queued row due by `now`. */
  dueOutboxChannels(now: number): number[] {
    return (this.dueChannelsStmt.all(now) as { channelId: number }[]).map((r) => r.channelId)
  }

  /** Earliest future retry. */
  nextOutboxDueAt(now: number): number | null {
    return (this.nextDueStmt.get(now) as { at: number | null }).at
  }

  /** Up to `limit` ids of this channel that may be sent now, in send order. */
  claimableOutboxIds(channelId: number, now: number, limit: number): number[] {
    return (this.claimableStmt.all(channelId, now, limit) as { id: number }[]).map((r) => r.id)
  }

  /** Rows in `sending`; with `leaseBefore`, only those whose lease ran out before it. */
  sendingOutboxIds(leaseBefore: number | null): number[] {
    return (this.sendingStmt.all(leaseBefore, leaseBefore) as { id: number }[]).map((r) => r.id)
  }

  /** queued → sending with a lease, counting the attempt; undefined if the row is no longer queued. */
  claimOutboxRow(id: number, leaseUntil: number, now: number): OutboxRow | undefined {
    return this.db
      .update(outbox)
      .set({ state: 'sending', attempts: sql`${outbox.attempts} + 1`, leaseUntil, updatedAt: now })
      .where(and(eq(outbox.id, id), eq(outbox.state, 'queued')))
      .returning()
      .get()
  }

  updateOutboxRow(id: number, set: Partial<NewOutboxRow>): void {
    this.db.update(outbox).set(set).where(eq(outbox.id, id)).run()
  }
}
