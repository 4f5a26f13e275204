// The send guard's reads (issue 14): what came into a conversation after the newest
// message an agent had on screen, and the names of whoever wrote it. Message ids grow in
// the order Parley stored the messages, which is the order every stream delivers them,
// so "after what I had on screen" is simply `id > seenMessageId`.
// Units of work (store/unit.ts) for SQLite and PostgreSQL (issue 17): one SQL text per
// dialect, as they read a key of the JSON `context` differently.
import type { MessageDTO } from '../events/types.ts'
import { dtoRowToMessageDTO, MESSAGE_DTO_SELECT } from './dto.ts'
import { all, dialect, get, type Q } from './unit.ts'

// What matters to someone about to reply: the customer's messages, anyone else's
// outbound message (a colleague's reply, the phone app's or the Page inbox's echo, a
// campaign's) and anyone else's note. Not: one's own messages, reactions (either
// way), the automatic away and greeting replies, the team's activity lines.
// A status update changes a row; it adds none, so it is never newer.
const newer = (automaticIsNull: string) => `SELECT ${MESSAGE_DTO_SELECT} FROM messages
  WHERE conversation_id = ? AND id > ? AND type <> 'reaction'
    AND (direction = 'in'
      OR (direction = 'out' AND sender_user_id IS DISTINCT FROM ? AND ${automaticIsNull})
      OR (direction = 'system' AND type = 'note' AND sender_user_id IS DISTINCT FROM ?))
  ORDER BY id DESC LIMIT ?`
// json_extract's NULL (key missing or JSON null) is PostgreSQL's ->> NULL.
const NEWER_SQLITE = newer(`json_extract(context, '$.automatic') IS NULL`)
const NEWER_PG = newer(`(context::jsonb ->> 'automatic') IS NULL`)
const NAME = 'SELECT id, name FROM users WHERE workspace_id = ? AND id = ?'

export class SendGuardRepo {
  /** Up to `limit` messages that matter after `afterId`, oldest first (the newest last). */
  *newerThan(conversationId: number, afterId: number, userId: number, limit: number): Q<MessageDTO[]> {
    const sql = (yield* dialect()) === 'sqlite' ? NEWER_SQLITE : NEWER_PG
    const rows = yield* all<Parameters<typeof dtoRowToMessageDTO>[0]>(sql, [conversationId, afterId, userId, userId, limit])
    return rows.map(dtoRowToMessageDTO).reverse()
  }

  /** The workspace's people among `ids`, id → name (an id of nobody's is left out). */
  *names(workspaceId: number, ids: Iterable<number>): Q<Record<number, string>> {
    const out: Record<number, string> = {}
    for (const id of new Set(ids)) {
      const r = yield* get<{ id: number; name: string }>(NAME, [workspaceId, id])
      if (r) out[r.id] = r.name
    }
    return out
  }
}
