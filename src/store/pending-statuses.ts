// Statuses Meta sent for a message id Parley did not know yet (the status outran the
// send call's answer, or the message was sent elsewhere): kept until the id appears.
import { and, asc, eq } from 'drizzle-orm'
import type { Db } from './db.ts'
import { pendingStatuses } from './schema.ts'

export type PendingStatusRow = typeof pendingStatuses.$inferSelect

export class PendingStatusesRepo {
  constructor(private readonly db: Db) {}

  /** The statuses kept for this message id, oldest first (the order they are applied in). */
  pendingStatusesFor(channelId: number, providerMessageId: string): PendingStatusRow[] {
    return this.db
      .select()
      .from(pendingStatuses)
      .where(and(eq(pendingStatuses.channelId, channelId), eq(pendingStatuses.providerMessageId, providerMessageId)))
      .orderBy(asc(pendingStatuses.timestamp))
      .all()
  }

  /** Forgets them once applied (inside the same transaction). */
  deletePendingStatuses(channelId: number, providerMessageId: string): void {
    this.db
      .delete(pendingStatuses)
      .where(and(eq(pendingStatuses.channelId, channelId), eq(pendingStatuses.providerMessageId, providerMessageId)))
      .run()
  }
}
