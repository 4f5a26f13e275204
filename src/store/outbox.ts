// The outbox's rows: one per outbound message, moved through its state machine by
// domain/sending/outbox.ts. Units of work (store/unit.ts), the same answers on SQLite and
// PostgreSQL (issue 17): the domain runs each transition inside its own transaction, and
// the worker's HTTP calls between them. Plain SQL texts, so each is prepared once per
// connection (conn.ts caches them): the worker's polling reads run on every wake-up.
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import { outbox } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export type OutboxRow = typeof outbox.$inferSelect
export type NewOutboxRow = typeof outbox.$inferInsert

const codec = new TableCodec<OutboxRow>(outbox)
const COLS = codec.selectQuoted('outbox')

/** Thrown when anything but an outbound message is given an outbox row (issue 14): a bug, never a send. */
export class OutboxRowRefused extends Error {
  readonly code = 'OUTBOX_NOT_OUTBOUND'
  constructor(messageId: unknown, direction: string | undefined) {
    super(`outbox: message ${messageId} is not outbound (${direction ?? 'missing'}); refused`)
    this.name = 'OutboxRowRefused'
  }
}

// PostgreSQL's clock in Unix ms, read when the statement runs: leases are set and judged by
// the database every process shares, never by one process's own clock (scale-out.md §3).
const PG_NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint'

const DIRECTION = 'SELECT direction FROM messages WHERE id = ?'
const BY_ID = `SELECT ${COLS} FROM outbox WHERE id = ?`
// PostgreSQL: the row stays locked until the transaction ends, so a concurrent transition of
// it (the worker's answer, a status webhook's reconcile) waits, then reads what this one
// wrote. SQLite has no FOR UPDATE, nor needs it: its write transactions run one at a time.
const BY_ID_FOR_UPDATE = { sqlite: BY_ID, postgres: `${BY_ID} FOR UPDATE` }
const BY_MESSAGE = `SELECT ${COLS} FROM outbox WHERE message_id = ?`
const BY_MESSAGE_FOR_UPDATE = { sqlite: BY_MESSAGE, postgres: `${BY_MESSAGE} FOR UPDATE` }
// The worker serves channels in this order: the one waiting longest first, as SQLite's scan of
// outbox_state_due_idx gave them before, now said (PostgreSQL's DISTINCT promises no order).
const DUE_CHANNELS = `SELECT channel_id AS "channelId" FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?
  GROUP BY channel_id ORDER BY min(next_attempt_at), channel_id`
const NEXT_DUE = `SELECT min(next_attempt_at) AS at FROM outbox WHERE state = 'queued' AND next_attempt_at > ?`
// One send in flight per conversation, oldest first: a customer reads replies in the
// order agents wrote them (Meta does not guarantee order across concurrent sends).
// Agents' replies (priority 0) before campaign messages (1): a broadcast shares the
// number's rate but never makes a customer wait for an answer.
const CLAIMABLE_WHERE = `o.channel_id = ? AND o.state = 'queued' AND o.next_attempt_at <= ?
          AND NOT EXISTS (SELECT 1 FROM outbox p
                           WHERE p.conversation_id = o.conversation_id AND p.id < o.id
                             AND p.state IN ('queued', 'sending'))`
const CLAIMABLE = `SELECT o.id FROM outbox o WHERE ${CLAIMABLE_WHERE} ORDER BY o.priority, o.id LIMIT ?`
const SENDING_ALL = `SELECT id FROM outbox WHERE state = 'sending' ORDER BY id`
const SENDING_BEFORE = `SELECT id FROM outbox WHERE state = 'sending' AND lease_until < ? ORDER BY id`
const CLAIM_ROW = `UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?, updated_at = ?
  WHERE id = ? AND state = 'queued' RETURNING ${COLS}`
// The claim of several processes (PostgreSQL). Each candidate is locked FOR UPDATE SKIP
// LOCKED: a row another claimer holds is passed over at once (never waited for, never taken
// twice), and a row another claimer already committed as `sending` fails the re-check of
// `state = 'queued'` that PostgreSQL makes on the row's newest version. One in flight per
// conversation holds across processes because the only claimable row of a conversation is
// its oldest queued-or-sending one: while one claimer holds (or has committed) that row,
// every other claimer still sees it queued or sending, so the conversation's later rows
// stay unclaimable for it — the lock on the oldest row is the lock on the conversation.
const CLAIM_DUE_PG = `WITH picked AS (
    SELECT o.id FROM outbox o WHERE ${CLAIMABLE_WHERE}
     ORDER BY o.priority, o.id LIMIT ? FOR UPDATE OF o SKIP LOCKED)
  UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ${PG_NOW_MS} + ?, updated_at = ?
    FROM picked WHERE outbox.id = picked.id AND outbox.state = 'queued'
  RETURNING ${COLS}`
// Leases that ran out. SQLite: by the one process's clock, as the lease was set. PostgreSQL:
// by the database's, and locked (SKIP LOCKED: a row another process is expiring or settling
// right now is its business) so the caller's transition in the same transaction is the only one.
const EXPIRED_SQLITE = `SELECT ${COLS} FROM outbox WHERE state = 'sending' AND lease_until < ? ORDER BY id`
const EXPIRED_PG = `SELECT ${COLS} FROM outbox WHERE state = 'sending' AND lease_until < ${PG_NOW_MS} ORDER BY id FOR UPDATE SKIP LOCKED`

// A sender renews the leases of its sends in flight (outbox-worker.ts): only rows still
// `sending`; on PostgreSQL by the database's clock, in id order, passing over a row being
// settled right now (its lease no longer matters).
const RENEW_SQLITE = `UPDATE outbox SET lease_until = ? WHERE state = 'sending' AND id IN (SELECT value FROM json_each(?))`
const RENEW_PG = `UPDATE outbox SET lease_until = ${PG_NOW_MS} + ?
  WHERE id IN (SELECT id FROM outbox WHERE state = 'sending' AND id = ANY(?::bigint[]) ORDER BY id FOR UPDATE SKIP LOCKED)`

const byPriorityThenId = (a: OutboxRow, b: OutboxRow) => a.priority - b.priority || a.id - b.id

export class OutboxRepo {
  /**
   * Issue 14: a row only for an outbound message — the second line of the rule the
   * domain's enqueue states (a note, a system line, a customer's message can never be
   * sent), checked here so no other caller can get past it either.
   */
  *insert(values: NewOutboxRow): Q<OutboxRow> {
    const direction = (yield* get<{ direction: string }>(DIRECTION, [values.messageId]))?.direction
    if (direction !== 'out') throw new OutboxRowRefused(values.messageId, direction)
    return (yield* insertRow(codec, values as Record<string, unknown>))!
  }

  *byId(id: number): Q<OutboxRow | undefined> {
    const row = yield* get<OutboxRow>(BY_ID, [id])
    return row && codec.decodeAny(row)
  }

  /** byId for a transition: on PostgreSQL the row is locked until the transaction ends. */
  *lockById(id: number): Q<OutboxRow | undefined> {
    const row = yield* get<OutboxRow>(BY_ID_FOR_UPDATE[yield* dialect()], [id])
    return row && codec.decodeAny(row)
  }

  *byMessage(messageId: number): Q<OutboxRow | undefined> {
    const row = yield* get<OutboxRow>(BY_MESSAGE, [messageId])
    return row && codec.decodeAny(row)
  }

  /** byMessage for a transition: on PostgreSQL the row is locked until the transaction ends. */
  *lockByMessage(messageId: number): Q<OutboxRow | undefined> {
    const row = yield* get<OutboxRow>(BY_MESSAGE_FOR_UPDATE[yield* dialect()], [messageId])
    return row && codec.decodeAny(row)
  }

  /** Channels with a queued row due by `now`, by id. */
  *dueChannels(now: number): Q<number[]> {
    return (yield* all<{ channelId: number }>(DUE_CHANNELS, [now])).map((r) => r.channelId)
  }

  /** Earliest future retry. */
  *nextDueAt(now: number): Q<number | null> {
    const at = (yield* get<{ at: number | null }>(NEXT_DUE, [now]))?.at ?? null
    return at === null ? null : Number(at)
  }

  /** Up to `limit` ids of this channel that may be sent now, in send order. */
  *claimableIds(channelId: number, now: number, limit: number): Q<number[]> {
    return (yield* all<{ id: number }>(CLAIMABLE, [channelId, now, limit])).map((r) => r.id)
  }

  /** Rows in `sending`, by id; with `leaseBefore`, only those whose lease ran out before it. */
  *sendingIds(leaseBefore: number | null): Q<number[]> {
    const rows = leaseBefore === null ? yield* all<{ id: number }>(SENDING_ALL) : yield* all<{ id: number }>(SENDING_BEFORE, [leaseBefore])
    return rows.map((r) => r.id)
  }

  /** queued → sending with a lease, counting the attempt; undefined if the row is no longer queued. */
  *claimRow(id: number, leaseUntil: number, now: number): Q<OutboxRow | undefined> {
    const row = yield* get<OutboxRow>(CLAIM_ROW, [leaseUntil, now, id])
    return row && codec.decodeAny(row)
  }

  /**
   * Claims what this channel may send now — up to `limit` rows, oldest first per
   * conversation, replies before campaigns, one in flight per conversation — and moves them
   * queued → sending (attempt + 1, lease of `leaseMs`), in send order. SQLite (one process,
   * inside BEGIN IMMEDIATE): the claimable ids, then each row, leased by `now`. PostgreSQL:
   * one statement, safe with several processes claiming at once (CLAIM_DUE_PG), the lease
   * on the database's clock. `now` judges what is due on both (retry times are set by it).
   */
  *claimDue(channelId: number, now: number, limit: number, leaseMs: number): Q<OutboxRow[]> {
    if (limit <= 0) return []
    if ((yield* dialect()) === 'postgres') {
      const rows = yield* all<OutboxRow>(CLAIM_DUE_PG, [channelId, now, limit, leaseMs, now])
      return rows.map((r) => codec.decodeAny(r)).sort(byPriorityThenId)
    }
    const claimed: OutboxRow[] = []
    for (const id of yield* this.claimableIds(channelId, now, limit)) {
      const row = yield* this.claimRow(id, now + leaseMs, now)
      if (row) claimed.push(row)
    }
    return claimed
  }

  /**
   * Rows in `sending` whose lease ran out, by id: their process died or never got an answer
   * in time, so the caller turns them `unknown` in the same transaction (never resent).
   * SQLite: judged by `now` (the one process's clock, which set the lease). PostgreSQL: by
   * the database's clock, whatever `now` says, and each row locked for the caller's update.
   */
  *expireLeases(now: number): Q<OutboxRow[]> {
    const rows = (yield* dialect()) === 'postgres' ? yield* all<OutboxRow>(EXPIRED_PG) : yield* all<OutboxRow>(EXPIRED_SQLITE, [now])
    return rows.map((r) => codec.decodeAny(r))
  }

  /** Extends the leases of the given rows still `sending` to `leaseMs` from now; returns how many. */
  *renewLeases(ids: readonly number[], now: number, leaseMs: number): Q<number> {
    if (ids.length === 0) return 0
    if ((yield* dialect()) === 'postgres') return (yield* run(RENEW_PG, [leaseMs, [...ids]])).changes
    return (yield* run(RENEW_SQLITE, [now + leaseMs, JSON.stringify(ids)])).changes
  }

  *update(id: number, set: Partial<NewOutboxRow>): Q<void> {
    yield* updateRowById(codec, id, set as Record<string, unknown>)
  }
}
