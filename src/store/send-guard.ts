// The send guard's reads (issue 14): what came into a conversation after the newest
// message an agent had on screen, and the names of whoever wrote it. Message ids grow in
// the order Parley stored the messages, which is the order every stream delivers them,
// so "after what I had on screen" is simply `id > seenMessageId`.
import type Database from 'better-sqlite3'
import type { MessageDTO } from '../events/types.ts'
import type { Db } from './db.ts'
import { MESSAGE_DTO_COLUMNS, rowToMessageDTO } from './dto.ts'

export class SendGuardRepo {
  private readonly newerStmt: Database.Statement
  private readonly namesStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    // What matters to someone about to reply: the customer's messages, anyone else's
    // outbound message (a colleague's reply, the phone app's or the Page inbox's echo, a
    // campaign's) and anyone else's note. Not: one's own messages, reactions (either
    // way), the automatic away and greeting replies, the team's activity lines.
    // A status update changes a row; it adds none, so it is never newer.
    this.newerStmt = c
      .prepare(
        `SELECT ${MESSAGE_DTO_COLUMNS} FROM messages
          WHERE conversation_id = ? AND id > ? AND type <> 'reaction'
            AND (direction = 'in'
              OR (direction = 'out' AND sender_user_id IS NOT ? AND json_extract(context, '$.automatic') IS NULL)
              OR (direction = 'system' AND type = 'note' AND sender_user_id IS NOT ?))
          ORDER BY id DESC LIMIT ?`,
      )
      .raw()
    this.namesStmt = c.prepare('SELECT id, name FROM users WHERE workspace_id = ? AND id = ?')
  }

  /** Up to `limit` messages that matter after `afterId`, oldest first (the newest last). */
  newerThan(conversationId: number, afterId: number, userId: number, limit: number): MessageDTO[] {
    const rows = this.newerStmt.all(conversationId, afterId, userId, userId, limit) as unknown[][]
    return rows.map(rowToMessageDTO).reverse()
  }

  /** The workspace's people among `ids`, id → name (an id of nobody's is left out). */
  names(workspaceId: number, ids: Iterable<number>): Record<number, string> {
    const out: Record<number, string> = {}
    for (const id of new Set(ids)) {
      const r = this.namesStmt.get(workspaceId, id) as { id: number; name: string } | undefined
      if (r) out[r.id] = r.name
    }
    return out
  }
}
