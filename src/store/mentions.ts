// Mentions (issue 14): a row per person named in an internal note. The note itself is a
// messages row (direction `system`, type `note`) written by the inbox writer; this
// repository writes only the mentions and reads the people a note may name. Every read
// that serves a person is limited to the channels they can see now (null: all, an admin),
// so a mention in a channel they have since left disappears from their list and count.
import type Database from 'better-sqlite3'
import type { MentionDTO } from '../events/types.ts'
import type { Db } from './db.ts'
import { Statements } from './prepared.ts'

/** Someone of the workspace as a note's author may name them. */
export interface Mentionable {
  id: number
  name: string
  role: 'admin' | 'agent'
  disabled: boolean
}

const MENTION_DTO_SELECT = `SELECT mn.id, mn.conversation_id, mn.message_id, au.id, au.name, m.text, mn.created_at, mn.read_at,
       ct.id, ct.name, ct.phone
  FROM mentions mn
  JOIN messages m ON m.id = mn.message_id
  JOIN conversations v ON v.id = mn.conversation_id
  JOIN contacts ct ON ct.id = v.contact_id
  LEFT JOIN users au ON au.id = mn.author_id`

function rowToMentionDTO(r: unknown[]): MentionDTO {
  return {
    id: r[0] as number,
    conversationId: r[1] as number,
    messageId: r[2] as number,
    author: r[3] === null ? null : { id: r[3] as number, name: r[4] as string },
    text: (r[5] as string | null) ?? '',
    createdAt: r[6] as number,
    readAt: r[7] as number | null,
    contact: { id: r[8] as number, name: r[9] as string | null, phone: r[10] as string | null },
  }
}

/** The channels a person sees, as SQL: `channelIds` null is every channel. */
const scope = (channelIds: readonly number[] | null) =>
  channelIds === null ? '' : ` AND v.channel_id IN (SELECT value FROM json_each(@channels))`

export class MentionsRepo {
  private readonly peopleStmt: Database.Statement
  private readonly memberStmt: Database.Statement
  private readonly channelNameStmt: Database.Statement
  private readonly insertStmt: Database.Statement
  private readonly byIdStmt: Database.Statement
  private readonly ofMessageStmt: Database.Statement
  private readonly deleteOfMessageStmt: Database.Statement

  // The list's, the count's and the read's SQL has two shapes each (an admin's, an agent's): cached.
  private readonly sql: Statements

  constructor(db: Db) {
    const c = db.$client
    this.sql = new Statements(c)
    this.peopleStmt = c.prepare(
      `SELECT id, name, role, disabled_at IS NOT NULL AS disabled FROM users WHERE workspace_id = ? ORDER BY length(name) DESC, id`,
    )
    this.memberStmt = c.prepare('SELECT 1 FROM channel_members WHERE channel_id = ? AND user_id = ?').pluck()
    this.channelNameStmt = c.prepare('SELECT name FROM channels WHERE id = ?').pluck()
    this.insertStmt = c
      .prepare(
        `INSERT INTO mentions(workspace_id, user_id, conversation_id, message_id, author_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(message_id, user_id) DO NOTHING RETURNING id`,
      )
      .pluck()
    this.byIdStmt = c.prepare(`${MENTION_DTO_SELECT} WHERE mn.id = ?`).raw()
    this.ofMessageStmt = c.prepare('SELECT id, user_id AS userId FROM mentions WHERE message_id = ? ORDER BY id')
    this.deleteOfMessageStmt = c.prepare('DELETE FROM mentions WHERE message_id = ?')
  }

  /** The workspace's people, longest name first (a note's `@Ana Lima` is matched before `@Ana`). */
  people(workspaceId: number): Mentionable[] {
    return (this.peopleStmt.all(workspaceId) as Array<Omit<Mentionable, 'disabled'> & { disabled: number }>).map((p) => ({
      ...p,
      disabled: p.disabled === 1,
    }))
  }

  isMember(channelId: number, userId: number): boolean {
    return this.memberStmt.get(channelId, userId) !== undefined
  }

  channelName(channelId: number): string | undefined {
    return this.channelNameStmt.get(channelId) as string | undefined
  }

  /** In the caller's transaction; undefined when this note already names this person. */
  insert(m: {
    workspaceId: number
    userId: number
    conversationId: number
    messageId: number
    authorId: number
    createdAt: number
  }): MentionDTO | undefined {
    const id = this.insertStmt.get(m.workspaceId, m.userId, m.conversationId, m.messageId, m.authorId, m.createdAt) as number | undefined
    if (id === undefined) return undefined
    return rowToMentionDTO(this.byIdStmt.get(id) as unknown[])
  }

  /** Deletes a note's mentions (before the note itself: they reference it); returns who was named. */
  deleteOfMessage(messageId: number): Array<{ id: number; userId: number }> {
    const rows = this.ofMessageStmt.all(messageId) as Array<{ id: number; userId: number }>
    this.deleteOfMessageStmt.run(messageId)
    return rows
  }

  /** A person's mentions, newest first, in the channels they see; keyset on id. */
  list(
    workspaceId: number,
    userId: number,
    channelIds: readonly number[] | null,
    opts: { limit: number; beforeId?: number },
  ): MentionDTO[] {
    const sql = `${MENTION_DTO_SELECT}
      WHERE mn.workspace_id = @ws AND mn.user_id = @user${opts.beforeId === undefined ? '' : ' AND mn.id < @before'}${scope(channelIds)}
      ORDER BY mn.id DESC LIMIT @limit`
    return (
      this.sql
        .get(sql)
        .raw()
        .all({
          ws: workspaceId,
          user: userId,
          limit: opts.limit,
          ...(opts.beforeId === undefined ? {} : { before: opts.beforeId }),
          ...(channelIds === null ? {} : { channels: JSON.stringify(channelIds) }),
        }) as unknown[][]
    ).map(rowToMentionDTO)
  }

  /** How many of a person's mentions, in the channels they see, are unread. */
  unread(workspaceId: number, userId: number, channelIds: readonly number[] | null): number {
    const sql = `SELECT count(*) FROM mentions mn JOIN conversations v ON v.id = mn.conversation_id
      WHERE mn.workspace_id = @ws AND mn.user_id = @user AND mn.read_at IS NULL${scope(channelIds)}`
    return this.sql
      .get(sql)
      .pluck()
      .get({ ws: workspaceId, user: userId, ...(channelIds === null ? {} : { channels: JSON.stringify(channelIds) }) }) as number
  }

  /** Marks the person's unread mentions read (these ids, or all); returns the ids it changed. */
  markRead(workspaceId: number, userId: number, ids: readonly number[] | null, now: number): number[] {
    const sql = `UPDATE mentions SET read_at = @now
      WHERE workspace_id = @ws AND user_id = @user AND read_at IS NULL${ids === null ? '' : ' AND id IN (SELECT value FROM json_each(@ids))'}
      RETURNING id`
    const changed = this.sql
      .get(sql)
      .pluck()
      .all({ now, ws: workspaceId, user: userId, ...(ids === null ? {} : { ids: JSON.stringify(ids) }) }) as number[]
    return changed.sort((a, b) => a - b)
  }
}
