// What a webhook carried that Parley could not place yet: raw payloads it keeps rather
// than drops (unknown channel, unknown shape, an ingest that failed), and statuses that
// arrived before their message (applied when the message's id appears). Units of work
// (store/unit.ts, issue 17): the same SQL on SQLite and PostgreSQL. The ingest tells the
// metrics of each payload kept (whatsapp-ingest.ts keepRawUnit).
import { TableCodec } from './prepared.ts'
import { pendingStatuses } from './schema.ts'
import { all, type Q, run } from './unit.ts'

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

/** Keeps a webhook payload (or part of one) whole, with why it was not ingested: the unit. */
export function* rawWebhook(provider: string, reason: string, body: unknown): Q<void> {
  yield* run(INSERT_RAW, [provider, reason, typeof body === 'string' ? body : JSON.stringify(body)])
}

export class PendingStatuses {
  /** A status for a message not stored (yet); a duplicate of one already kept is ignored. */
  *keep(p: { channelId: number; providerMessageId: string; status: string; timestamp: number; raw: unknown }): Q<void> {
    const raw = p.raw === undefined || p.raw === null ? null : JSON.stringify(p.raw)
    yield* run(KEEP, [p.channelId, p.providerMessageId, p.status, p.timestamp, raw])
  }

  /** The statuses kept for this message, oldest first (then in arrival order), removed from the table. */
  *take(channelId: number, providerMessageId: string): Q<PendingStatusRow[]> {
    const rows = (yield* all(TAKE, [channelId, providerMessageId])).map((r) => codec.decodeAny(r))
    return rows.sort((a, b) => a.timestamp - b.timestamp || a.id - b.id)
  }
}
