// Conversations: the inbox's reads and writes of the `conversations` table, and the
// conversation DTO reads (joined with the contact, the channel and the last message).
// Units of work (store/unit.ts, issue 17): the same code on SQLite and PostgreSQL; callers
// still synchronous run them with InboxStore.runNow, inside their transaction.
// Every read that serves a user takes the workspace id, which comes from the session.
import type { ChannelKind, ConversationDTO, LabelRef } from '../events/types.ts'
import { anyRowToConversationDTO, CONVERSATION_DTO_SELECTS, type ConversationDTORow } from './dto.ts'
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import type { ConversationRow, NewConversation } from './rows.ts'
import { conversations } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export interface ConversationListOptions {
  limit: number
  before?: { at: number; id: number }
  status?: 'open' | 'pending' | 'snoozed' | 'resolved'
  q?: string
  /** One number or page, or every channel of a kind (the inbox's channel filter). */
  channelId?: number
  kind?: ChannelKind
  /** Only these channels (what the caller may see, issue 13); null or absent: every channel. */
  channelIds?: readonly number[] | null
  /** The inbox's views: assigned to the viewer, or to nobody. Absent: all (within channelIds). */
  view?: 'mine' | 'unassigned'
  /** Only conversations carrying this label (issue 14); composes with every filter above. */
  label?: number
}

/** Who reads: unread is theirs, and `mine` is theirs. */
export interface Viewer {
  userId: number
}

/** The open conversations of each view (GET /api/conversations/counts). */
export interface ViewCounts {
  mine: number
  unassigned: number
  all: number
}

const codec = new TableCodec<ConversationRow>(conversations)

// Fixed SQL texts: SQLite's connection caches its prepared statements by text.
const BY_CHANNEL_CONTACT = `SELECT ${codec.selectQuoted()} FROM conversations WHERE channel_id = ? AND contact_id = ?`
const DTO = {
  sqlite: `${CONVERSATION_DTO_SELECTS.sqlite.all} WHERE v.workspace_id = ? AND v.id = ?`,
  postgres: `${CONVERSATION_DTO_SELECTS.postgres.all} WHERE v.workspace_id = ? AND v.id = ?`,
}
const VIEWER_DTO = {
  sqlite: `${CONVERSATION_DTO_SELECTS.sqlite.viewer} WHERE v.workspace_id = ? AND v.id = ?`,
  postgres: `${CONVERSATION_DTO_SELECTS.postgres.viewer} WHERE v.workspace_id = ? AND v.id = ?`,
}
const CHANNEL_OF = 'SELECT channel_id AS "channelId" FROM conversations WHERE workspace_id = ? AND id = ?'
// A read position only moves forward (two tabs, one behind, cannot un-read): CASE, as
// SQLite's scalar max(a, b) is GREATEST on PostgreSQL. The `WHERE true` keeps SQLite from
// reading ON CONFLICT as a join constraint; the casts type PostgreSQL's parameters in the
// SELECT list (it would take them as text).
const READ_UP_TO = `INSERT INTO conversation_reads (conversation_id, user_id, read_through_id, read_at)
   SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), coalesce(max(id), 0), CAST(? AS BIGINT) FROM messages WHERE conversation_id = ? AND true
   ON CONFLICT (conversation_id, user_id) DO UPDATE
     SET read_through_id = CASE WHEN excluded.read_through_id > conversation_reads.read_through_id
                                THEN excluded.read_through_id ELSE conversation_reads.read_through_id END,
         read_at = excluded.read_at`
const START_READS_SELECT = `INSERT INTO conversation_reads (conversation_id, user_id, read_through_id, read_at)
   SELECT v.id, CAST(? AS BIGINT), coalesce((SELECT max(m.id) FROM messages m WHERE m.conversation_id = v.id), 0), CAST(? AS BIGINT)
     FROM conversations v WHERE `
const START_READS = {
  sqlite: `${START_READS_SELECT} v.channel_id IN (SELECT value FROM json_each(?)) ON CONFLICT (conversation_id, user_id) DO NOTHING`,
  postgres: `${START_READS_SELECT} v.channel_id = ANY(?::bigint[]) ON CONFLICT (conversation_id, user_id) DO NOTHING`,
}
// Open conversations only: the views' counts are the work still to do. count(CASE …):
// PostgreSQL sums no booleans, and count answers a number on both.
const COUNTS = `SELECT count(CASE WHEN v.assignee_id = ? THEN 1 END) AS "mine", count(CASE WHEN v.assignee_id IS NULL THEN 1 END) AS "unassigned",
    count(*) AS "all" FROM conversations v WHERE v.workspace_id = ? AND v.status = 'open'`
const COUNTS_IN = {
  sqlite: `${COUNTS} AND v.channel_id IN (SELECT value FROM json_each(?))`,
  postgres: `${COUNTS} AND v.channel_id = ANY(?::bigint[])`,
}
const EXISTS = 'SELECT 1 AS "one" FROM conversations WHERE workspace_id = ? AND id = ?'
const STATUS = 'SELECT status FROM conversations WHERE workspace_id = ? AND id = ?'
// PostgreSQL: the row stays locked until the transaction ends, so a concurrent status change
// waits and then reads the status this one wrote. SQLite has no FOR UPDATE, nor needs it: its
// write transactions (BEGIN IMMEDIATE) run one at a time.
const STATUS_FOR_UPDATE = { sqlite: STATUS, postgres: `${STATUS} FOR UPDATE` }
const IDS_BY_CONTACT = 'SELECT id FROM conversations WHERE workspace_id = ? AND contact_id = ? ORDER BY id'
// COLLATE "C" on PostgreSQL: byte order, as SQLite's default collation orders the names.
const LABELS_OF = {
  sqlite: `SELECT l.id, l.name, l.color FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
            WHERE cl.conversation_id = ? ORDER BY l.name, l.id`,
  postgres: `SELECT l.id, l.name, l.color FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
            WHERE cl.conversation_id = ? ORDER BY l.name COLLATE "C", l.id`,
}
const MARK_READ = `UPDATE conversations SET unread_count = 0, updated_at = ? WHERE workspace_id = ? AND id = ? AND unread_count > 0
  RETURNING ${codec.selectQuoted()}`

// The list's statements, by dialect and shape (the combination of filters): built once each.
const listSql = { sqlite: new Map<string, string>(), postgres: new Map<string, string>() }

export class ConversationsRepo {
  /** A conversation's labels (issue 14), ordered by name as the DTO carries them. */
  *labelsOf(conversationId: number): Q<LabelRef[]> {
    return yield* all<LabelRef>(LABELS_OF[yield* dialect()], [conversationId])
  }

  *conversationByChannelContact(channelId: number, contactId: number): Q<ConversationRow | undefined> {
    const row = yield* get(BY_CHANNEL_CONTACT, [channelId, contactId])
    return row === undefined ? undefined : codec.decodeAny(row)
  }

  *findOrOpenConversation(workspaceId: number, channelId: number, contactId: number, now: number): Q<ConversationRow> {
    const found = yield* this.conversationByChannelContact(channelId, contactId)
    if (found !== undefined) return found
    // Another process may open it between the read and the insert (PostgreSQL): then the
    // insert writes nothing and the row is theirs (no unique violation, which would abort
    // the transaction).
    const opened = yield* insertRow(
      codec,
      { workspaceId, channelId, contactId, lastActivityAt: now, createdAt: now, updatedAt: now },
      '(channel_id, contact_id) DO NOTHING',
    )
    return opened ?? (yield* this.conversationByChannelContact(channelId, contactId))!
  }

  *updateConversation(id: number, set: Partial<NewConversation>): Q<ConversationRow> {
    return (yield* updateRowById(codec, id, set))!
  }

  /** The contact's conversations in this workspace, oldest first (one per channel it wrote to). */
  *conversationIdsOfContact(workspaceId: number, contactId: number): Q<number[]> {
    return (yield* all<{ id: number }>(IDS_BY_CONTACT, [workspaceId, contactId])).map((r) => r.id)
  }

  *conversationDTO(workspaceId: number, id: number): Q<ConversationDTO | undefined> {
    const row = yield* get<ConversationDTORow | { r: string }>(DTO[yield* dialect()], [workspaceId, id])
    return row === undefined ? undefined : anyRowToConversationDTO(row)
  }

  /** The conversation as this person sees it: their own unread count. */
  *conversationDTOFor(viewer: Viewer, workspaceId: number, id: number): Q<ConversationDTO | undefined> {
    const row = yield* get<ConversationDTORow | { r: string }>(VIEWER_DTO[yield* dialect()], [viewer.userId, workspaceId, id])
    return row === undefined ? undefined : anyRowToConversationDTO(row)
  }

  /** The conversation's channel, if it is in this workspace: what access is checked against. */
  *channelOf(workspaceId: number, id: number): Q<number | undefined> {
    return (yield* get<{ channelId: number }>(CHANNEL_OF, [workspaceId, id]))?.channelId
  }

  /** Moves this person's read position to the newest message of the conversation (never back). */
  *readUpTo(conversationId: number, userId: number, now: number): Q<void> {
    yield* run(READ_UP_TO, [conversationId, userId, now, conversationId])
  }

  /**
   * A person who joins channels starts with their conversations read (issue 13: unread
   * counts what arrives after you joined, not the channel's history). Keeps a read
   * position already there. For the code that adds members (Settings → Team).
   */
  *startReadsAt(userId: number, channelIds: readonly number[], now: number): Q<void> {
    const d = yield* dialect()
    yield* run(START_READS[d], [userId, now, d === 'sqlite' ? JSON.stringify(channelIds) : channelIds])
  }

  /** Open conversations per view, within these channels (null: every channel). */
  *viewCounts(workspaceId: number, viewer: Viewer, channelIds: readonly number[] | null): Q<ViewCounts> {
    const params: unknown[] = [viewer.userId, workspaceId]
    let sql = COUNTS
    if (channelIds !== null) {
      const d = yield* dialect()
      sql = COUNTS_IN[d]
      params.push(d === 'sqlite' ? JSON.stringify(channelIds) : channelIds)
    }
    const row = (yield* get<ViewCounts>(sql, params))!
    return { mine: row.mine, unassigned: row.unassigned, all: row.all }
  }

  /** Whether the conversation exists in this workspace (the message list's 404 check). */
  *conversationExists(workspaceId: number, id: number): Q<boolean> {
    return (yield* get(EXISTS, [workspaceId, id])) !== undefined
  }

  /**
   * Most recent activity first; keyset pagination on (last_activity_at, id). With a
   * viewer, each row's unread count is theirs; the channel and view filters are part of
   * the query, so a page is exactly `limit` rows of what the caller may see.
   */
  *listConversationDTOs(workspaceId: number, opts: ConversationListOptions, viewer?: Viewer): Q<ConversationDTO[]> {
    const d = yield* dialect()
    // One SQL text per combination of filters (at most 2^9 × 2 shapes), built once, not
    // per request: drizzle's builder re-built and re-prepared this SQL on every call
    // (profiled: more time than SQLite spent running it).
    const where = ['v.workspace_id = ?']
    const params: unknown[] = viewer ? [viewer.userId, workspaceId] : [workspaceId]
    let shape = viewer ? 'V' : ''
    if (opts.channelIds) {
      // One statement for any list of channels (a list of `?` would be one per length).
      if (d === 'sqlite') {
        where.push('v.channel_id IN (SELECT value FROM json_each(?))')
        params.push(JSON.stringify(opts.channelIds))
      } else {
        where.push('v.channel_id = ANY(?::bigint[])')
        params.push(opts.channelIds)
      }
      shape += 'a'
    }
    if (opts.view === 'mine') {
      if (!viewer) throw new Error('listConversationDTOs: the mine view needs a viewer')
      where.push('v.assignee_id = ?')
      params.push(viewer.userId)
      shape += 'm'
    } else if (opts.view === 'unassigned') {
      where.push('v.assignee_id IS NULL')
      shape += 'u'
    }
    if (opts.status) {
      where.push('v.status = ?')
      params.push(opts.status)
      shape += 's'
    }
    if (opts.channelId !== undefined) {
      where.push('v.channel_id = ?')
      params.push(opts.channelId)
      shape += 'c'
    }
    if (opts.label !== undefined) {
      // Walks conversation_labels_label_idx (label → conversations); another workspace's
      // label id finds nothing here, as v.workspace_id is the caller's.
      where.push('v.id IN (SELECT cl.conversation_id FROM conversation_labels cl WHERE cl.label_id = ?)')
      params.push(opts.label)
      shape += 'l'
    }
    if (opts.kind) {
      where.push('ch.kind = ?')
      params.push(opts.kind)
      shape += 'k'
    }
    const search = opts.q ? contactSearch(opts.q) : undefined
    if (search) {
      where.push(search.sql)
      params.push(...search.params)
      shape += search.shape
    }
    if (opts.before) {
      // A row value, not `a < x OR (a = x AND id < y)`: SQLite seeks the
      // (workspace, last_activity_at, id) index with it; the OR form scans (20 ms
      // instead of 3 ms for a deep page of 100,000 conversations).
      where.push('(v.last_activity_at, v.id) < (?, ?)')
      params.push(opts.before.at, opts.before.id)
      shape += 'b'
    }
    let sql = listSql[d].get(shape)
    if (sql === undefined) {
      const select = CONVERSATION_DTO_SELECTS[d][viewer ? 'viewer' : 'all']
      sql = `${select} WHERE ${where.join(' AND ')}
            ORDER BY v.last_activity_at DESC, v.id DESC LIMIT ?`
      listSql[d].set(shape, sql)
    }
    params.push(opts.limit)
    return (yield* all<ConversationDTORow | { r: string }>(sql, params)).map(anyRowToConversationDTO)
  }

  /**
   * Sets open / pending / resolved; undefined when the conversation is not in this workspace or
   * already has that status (nothing to record). Only status (a snooze ends with it): the
   * preview, unread count, window and ordering stay as they are.
   */
  /** The status, with the row locked for this transaction on PostgreSQL; undefined if not in this workspace. */
  *statusForUpdate(workspaceId: number, id: number): Q<string | undefined> {
    return (yield* get<{ status: string }>(STATUS_FOR_UPDATE[yield* dialect()], [workspaceId, id]))?.status
  }

  *setConversationStatus(
    workspaceId: number,
    id: number,
    status: 'open' | 'pending' | 'resolved',
    now: number,
  ): Q<ConversationRow | undefined> {
    const cur = yield* get<{ status: string }>(STATUS, [workspaceId, id])
    if (!cur || cur.status === status) return undefined
    return yield* this.updateConversation(id, { status, snoozedUntil: null, updatedAt: now })
  }

  /**
   * Clears the conversation's own unread count (the one events carry: since anyone last
   * read it); returns undefined if not in this workspace or already 0. Each person's
   * count is their read position (readUpTo).
   */
  *markConversationRead(workspaceId: number, id: number, now: number): Q<ConversationRow | undefined> {
    const row = yield* get(MARK_READ, [now, workspaceId, id])
    return row === undefined ? undefined : codec.decodeAny(row)
  }
}

/**
 * Search by contact name or number. A query that looks like a phone number matches
 * on its digits ("+49 151-23" finds 4915123…); LIKE wildcards typed by the agent are
 * matched literally. lower() on both sides: SQLite's LIKE ignores ASCII case,
 * PostgreSQL's does not.
 */
function contactSearch(raw: string): { sql: string; params: string[]; shape: string } | undefined {
  const q = raw.trim()
  if (!q) return undefined
  const like = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const digits = q.replace(/\D/g, '')
  const byName = `lower(ct.name) LIKE lower(?) ESCAPE '\\'`
  if (/^[\d\s+()./-]+$/.test(q) && digits) {
    return {
      sql: `(${byName} OR ct.phone LIKE ? OR ct.external_id LIKE ?)`,
      params: [like(q), like(digits), like(digits)],
      shape: 'p',
    }
  }
  return { sql: byName, params: [like(q)], shape: 'n' }
}
