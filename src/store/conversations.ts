// Conversations: the inbox's reads and writes of the `conversations` table, and the
// conversation DTO reads (joined with the contact, the channel and the last message).
// Synchronous, over one connection: callers run the writes inside their transaction.
// Every read that serves a user takes the workspace id, which comes from the session.
import type Database from 'better-sqlite3'
import { and, eq, sql } from 'drizzle-orm'
import type { ChannelKind, ConversationDTO, LabelRef } from '../events/types.ts'
import type { Db } from './db.ts'
import { CONVERSATION_DTO_SELECT, rowToConversationDTO, VIEWER_CONVERSATION_DTO_SELECT, type ConversationDTORow } from './dto.ts'
import { Statements, TableCodec } from './prepared.ts'
import type { ConversationRow, NewConversation } from './rows.ts'
import { conversations } from './schema.ts'

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

export class ConversationsRepo {
  private readonly sql: Statements
  private readonly codec = new TableCodec<ConversationRow>(conversations)
  // Statements prepared once (a typo in their SQL fails at startup).
  private readonly byChannelContactStmt: Database.Statement
  private readonly dtoStmt: Database.Statement
  private readonly viewerDtoStmt: Database.Statement
  private readonly channelOfStmt: Database.Statement
  private readonly readUpToStmt: Database.Statement
  private readonly startReadsStmt: Database.Statement
  private readonly countsAllStmt: Database.Statement
  private readonly countsInStmt: Database.Statement
  private readonly existsStmt: Database.Statement
  private readonly statusStmt: Database.Statement
  private readonly idsByContactStmt: Database.Statement
  private readonly labelsOfStmt: Database.Statement
  private readonly listStmts = new Map<string, Database.Statement>()

  constructor(private readonly db: Db) {
    const c = db.$client
    this.sql = new Statements(c)
    this.byChannelContactStmt = c.prepare(`SELECT ${this.codec.select()} FROM conversations WHERE channel_id = ? AND contact_id = ?`)
    this.dtoStmt = c.prepare(`${CONVERSATION_DTO_SELECT} WHERE v.workspace_id = ? AND v.id = ?`).raw()
    this.viewerDtoStmt = c.prepare(`${VIEWER_CONVERSATION_DTO_SELECT} WHERE v.workspace_id = ? AND v.id = ?`).raw()
    this.channelOfStmt = c.prepare('SELECT channel_id AS channelId FROM conversations WHERE workspace_id = ? AND id = ?')
    // A read position only moves forward (two tabs, one behind, cannot un-read). The
    // `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.
    this.readUpToStmt = c.prepare(
      `INSERT INTO conversation_reads (conversation_id, user_id, read_through_id, read_at)
         SELECT @conversation, @user, coalesce(max(id), 0), @now FROM messages WHERE conversation_id = @conversation AND true
         ON CONFLICT (conversation_id, user_id) DO UPDATE
           SET read_through_id = max(read_through_id, excluded.read_through_id), read_at = excluded.read_at`,
    )
    this.startReadsStmt = c.prepare(
      `INSERT INTO conversation_reads (conversation_id, user_id, read_through_id, read_at)
         SELECT v.id, @user, coalesce((SELECT max(m.id) FROM messages m WHERE m.conversation_id = v.id), 0), @now
           FROM conversations v WHERE v.channel_id IN (SELECT value FROM json_each(@channels))
         ON CONFLICT (conversation_id, user_id) DO NOTHING`,
    )
    // Open conversations only: the views' counts are the work still to do.
    const counts = `SELECT coalesce(sum(v.assignee_id = @viewer), 0), coalesce(sum(v.assignee_id IS NULL), 0), count(*)
                      FROM conversations v WHERE v.workspace_id = @ws AND v.status = 'open'`
    this.countsAllStmt = c.prepare(counts).raw()
    this.countsInStmt = c.prepare(`${counts} AND v.channel_id IN (SELECT value FROM json_each(@channels))`).raw()
    this.existsStmt = c.prepare('SELECT 1 FROM conversations WHERE workspace_id = ? AND id = ?')
    this.statusStmt = c.prepare('SELECT status FROM conversations WHERE workspace_id = ? AND id = ?')
    this.idsByContactStmt = c.prepare('SELECT id FROM conversations WHERE workspace_id = ? AND contact_id = ? ORDER BY id')
    this.labelsOfStmt = c.prepare(
      `SELECT l.id, l.name, l.color FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
        WHERE cl.conversation_id = ? ORDER BY l.name, l.id`,
    )
  }

  /** A conversation's labels (issue 14), ordered by name as the DTO carries them. */
  labelsOf(conversationId: number): LabelRef[] {
    return this.labelsOfStmt.all(conversationId) as LabelRef[]
  }

  conversationByChannelContact(channelId: number, contactId: number): ConversationRow | undefined {
    const row = this.byChannelContactStmt.get(channelId, contactId)
    return row === undefined ? undefined : this.codec.decode(row)
  }

  findOrOpenConversation(workspaceId: number, channelId: number, contactId: number, now: number): ConversationRow {
    const found = this.conversationByChannelContact(channelId, contactId)
    if (found !== undefined) return found
    return this.sql.insert(this.codec, {
      workspaceId,
      channelId,
      contactId,
      lastActivityAt: now,
      createdAt: now,
      updatedAt: now,
    })!
  }

  updateConversation(id: number, set: Partial<NewConversation>): ConversationRow {
    return this.sql.updateById(this.codec, id, set)!
  }

  /** The contact's conversations in this workspace, oldest first (one per channel it wrote to). */
  conversationIdsOfContact(workspaceId: number, contactId: number): number[] {
    return (this.idsByContactStmt.all(workspaceId, contactId) as { id: number }[]).map((r) => r.id)
  }

  conversationDTO(workspaceId: number, id: number): ConversationDTO | undefined {
    const row = this.dtoStmt.get(workspaceId, id) as ConversationDTORow | undefined
    return row === undefined ? undefined : rowToConversationDTO(row)
  }

  /** The conversation as this person sees it: their own unread count. */
  conversationDTOFor(viewer: Viewer, workspaceId: number, id: number): ConversationDTO | undefined {
    const row = this.viewerDtoStmt.get({ viewer: viewer.userId }, workspaceId, id) as ConversationDTORow | undefined
    return row === undefined ? undefined : rowToConversationDTO(row)
  }

  /** The conversation's channel, if it is in this workspace: what access is checked against. */
  channelOf(workspaceId: number, id: number): number | undefined {
    return (this.channelOfStmt.get(workspaceId, id) as { channelId: number } | undefined)?.channelId
  }

  /** Moves this person's read position to the newest message of the conversation (never back). */
  readUpTo(conversationId: number, userId: number, now: number): void {
    this.readUpToStmt.run({ conversation: conversationId, user: userId, now })
  }

  /**
   * A person who joins channels starts with their conversations read (issue 13: unread
   * counts what arrives after you joined, not the channel's history). Keeps a read
   * position already there. For the code that adds members (Settings → Team).
   */
  startReadsAt(userId: number, channelIds: readonly number[], now: number): void {
    this.startReadsStmt.run({ user: userId, channels: JSON.stringify(channelIds), now })
  }

  /** Open conversations per view, within these channels (null: every channel). */
  viewCounts(workspaceId: number, viewer: Viewer, channelIds: readonly number[] | null): ViewCounts {
    const named = { ws: workspaceId, viewer: viewer.userId }
    const row = (
      channelIds === null ? this.countsAllStmt.get(named) : this.countsInStmt.get({ ...named, channels: JSON.stringify(channelIds) })
    ) as [number, number, number]
    return { mine: row[0], unassigned: row[1], all: row[2] }
  }

  /** Whether the conversation exists in this workspace (the message list's 404 check). */
  conversationExists(workspaceId: number, id: number): boolean {
    return this.existsStmt.get(workspaceId, id) !== undefined
  }

  /**
   * Most recent activity first; keyset pagination on (last_activity_at, id). With a
   * viewer, each row's unread count is theirs; the channel and view filters are part of
   * the query, so a page is exactly `limit` rows of what the caller may see.
   */
  listConversationDTOs(workspaceId: number, opts: ConversationListOptions, viewer?: Viewer): ConversationDTO[] {
    // Prepared once per combination of filters (at most 2^9 × 2 shapes), not per
    // request: drizzle's builder re-built and re-prepared this SQL on every call
    // (profiled: more time than SQLite spent running it).
    const where = ['v.workspace_id = ?']
    const params: unknown[] = [workspaceId]
    let shape = viewer ? 'V' : ''
    if (opts.channelIds) {
      // One statement for any list of channels (a list of `?` would be one per length).
      where.push('v.channel_id IN (SELECT value FROM json_each(?))')
      params.push(JSON.stringify(opts.channelIds))
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
    let stmt = this.listStmts.get(shape)
    if (!stmt) {
      stmt = this.db.$client
        .prepare(
          `${viewer ? VIEWER_CONVERSATION_DTO_SELECT : CONVERSATION_DTO_SELECT} WHERE ${where.join(' AND ')}
            ORDER BY v.last_activity_at DESC, v.id DESC LIMIT ?`,
        )
        .raw()
      this.listStmts.set(shape, stmt)
    }
    params.push(opts.limit)
    const rows = (viewer ? stmt.all({ viewer: viewer.userId }, ...params) : stmt.all(...params)) as ConversationDTORow[]
    return rows.map(rowToConversationDTO)
  }

  /**
   * Sets open / pending / resolved; undefined when the conversation is not in this workspace or
   * already has that status (nothing to record). Only status (a snooze ends with it): the
   * preview, unread count, window and ordering stay as they are.
   */
  setConversationStatus(
    workspaceId: number,
    id: number,
    status: 'open' | 'pending' | 'resolved',
    now: number,
  ): ConversationRow | undefined {
    const cur = this.statusStmt.get(workspaceId, id) as { status: string } | undefined
    if (!cur || cur.status === status) return undefined
    return this.updateConversation(id, { status, snoozedUntil: null, updatedAt: now })
  }

  /**
   * Clears the conversation's own unread count (the one events carry: since anyone last
   * read it); returns undefined if not in this workspace or already 0. Each person's
   * count is their read position (readUpTo).
   */
  markConversationRead(workspaceId: number, id: number, now: number): ConversationRow | undefined {
    return this.db
      .update(conversations)
      .set({ unreadCount: 0, updatedAt: now })
      .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, id), sql`unread_count > 0`))
      .returning()
      .get()
  }
}

/**
 * Search by contact name or number. A query that looks like a phone number matches
 * on its digits ("+49 151-23" finds 4915123…); LIKE wildcards typed by the agent are
 * matched literally.
 */
function contactSearch(raw: string): { sql: string; params: string[]; shape: string } | undefined {
  const q = raw.trim()
  if (!q) return undefined
  const like = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const digits = q.replace(/\D/g, '')
  const byName = `ct.name LIKE ? ESCAPE '\\'`
  if (/^[\d\s+()./-]+$/.test(q) && digits) {
    return {
      sql: `(${byName} OR ct.phone LIKE ? OR ct.external_id LIKE ?)`,
      params: [like(q), like(digits), like(digits)],
      shape: 'p',
    }
  }
  return { sql: byName, params: [like(q)], shape: 'n' }
}
