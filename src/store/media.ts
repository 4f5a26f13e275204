// Media files' rows: inbound downloads queued by ingest and fetched in the background,
// agents' uploads, and the id Meta gave an upload. The files themselves live in
// MEDIA_DIR (domain/media/media.ts); this is only their bookkeeping. Units of work
// (store/unit.ts, issue 17): the same code on SQLite and PostgreSQL. The fetcher claims
// due downloads with a lease and settles them conditionally, so several processes on one
// PostgreSQL database download each file once.
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import { media } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export type MediaRow = typeof media.$inferSelect
export type NewMedia = typeof media.$inferInsert

const codec = new TableCodec<MediaRow>(media)
const ALL = codec.selectQuoted()

// Earliest due first (the fetcher's order), then by id: one order on both databases.
const DUE_WHERE = `state = 'pending' AND direction = 'in' AND next_attempt_at <= ?`
// The claim (like the outbox's): the due rows and their lease in one statement, so a claimed
// download is not due for anyone else until the lease passes — and becomes due again by
// itself if the process that claimed it died (a download is idempotent). SQLite has one
// writer at a time and the caller's clock; PostgreSQL skips rows another session is
// claiming (FOR UPDATE SKIP LOCKED, re-checked after its commit) and leases on the
// database's clock, never a process's.
const CLAIM = {
  sqlite: `UPDATE media SET next_attempt_at = ? + ?
    WHERE id IN (SELECT id FROM media WHERE ${DUE_WHERE} ORDER BY next_attempt_at, id LIMIT ?)
    RETURNING ${ALL}`,
  postgres: `UPDATE media SET next_attempt_at = (extract(epoch from clock_timestamp()) * 1000)::bigint + ?
    WHERE id IN (SELECT id FROM media WHERE ${DUE_WHERE} ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED)
    RETURNING ${ALL}`,
}
const NEXT_DUE = `SELECT min(next_attempt_at) AS "at" FROM media WHERE state = 'pending' AND direction = 'in' AND next_attempt_at > ?`
const BY_ID = `SELECT ${ALL} FROM media WHERE id = ?`
const STORED_UPLOAD = `SELECT ${ALL} FROM media WHERE id = ? AND workspace_id = ? AND direction = 'out' AND state = 'stored'`
const STORED_FILE = `SELECT ${ALL} FROM media WHERE id = ? AND workspace_id = ? AND state = 'stored' AND path IS NOT NULL`
const ATTACH = `UPDATE media SET message_id = ?, updated_at = ? WHERE id = ? AND direction = 'out'`
// Settling a download is conditional (issue 17): with several processes a lease may run out
// mid-download and another process fetch the same file. The first to store it wins; the
// loser finds no pending row and keeps nothing.
const STORE_PENDING = `UPDATE media SET state = 'stored', path = ?, size = ?, mime_type = ?, last_error = NULL, updated_at = ?
  WHERE id = ? AND direction = 'in' AND state = 'pending' RETURNING ${ALL}`

const decode = (row: unknown): MediaRow | undefined => (row === undefined ? undefined : codec.decodeAny(row))

export class MediaRepo {
  /** Inside the caller's transaction. */
  *insertMedia(values: NewMedia): Q<void> {
    yield* insertRow(codec, values)
  }

  *insertMediaReturning(values: NewMedia): Q<MediaRow> {
    return (yield* insertRow(codec, values))!
  }

  /**
   * Claims up to `limit` pending inbound downloads due by `now`: each is returned once and
   * is not due again until `leaseMs` has passed (on PostgreSQL from the database's clock),
   * unless its fetch settles it first. In id order.
   */
  *claimDueInbound(now: number, limit: number, leaseMs: number): Q<MediaRow[]> {
    const d = yield* dialect()
    const rows = d === 'postgres' ? yield* all(CLAIM.postgres, [leaseMs, now, limit]) : yield* all(CLAIM.sqlite, [now, leaseMs, now, limit])
    // RETURNING has no order of its own.
    return rows.map((r) => codec.decodeAny(r)).sort((a, b) => a.id - b.id)
  }

  /** The earliest pending inbound download due after `now`, for the fetcher's timer. */
  *nextInboundMediaDueAt(now: number): Q<number | null> {
    const at = (yield* get<{ at: number | null }>(NEXT_DUE, [now]))?.at
    return at === undefined || at === null ? null : Number(at)
  }

  /**
   * Marks a claimed download stored, only while it is still pending: undefined when another
   * process stored it (or it was given up) first. Then nothing changed.
   */
  *storePendingInbound(
    id: number,
    got: { path: string; size: number; mimeType: string | null; updatedAt: number },
  ): Q<MediaRow | undefined> {
    return decode(yield* get(STORE_PENDING, [got.path, got.size, got.mimeType, got.updatedAt, id]))
  }

  /**
   * Settles this process's claim (a failed try, or a claim given back at stop): `set` is
   * written only while the row is pending and still carries the lease the claim returned
   * (`leaseEnd`, its next_attempt_at). A claim another process took over after the lease
   * ran out is theirs to settle: undefined, nothing changed.
   */
  *settleClaim(id: number, leaseEnd: number, set: Partial<NewMedia>): Q<MediaRow | undefined> {
    const { keys, params } = codec.encodePositional(set)
    if (keys.length === 0) throw new Error('empty update')
    const sql = `UPDATE media SET ${keys.map((k) => `${codec.column(k)} = ?`).join(', ')}
      WHERE id = ? AND direction = 'in' AND state = 'pending' AND next_attempt_at = ? RETURNING ${ALL}`
    return decode(yield* get(sql, [...params, id, leaseEnd]))
  }

  *mediaById(id: number): Q<MediaRow | undefined> {
    return decode(yield* get(BY_ID, [id]))
  }

  /** An upload of this workspace, ready to attach to a message. */
  *storedUpload(workspaceId: number, id: number): Q<MediaRow | undefined> {
    return decode(yield* get(STORED_UPLOAD, [id, workspaceId]))
  }

  /** A stored file of this workspace (inbound or uploaded), to serve. */
  *storedMediaFile(workspaceId: number, id: number): Q<MediaRow | undefined> {
    return decode(yield* get(STORED_FILE, [id, workspaceId]))
  }

  *updateMedia(id: number, set: Partial<NewMedia>): Q<MediaRow> {
    return (yield* updateRowById(codec, id, set))!
  }

  /** Links an upload to the message that sends it (inside the caller's transaction). */
  *attachUpload(mediaId: number, messageId: number, now: number): Q<void> {
    yield* run(ATTACH, [messageId, now, mediaId])
  }
}
