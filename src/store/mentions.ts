// Mentions (issue 14): a row per person named in an internal note. The note itself is a
// messages row (direction `system`, type `note`) written by the inbox writer; this
// repository writes only the mentions and reads the people a note may name. Every read
// that serves a person is limited to the channels they can see now (null: all, an admin),
// so a mention in a channel they have since left disappears from their list and count.
// Units of work (store/unit.ts, issue 17): the same code on SQLite and PostgreSQL; the
// notes domain, still synchronous, runs them with InboxStore.runNow in its transaction.
import type { MentionDTO } from '../events/types.ts'
import type { Dialect } from './conn.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

/** Someone of the workspace as a note's author may name them. */
export interface Mentionable {
  id: number
  name: string
  role: 'admin' | 'agent'
  disabled: boolean
}

interface MentionJoin {
  id: number
  conversationId: number
  messageId: number
  authorId: number | null
  authorName: string | null
  text: string | null
  createdAt: number
  readAt: number | null
  contactId: number
  contactName: string | null
  contactPhone: string | null
}

const MENTION_DTO_SELECT = `SELECT mn.id AS "id", mn.conversation_id AS "conversationId", mn.message_id AS "messageId",
       au.id AS "authorId", au.name AS "authorName", m.text AS "text", mn.created_at AS "createdAt", mn.read_at AS "readAt",
       ct.id AS "contactId", ct.name AS "contactName", ct.phone AS "contactPhone"
  FROM mentions mn
  JOIN messages m ON m.id = mn.message_id
  JOIN conversations v ON v.id = mn.conversation_id
  JOIN contacts ct ON ct.id = v.contact_id
  LEFT JOIN users au ON au.id = mn.author_id`

function toMentionDTO(r: MentionJoin): MentionDTO {
  return {
    id: r.id,
    conversationId: r.conversationId,
    messageId: r.messageId,
    author: r.authorId === null ? null : { id: r.authorId, name: r.authorName as string },
    text: r.text ?? '',
    createdAt: r.createdAt,
    readAt: r.readAt,
    contact: { id: r.contactId, name: r.contactName, phone: r.contactPhone },
  }
}

// A list of ids bound as one parameter: JSON on SQLite, an array on PostgreSQL.
const inList = (d: Dialect) => (d === 'postgres' ? '= ANY(?::bigint[])' : 'IN (SELECT value FROM json_each(?))')
const listParam = (d: Dialect, ids: readonly number[]) => (d === 'postgres' ? [...ids] : JSON.stringify(ids))

/** The channels a person sees, as SQL: `channelIds` null is every channel. */
const scope = (d: Dialect, channelIds: readonly number[] | null) => (channelIds === null ? '' : ` AND v.channel_id ${inList(d)}`)

const PEOPLE = `SELECT id, name, role, disabled_at IS NOT NULL AS disabled FROM users WHERE workspace_id = ? ORDER BY length(name) DESC, id`
const MEMBER = 'SELECT 1 AS "one" FROM channel_members WHERE channel_id = ? AND user_id = ?'
const CHANNEL_NAME = 'SELECT name FROM channels WHERE id = ?'
const INSERT = `INSERT INTO mentions (workspace_id, user_id, conversation_id, message_id, author_id, created_at)
  VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, user_id) DO NOTHING RETURNING id`
const BY_ID = `${MENTION_DTO_SELECT} WHERE mn.id = ?`
const OF_MESSAGE = 'SELECT id, user_id AS "userId" FROM mentions WHERE message_id = ? ORDER BY id'
const DELETE_OF_MESSAGE = 'DELETE FROM mentions WHERE message_id = ?'

// The list's, the count's and the read's SQL has a few shapes each (dialect, an admin's or
// an agent's, a first page or a later one): built once per shape, so each is one fixed text.
const shapes = new Map<string, string>()
function shaped(key: string, build: () => string): string {
  let s = shapes.get(key)
  if (s === undefined) shapes.set(key, (s = build()))
  return s
}

export class MentionsRepo {
  /** The workspace's people, longest name first (a note's `@Ana Lima` is matched before `@Ana`). */
  *people(workspaceId: number): Q<Mentionable[]> {
    const rows = yield* all<Omit<Mentionable, 'disabled'> & { disabled: number | boolean }>(PEOPLE, [workspaceId])
    return rows.map((p) => ({ ...p, disabled: p.disabled === 1 || p.disabled === true }))
  }

  *isMember(channelId: number, userId: number): Q<boolean> {
    return (yield* get(MEMBER, [channelId, userId])) !== undefined
  }

  *channelName(channelId: number): Q<string | undefined> {
    return (yield* get<{ name: string }>(CHANNEL_NAME, [channelId]))?.name
  }

  /** In the caller's transaction; undefined when this note already names this person. */
  *insert(m: {
    workspaceId: number
    userId: number
    conversationId: number
    messageId: number
    authorId: number
    createdAt: number
  }): Q<MentionDTO | undefined> {
    const inserted = yield* get<{ id: number }>(INSERT, [m.workspaceId, m.userId, m.conversationId, m.messageId, m.authorId, m.createdAt])
    if (inserted === undefined) return undefined
    return toMentionDTO((yield* get<MentionJoin>(BY_ID, [inserted.id]))!)
  }

  /** Deletes a note's mentions (before the note itself: they reference it); returns who was named. */
  *deleteOfMessage(messageId: number): Q<Array<{ id: number; userId: number }>> {
    const rows = yield* all<{ id: number; userId: number }>(OF_MESSAGE, [messageId])
    yield* run(DELETE_OF_MESSAGE, [messageId])
    return rows
  }

  /** A person's mentions, newest first, in the channels they see; keyset on id. */
  *list(
    workspaceId: number,
    userId: number,
    channelIds: readonly number[] | null,
    opts: { limit: number; beforeId?: number },
  ): Q<MentionDTO[]> {
    const d = yield* dialect()
    const before = opts.beforeId !== undefined
    const sql = shaped(
      `list|${d}|${before}|${channelIds === null}`,
      () => `${MENTION_DTO_SELECT}
      WHERE mn.workspace_id = ? AND mn.user_id = ?${before ? ' AND mn.id < ?' : ''}${scope(d, channelIds)}
      ORDER BY mn.id DESC LIMIT ?`,
    )
    const params: unknown[] = [workspaceId, userId]
    if (before) params.push(opts.beforeId)
    if (channelIds !== null) params.push(listParam(d, channelIds))
    params.push(opts.limit)
    return (yield* all<MentionJoin>(sql, params)).map(toMentionDTO)
  }

  /** How many of a person's mentions, in the channels they see, are unread. */
  *unread(workspaceId: number, userId: number, channelIds: readonly number[] | null): Q<number> {
    const d = yield* dialect()
    const sql = shaped(
      `unread|${d}|${channelIds === null}`,
      () => `SELECT count(*) AS "n" FROM mentions mn JOIN conversations v ON v.id = mn.conversation_id
      WHERE mn.workspace_id = ? AND mn.user_id = ? AND mn.read_at IS NULL${scope(d, channelIds)}`,
    )
    const params: unknown[] = [workspaceId, userId]
    if (channelIds !== null) params.push(listParam(d, channelIds))
    return Number((yield* get<{ n: number }>(sql, params))!.n)
  }

  /** Marks the person's unread mentions read (these ids, or all); returns the ids it changed, ascending. */
  *markRead(workspaceId: number, userId: number, ids: readonly number[] | null, now: number): Q<number[]> {
    const d = yield* dialect()
    const sql = shaped(
      `read|${d}|${ids === null}`,
      () => `UPDATE mentions SET read_at = ?
      WHERE workspace_id = ? AND user_id = ? AND read_at IS NULL${ids === null ? '' : ` AND id ${inList(d)}`}
      RETURNING id`,
    )
    const params: unknown[] = [now, workspaceId, userId]
    if (ids !== null) params.push(listParam(d, ids))
    return (yield* all<{ id: number }>(sql, params)).map((r) => r.id).sort((a, b) => a - b)
  }
}
