// Media files' rows: inbound downloads queued by ingest and fetched in the background,
// agents' uploads, and the id Meta gave an upload. The files themselves live in
// DATA_DIR/media (domain/media/media.ts); this is only their bookkeeping.
import type Database from 'better-sqlite3'
import { and, eq, inArray, isNotNull, lte } from 'drizzle-orm'
import type { Db } from './db.ts'
import { media } from './schema.ts'

export type MediaRow = typeof media.$inferSelect
export type NewMedia = typeof media.$inferInsert

export class MediaRepo {
  private readonly nextInboundDueStmt: Database.Statement

  constructor(private readonly db: Db) {
    this.nextInboundDueStmt = db.$client.prepare(
      `SELECT min(next_attempt_at) AS at FROM media WHERE state = 'pending' AND direction = 'in' AND next_attempt_at > ?`,
    )
  }

  /** Inside the caller's transaction. */
  insertMedia(values: NewMedia): void {
    this.db.insert(media).values(values).run()
  }

  insertMediaReturning(values: NewMedia): MediaRow {
    return this.db.insert(media).values(values).returning().get()
  }

  /** Pending inbound downloads due by `now`, at most `limit`. */
  dueInboundMedia(now: number, limit: number): MediaRow[] {
    return this.db
      .select()
      .from(media)
      .where(and(eq(media.state, 'pending'), eq(media.direction, 'in'), lte(media.nextAttemptAt, now)))
      .limit(limit)
      .all()
  }

  /** The earliest pending inbound download due after `now`, for the fetcher's timer. */
  nextInboundMediaDueAt(now: number): number | null {
    return (this.nextInboundDueStmt.get(now) as { at: number | null }).at
  }

  mediaById(id: number): MediaRow | undefined {
    return this.db.select().from(media).where(eq(media.id, id)).get()
  }

  /** An upload of this workspace, ready to attach to a message. */
  storedUpload(workspaceId: number, id: number): MediaRow | undefined {
    return this.db
      .select()
      .from(media)
      .where(and(eq(media.id, id), eq(media.workspaceId, workspaceId), eq(media.direction, 'out'), eq(media.state, 'stored')))
      .get()
  }

  /** A stored file of this workspace (inbound or uploaded), to serve. */
  storedMediaFile(workspaceId: number, id: number): MediaRow | undefined {
    return this.db
      .select()
      .from(media)
      .where(and(eq(media.id, id), eq(media.workspaceId, workspaceId), eq(media.state, 'stored'), isNotNull(media.path)))
      .get()
  }

  updateMedia(id: number, set: Partial<NewMedia>): MediaRow {
    return this.db.update(media).set(set).where(eq(media.id, id)).returning().get()
  }

  /** Links an upload to the message that sends it (inside the caller's transaction). */
  attachUpload(mediaId: number, messageId: number, now: number): void {
    this.db
      .update(media)
      .set({ messageId, updatedAt: now })
      .where(and(eq(media.id, mediaId), inArray(media.direction, ['out'])))
      .run()
  }
}
