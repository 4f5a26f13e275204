// What a webhook carried that Parley could not place yet: raw payloads it keeps rather
// than drops (unknown channel, unknown shape, an ingest that failed), and statuses that
// arrived before their message (applied when the message's id appears).
import { and, asc, eq } from 'drizzle-orm'
import type { Db } from './db.ts'
import { pendingStatuses, rawWebhooks } from './schema.ts'

export type PendingStatusRow = typeof pendingStatuses.$inferSelect

// Issue 16: who hears of each payload kept (the metrics count them by reason), per
// database, so several apps in one process (tests) never hear each other's.
const keptListeners = new WeakMap<Db, (provider: string, reason: string) => void>()

/** Tells `fn` of every payload kept raw through this database. */
export function onKeptRaw(db: Db, fn: (provider: string, reason: string) => void): void {
  keptListeners.set(db, fn)
}

/** Keeps a webhook payload (or part of one) whole, with why it was not ingested. */
export function keepRaw(db: Db, provider: string, reason: string, body: unknown): void {
  db.insert(rawWebhooks)
    .values({ provider, reason, body: typeof body === 'string' ? body : JSON.stringify(body) })
    .run()
  keptListeners.get(db)?.(provider, reason)
}

export class PendingStatuses {
  constructor(private readonly db: Db) {}

  /** A status for a message not stored (yet); a duplicate of one already kept is ignored. */
  keep(p: { channelId: number; providerMessageId: string; status: string; timestamp: number; raw: unknown }): void {
    this.db.insert(pendingStatuses).values(p).onConflictDoNothing().run()
  }

  /** The statuses kept for this message, oldest first, removed from the table. */
  take(channelId: number, providerMessageId: string): PendingStatusRow[] {
    const where = and(eq(pendingStatuses.channelId, channelId), eq(pendingStatuses.providerMessageId, providerMessageId))
    const rows = this.db.select().from(pendingStatuses).where(where).orderBy(asc(pendingStatuses.timestamp)).all()
    if (rows.length > 0) this.db.delete(pendingStatuses).where(where).run()
    return rows
  }
}
