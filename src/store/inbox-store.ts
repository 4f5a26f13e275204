// Queries for contacts, conversations and messages. Synchronous functions over one
// connection: callers run them inside a transaction. Every read that serves a user
// takes the workspace id, which comes from the session, never from the request.
import { and, eq, getTableColumns, sql } from 'drizzle-orm'
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'
import { channels, contacts, conversations, messages } from './schema.ts'
import { failureReason, type ChannelKind, type ConversationDTO, type MessageDTO } from '../events/types.ts'
import { Statements, TableCodec } from './prepared.ts'

export type ChannelRow = typeof channels.$inferSelect
export type ContactRow = typeof contacts.$inferSelect
export type ConversationRow = typeof conversations.$inferSelect
export type MessageRow = typeof messages.$inferSelect
export type NewMessage = typeof messages.$inferInsert

// The conversation DTO's columns, for the list and the single read: the conversation,
// its contact and channel kind, and the last message's status (a left join by primary
// key: cheap) so a failed send shows in the list. Read as arrays (better-sqlite3's raw
// mode): building a keyed object per row in the driver cost as much as the query.
// rowToConversationDTO reads them by position, in this order.
const CONVERSATION_DTO_SELECT = `SELECT v.id, v.channel_id, v.status, v.unread_count, v.last_message_id,
       v.last_message_preview, v.last_message_direction, v.last_message_at, v.last_activity_at,
       v.window_expires_at,
       ct.id, ct.external_id, ct.name, ct.phone,
       ch.kind,
       lm.status, lm.error_title, lm.error_detail
  FROM conversations v
  JOIN contacts ct ON ct.id = v.contact_id
  JOIN channels ch ON ch.id = v.channel_id
  LEFT JOIN messages lm ON lm.id = v.last_message_id`

type ConversationDTOColumns = Pick<
  ConversationRow,
  | 'id'
  | 'channelId'
  | 'status'
  | 'unreadCount'
  | 'lastMessageId'
  | 'lastMessagePreview'
  | 'lastMessageDirection'
  | 'lastMessageAt'
  | 'lastActivityAt'
  | 'windowExpiresAt'
>
/** One row of CONVERSATION_DTO_SELECT in raw mode. */
type ConversationDTORow = unknown[]

// The message DTO's columns: everything but the webhook as received (`raw`, the
// largest column) and bookkeeping. Column names come from the schema; rows are read
// as arrays in this order (raw mode, as above) by rowToMessageDTO.
const MESSAGE_DTO_KEYS = [
  'id',
  'conversationId',
  'direction',
  'type',
  'text',
  'media',
  'data',
  'context',
  'replyToMessageId',
  'reactions',
  'providerMessageId',
  'clientMessageId',
  'senderUserId',
  'status',
  'sentAt',
  'deliveredAt',
  'readAt',
  'failedAt',
  'errorCode',
  'errorTitle',
  'errorDetail',
  'timestamp',
] as const satisfies readonly (keyof MessageRow)[]
type MessageDTOColumns = Pick<MessageRow, (typeof MESSAGE_DTO_KEYS)[number]>
const MESSAGE_COLUMNS = getTableColumns(messages)
const MESSAGE_DTO_SELECT = MESSAGE_DTO_KEYS.map((k) => MESSAGE_COLUMNS[k].name).join(', ')

/** A JSON column as drizzle's json mode reads it: null stays null. */
const json = (v: unknown): never => (typeof v === 'string' ? JSON.parse(v) : v) as never

/** One row of MESSAGE_DTO_SELECT in raw mode, by position in MESSAGE_DTO_KEYS. */
function rowToMessageDTO(r: unknown[]): MessageDTO {
  return toMessageDTO({
    id: r[0] as number,
    conversationId: r[1] as number,
    direction: r[2] as MessageRow['direction'],
    type: r[3] as string,
    text: r[4] as string | null,
    media: json(r[5]),
    data: json(r[6]),
    context: json(r[7]),
    replyToMessageId: r[8] as number | null,
    reactions: json(r[9]),
    providerMessageId: r[10] as string | null,
    clientMessageId: r[11] as string | null,
    senderUserId: r[12] as number | null,
    status: r[13] as MessageRow['status'],
    sentAt: r[14] as number | null,
    deliveredAt: r[15] as number | null,
    readAt: r[16] as number | null,
    failedAt: r[17] as number | null,
    errorCode: r[18] as number | null,
    errorTitle: r[19] as string | null,
    errorDetail: r[20] as string | null,
    timestamp: r[21] as number,
  })
}

export class InboxStore {
  private readonly sql: Statements
  // The read paths' statements, prepared once (a typo in their SQL fails at startup).
  private readonly conversationStmt: Database.Statement
  private readonly conversationExistsStmt: Database.Statement
  private readonly listStmts = new Map<string, Database.Statement>()
  private readonly messagesNewestStmt: Database.Statement
  private readonly messagesBeforeStmt: Database.Statement
  private readonly channelCodec = new TableCodec<ChannelRow>(channels)
  private readonly contactCodec = new TableCodec<ContactRow>(contacts)
  private readonly conversationCodec = new TableCodec<ConversationRow>(conversations)
  private readonly messageCodec = new TableCodec<MessageRow>(messages)

  constructor(readonly db: Db) {
    this.sql = new Statements(db.$client)
    const c = db.$client
    this.conversationStmt = c.prepare(`${CONVERSATION_DTO_SELECT} WHERE v.workspace_id = ? AND v.id = ?`).raw()
    this.conversationExistsStmt = c.prepare('SELECT 1 FROM conversations WHERE workspace_id = ? AND id = ?')
    this.messagesNewestStmt = c
      .prepare(`SELECT ${MESSAGE_DTO_SELECT} FROM messages WHERE workspace_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?`)
      .raw()
    this.messagesBeforeStmt = c
      .prepare(
        `SELECT ${MESSAGE_DTO_SELECT} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id < ?
          ORDER BY id DESC LIMIT ?`,
      )
      .raw()
  }

  channelByExternalId(kind: 'whatsapp' | 'messenger', externalId: string): ChannelRow | undefined {
    const row = this.sql.get(`SELECT ${this.channelCodec.select()} FROM channels WHERE kind = ? AND external_id = ?`).get(kind, externalId)
    return row === undefined ? undefined : this.channelCodec.decode(row)
  }

  /** Finds or creates the contact; refreshes the profile name only when it changed. */
  upsertContact(
    workspaceId: number,
    kind: 'whatsapp' | 'messenger',
    externalId: string,
    profileName: string | null,
    phone: string | null,
    now: number,
  ): ContactRow {
    const raw = this.sql
      .get(`SELECT ${this.contactCodec.select()} FROM contacts WHERE workspace_id = ? AND kind = ? AND external_id = ?`)
      .get(workspaceId, kind, externalId)
    if (raw === undefined) {
      return this.sql.insert(this.contactCodec, {
        workspaceId,
        kind,
        externalId,
        phone,
        profileName,
        name: profileName,
        createdAt: now,
        updatedAt: now,
      })!
    }
    const existing = this.contactCodec.decode(raw)
    if (profileName && profileName !== existing.profileName) {
      // An agent-set name wins over the WhatsApp profile name.
      const name = existing.name === null || existing.name === existing.profileName ? profileName : existing.name
      return this.sql.updateById(this.contactCodec, existing.id, { profileName, name, updatedAt: now })!
    }
    return existing
  }

  findOrOpenConversation(workspaceId: number, channelId: number, contactId: number, now: number): ConversationRow {
    const raw = this.sql
      .get(`SELECT ${this.conversationCodec.select()} FROM conversations WHERE channel_id = ? AND contact_id = ?`)
      .get(channelId, contactId)
    if (raw !== undefined) return this.conversationCodec.decode(raw)
    return this.sql.insert(this.conversationCodec, {
      workspaceId,
      channelId,
      contactId,
      lastActivityAt: now,
      createdAt: now,
      updatedAt: now,
    })!
  }

  updateConversation(id: number, set: Partial<typeof conversations.$inferInsert>): ConversationRow {
    return this.sql.updateById(this.conversationCodec, id, set)!
  }

  /** Inserts unless the provider id (or client id) is already stored; undefined means duplicate. */
  insertMessage(values: NewMessage): MessageRow | undefined {
    return this.sql.insert(this.messageCodec, values, 'DO NOTHING')
  }

  messageByProviderId(channelId: number, providerMessageId: string): MessageRow | undefined {
    const row = this.sql
      .get(`SELECT ${this.messageCodec.select()} FROM messages WHERE channel_id = ? AND provider_message_id = ?`)
      .get(channelId, providerMessageId)
    return row === undefined ? undefined : this.messageCodec.decode(row)
  }

  updateMessage(id: number, set: Partial<NewMessage>): MessageRow {
    return this.sql.updateById(this.messageCodec, id, set)!
  }

  messageById(workspaceId: number, id: number): MessageRow | undefined {
    const row = this.sql.get(`SELECT ${this.messageCodec.select()} FROM messages WHERE workspace_id = ? AND id = ?`).get(workspaceId, id)
    return row === undefined ? undefined : this.messageCodec.decode(row)
  }

  contactByExternalId(workspaceId: number, kind: 'whatsapp' | 'messenger', externalId: string): ContactRow | undefined {
    const row = this.sql
      .get(`SELECT ${this.contactCodec.select()} FROM contacts WHERE workspace_id = ? AND kind = ? AND external_id = ?`)
      .get(workspaceId, kind, externalId)
    return row === undefined ? undefined : this.contactCodec.decode(row)
  }

  conversationByChannelContact(channelId: number, contactId: number): ConversationRow | undefined {
    const row = this.sql
      .get(`SELECT ${this.conversationCodec.select()} FROM conversations WHERE channel_id = ? AND contact_id = ?`)
      .get(channelId, contactId)
    return row === undefined ? undefined : this.conversationCodec.decode(row)
  }

  /** Outbound messages sent at or before `at` (ms) still in one of `statuses` (watermarks). */
  outboundUpTo(conversationId: number, at: number, statuses: readonly string[]): MessageRow[] {
    const marks = statuses.map(() => '?').join(', ')
    return this.sql
      .get(
        `SELECT ${this.messageCodec.select()} FROM messages
          WHERE conversation_id = ? AND direction = 'out' AND status IN (${marks})
            AND coalesce(sent_at, timestamp) <= ?
          ORDER BY id`,
      )
      .all(conversationId, ...statuses, at)
      .map((r) => this.messageCodec.decode(r))
  }

  conversation(workspaceId: number, id: number): ConversationDTO | undefined {
    const row = this.conversationStmt.get(workspaceId, id) as ConversationDTORow | undefined
    return row === undefined ? undefined : rowToConversationDTO(row)
  }

  /** Whether the conversation exists in this workspace (the message list's 404 check). */
  conversationExists(workspaceId: number, id: number): boolean {
    return this.conversationExistsStmt.get(workspaceId, id) !== undefined
  }

  /** Most recent activity first; keyset pagination on (last_activity_at, id). */
  listConversations(
    workspaceId: number,
    opts: {
      limit: number
      before?: { at: number; id: number }
      status?: 'open' | 'resolved'
      q?: string
      /** One number or page, or every channel of a kind (the inbox's channel filter). */
      channelId?: number
      kind?: ChannelKind
    },
  ): ConversationDTO[] {
    // Prepared once per combination of filters (at most 2^5 × 2 shapes), not per
    // request: drizzle's builder re-built and re-prepared this SQL on every call
    // (profiled: more time than SQLite spent running it).
    const where = ['v.workspace_id = ?']
    const params: unknown[] = [workspaceId]
    let shape = ''
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
        .prepare(`${CONVERSATION_DTO_SELECT} WHERE ${where.join(' AND ')} ORDER BY v.last_activity_at DESC, v.id DESC LIMIT ?`)
        .raw()
      this.listStmts.set(shape, stmt)
    }
    params.push(opts.limit)
    return (stmt.all(...params) as ConversationDTORow[]).map(rowToConversationDTO)
  }

  /** Newest first; keyset pagination on id. Only the DTO's columns (not `raw`, the webhook as received). */
  listMessages(workspaceId: number, conversationId: number, opts: { limit: number; beforeId?: number }): MessageDTO[] {
    const rows = (
      opts.beforeId === undefined
        ? this.messagesNewestStmt.all(workspaceId, conversationId, opts.limit)
        : this.messagesBeforeStmt.all(workspaceId, conversationId, opts.beforeId, opts.limit)
    ) as unknown[][]
    return rows.map(rowToMessageDTO)
  }

  /**
   * Sets open / resolved; undefined when the conversation is not in this workspace or
   * already has that status (nothing to record). Only status: the preview, unread count,
   * window and ordering stay as they are.
   */
  setConversationStatus(workspaceId: number, id: number, status: 'open' | 'resolved', now: number): ConversationRow | undefined {
    const cur = this.sql.get('SELECT status FROM conversations WHERE workspace_id = ? AND id = ?').get(workspaceId, id) as
      | { status: string }
      | undefined
    if (!cur || cur.status === status) return undefined
    return this.updateConversation(id, { status, updatedAt: now })
  }

  /** The name a system line gives an agent (their own workspace's users only). */
  userName(workspaceId: number, userId: number): string | undefined {
    const row = this.sql.get('SELECT name FROM users WHERE workspace_id = ? AND id = ?').get(workspaceId, userId) as
      | { name: string }
      | undefined
    return row?.name
  }

  /** Clears the unread count; returns undefined if not in this workspace. */
  markRead(workspaceId: number, id: number, now: number): ConversationRow | undefined {
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

/** One row of CONVERSATION_DTO_SELECT, by position. */
function rowToConversationDTO(r: ConversationDTORow): ConversationDTO {
  return toConversationDTO({
    c: {
      id: r[0] as number,
      channelId: r[1] as number,
      status: r[2] as ConversationRow['status'],
      unreadCount: r[3] as number,
      lastMessageId: r[4] as number | null,
      lastMessagePreview: r[5] as string | null,
      lastMessageDirection: r[6] as ConversationRow['lastMessageDirection'],
      lastMessageAt: r[7] as number | null,
      lastActivityAt: r[8] as number,
      windowExpiresAt: r[9] as number | null,
    },
    contact: { id: r[10] as number, externalId: r[11] as string, name: r[12] as string | null, phone: r[13] as string | null },
    channelKind: r[14] as ChannelKind,
    last: { status: r[15] as string | null, errorTitle: r[16] as string | null, errorDetail: r[17] as string | null },
  })
}

export function toConversationDTO(r: {
  c: ConversationDTOColumns
  contact: { id: number; externalId: string; name: string | null; phone: string | null }
  channelKind: ChannelKind
  /** The last message's status and error; null when the conversation has none (a left join). */
  last: { status: string | null; errorTitle: string | null; errorDetail: string | null } | null
}): ConversationDTO {
  const c = r.c
  const last = r.last ?? { status: null, errorTitle: null, errorDetail: null }
  return {
    id: c.id,
    channelId: c.channelId,
    channelKind: r.channelKind,
    status: c.status,
    unreadCount: c.unreadCount,
    lastMessageId: c.lastMessageId,
    lastMessagePreview: c.lastMessagePreview,
    lastMessageDirection: c.lastMessageDirection,
    lastMessageAt: c.lastMessageAt,
    lastMessageStatus: last.status,
    lastMessageError: failureReason(last.status, { title: last.errorTitle, detail: last.errorDetail }),
    lastActivityAt: c.lastActivityAt,
    windowExpiresAt: c.windowExpiresAt,
    contact: r.contact,
  }
}

export function toMessageDTO(m: MessageDTOColumns): MessageDTO {
  return {
    id: m.id,
    conversationId: m.conversationId,
    direction: m.direction,
    type: m.type,
    text: m.text,
    media: m.media ?? null,
    data: m.data ?? null,
    context: m.context ?? null,
    replyToMessageId: m.replyToMessageId,
    reactions: m.reactions ?? null,
    providerMessageId: m.providerMessageId,
    clientMessageId: m.clientMessageId,
    senderUserId: m.senderUserId,
    status: m.status,
    sentAt: m.sentAt,
    deliveredAt: m.deliveredAt,
    readAt: m.readAt,
    failedAt: m.failedAt,
    error: m.errorCode !== null || m.errorTitle !== null ? { code: m.errorCode, title: m.errorTitle, detail: m.errorDetail } : null,
    timestamp: m.timestamp,
  }
}
