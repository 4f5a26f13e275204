// The snooze wake-up's reads and its claim (issue 14): the next snooze to end and those
// already due, both on the partial index conversations_snoozed_idx (only snoozed rows
// carry snoozed_until), so the timer costs one index seek however large the inbox is.
// The snooze itself is written by the inbox writer (InboxWriter.snooze).
//
// Units of work (issue 17). With several processes on PostgreSQL every process runs the
// timer, so ending a snooze is a conditional UPDATE (`wake`): of two processes that read
// the same due row, the second's UPDATE waits for the first's row lock, then finds the
// row no longer snoozed and changes nothing — one wake, one line, one event.
import { TableCodec } from './prepared.ts'
import type { ConversationRow } from './rows.ts'
import { conversations } from './schema.ts'
import { all, get, type Q } from './unit.ts'

const codec = new TableCodec<ConversationRow>(conversations)

const NEXT = 'SELECT min(snoozed_until) AS "next" FROM conversations WHERE snoozed_until IS NOT NULL'
// Every workspace's: the timer is the process's, each wake is written in its own workspace.
const DUE = `SELECT ${codec.selectQuoted('v')} FROM conversations v
  WHERE v.snoozed_until IS NOT NULL AND v.snoozed_until <= ? AND v.status = 'snoozed'
  ORDER BY v.snoozed_until, v.id LIMIT ?`
const WAKE = `UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = ?
  WHERE id = ? AND snoozed_until <= ? AND status = 'snoozed'
  RETURNING ${codec.selectQuoted('conversations')}`

export class SnoozeRepo {
  /** When the next snooze ends (ms), or undefined when nothing is snoozed. */
  *nextDue(): Q<number | undefined> {
    return (yield* get<{ next: number | null }>(NEXT))?.next ?? undefined
  }

  /** Snoozed conversations whose time has come, the earliest first. */
  *due(now: number, limit: number): Q<ConversationRow[]> {
    const rows = yield* all(DUE, [now, limit])
    return rows.map((r) => codec.decodeAny(r))
  }

  /**
   * Ends the snooze of a conversation that is still snoozed and due: back to Open. The
   * row as woken, or undefined when it is not (any more): another process woke it, the
   * customer wrote, someone snoozed it again later or changed its status.
   */
  *wake(id: number, now: number): Q<ConversationRow | undefined> {
    const r = yield* get(WAKE, [now, id, now])
    return r === undefined ? undefined : codec.decodeAny(r)
  }
}
