// What a webhook carried that Parley could not place yet: raw payloads it keeps rather
// than drops (unknown channel, unknown shape, an ingest that failed), and statuses that
// arrived before their message (applied when the message's id appears). Units of work
// (store/unit.ts, issue 17): the same SQL on SQLite and PostgreSQL. The ingest tells the
// metrics of each payload kept (whatsapp-ingest.ts keepRawUnit).
//
// A kept status names its recipient (Meta's recipient_id: the customer's number). It keeps
// that name only while the recipient is a contact: a status can arrive after its contact was
// erased (Meta goes on reporting on a message it accepted — sent, delivered, read, failed —
// for seconds or days), and its message is gone, so it would wait forever naming someone
// Parley was asked to forget (contact-erasure.ts deletes what names them at the time).
import { TableCodec } from './prepared.ts'
import { pendingStatuses } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export type PendingStatusRow = typeof pendingStatuses.$inferSelect

const codec = new TableCodec<PendingStatusRow>(pendingStatuses)

const INSERT_RAW = 'INSERT INTO raw_webhooks (provider, reason, body) VALUES (?, ?, ?)'
// A duplicate (Meta delivers statuses more than once, to any process) is stored once.
const KEEP = `INSERT INTO pending_statuses (channel_id, provider_message_id, status, timestamp, raw) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (channel_id, provider_message_id, status) DO NOTHING`
// Taking is one DELETE … RETURNING, not a read then a delete: on PostgreSQL a second
// session taking the same message's statuses waits for the first's row locks and then
// finds them gone, so each status is applied by exactly one taker.
const TAKE = `DELETE FROM pending_statuses WHERE channel_id = ? AND provider_message_id = ? RETURNING ${codec.selectQuoted()}`
// Whether the recipient is a contact of the channel's workspace. PostgreSQL: the contact row
// is locked (KEY SHARE) until this transaction ends, so an erasure (which locks its contact
// FOR UPDATE before deleting anything) either waits for this status and then deletes it, or
// commits first and this finds no contact.
const KNOWN_RECIPIENT = `SELECT 1 AS "one" FROM contacts c JOIN channels ch ON ch.workspace_id = c.workspace_id
  WHERE ch.id = ? AND c.kind = 'whatsapp' AND c.external_id = ?`
const KNOWN_RECIPIENT_PG = `${KNOWN_RECIPIENT} FOR KEY SHARE OF c`
/** The fields of a status that name who it was sent to (Meta: the number, or the business-scoped user id). */
const RECIPIENT_FIELDS = ['recipient_id', 'recipient_user_id']

/** Keeps a webhook payload (or part of one) whole, with why it was not ingested: the unit. */
export function* rawWebhook(provider: string, reason: string, body: unknown): Q<void> {
  yield* run(INSERT_RAW, [provider, reason, typeof body === 'string' ? body : JSON.stringify(body)])
}

export class PendingStatuses {
  /**
   * A status for a message not stored (yet); a duplicate of one already kept is ignored. A
   * recipient who is not a contact of the channel's workspace (never met, as an echo's that
   * outran it, or erased) is not kept: the status keeps everything else (its errors apply
   * when its message appears).
   */
  *keep(p: { channelId: number; providerMessageId: string; status: string; timestamp: number; raw: unknown }): Q<void> {
    let kept = p.raw
    const fields = isObj(p.raw) ? p.raw : undefined
    const recipient = fields && RECIPIENT_FIELDS.map((f) => fields[f]).find((v) => typeof v === 'string' || typeof v === 'number')
    if (fields && recipient !== undefined) {
      const pg = (yield* dialect()) === 'postgres'
      const known = yield* get(pg ? KNOWN_RECIPIENT_PG : KNOWN_RECIPIENT, [p.channelId, String(recipient)])
      if (!known) kept = Object.fromEntries(Object.entries(fields).filter(([k]) => !RECIPIENT_FIELDS.includes(k)))
    }
    const raw = kept === undefined || kept === null ? null : JSON.stringify(kept)
    yield* run(KEEP, [p.channelId, p.providerMessageId, p.status, p.timestamp, raw])
  }

  /** The statuses kept for this message, oldest first (then in arrival order), removed from the table. */
  *take(channelId: number, providerMessageId: string): Q<PendingStatusRow[]> {
    const rows = (yield* all(TAKE, [channelId, providerMessageId])).map((r) => codec.decodeAny(r))
    return rows.sort((a, b) => a.timestamp - b.timestamp || a.id - b.id)
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
