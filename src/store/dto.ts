// The conversation and message DTOs (what the API and the events carry), and the
// columns they are read from. A DTO SELECT and the function that reads its rows by
// position live side by side here, so the two orders cannot drift apart.
import { getTableColumns } from 'drizzle-orm'
import { failureReason, type ChannelKind, type ConversationDTO, type LabelRef, type MessageDTO } from '../events/types.ts'
import type { Dialect } from './conn.ts'
import type { ConversationRow, MessageRow } from './rows.ts'
import { messages } from './schema.ts'

// The conversation DTO's columns, for the list and the single read: the conversation,
// its contact and channel kind, the last message's status (a left join by primary
// key: cheap) so a failed send shows in the list, the assignee's name and the labels.
// Units of work (issue 17): one text per dialect (the labels' JSON aggregate differs),
// quoted aliases, read as objects by dtoRowToConversationDTO.
// The DTO's columns in rowToConversationDTO's order (UNREAD, LABELS: filled in per select).
const CONVERSATION_DTO_COLUMNS =
  `v.id id|v.channel_id channelId|v.status status|UNREAD unreadCount|v.last_message_id lastMessageId|v.last_message_preview lastMessagePreview|v.last_message_direction lastMessageDirection|v.last_message_at lastMessageAt|v.last_activity_at lastActivityAt|v.window_expires_at windowExpiresAt|ct.id contactId|ct.external_id contactExternalId|ct.name contactName|ct.phone contactPhone|ch.kind channelKind|lm.status lastStatus|lm.error_title lastErrorTitle|lm.error_detail lastErrorDetail|v.waiting_since waitingSince|au.id assigneeId|au.name assigneeName|v.snoozed_until snoozedUntil|LABELS labels`
    .split('|')
    .map((c) => c.split(' ') as [string, string])

function conversationDTOSelect(dialect: Dialect, unread: string, joins = ''): string {
  const labels =
    dialect === 'sqlite'
      ? `(SELECT json_group_array(json_object('id', l.id, 'name', l.name, 'color', l.color))
          FROM (SELECT l.id, l.name, l.color FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
                 WHERE cl.conversation_id = v.id ORDER BY l.name, l.id) l)`
      : // COLLATE "C": byte order, as SQLite's default (BINARY) orders the names.
        `(SELECT coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'color', l.color) ORDER BY l.name COLLATE "C", l.id), '[]')
          FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = v.id)`
  // SQLite: one JSON array per row, parsed and read by position (rowToConversationDTO):
  // better-sqlite3 builds a keyed object per row slower than SQLite builds the array and
  // JSON.parse reads it (measured: 2× on the list; raw mode is not on the unit connection).
  // PostgreSQL: quoted aliases, read by dtoRowToConversationDTO.
  const cols = CONVERSATION_DTO_COLUMNS.map(([expr, key]) => [expr === 'UNREAD' ? unread : expr === 'LABELS' ? labels : expr, key])
  const list =
    dialect === 'sqlite' ? `json_array(${cols.map(([e]) => e).join(', ')}) AS "r"` : cols.map(([e, k]) => `${e} AS "${k}"`).join(', ')
  return `SELECT ${list}
  FROM conversations v
  JOIN contacts ct ON ct.id = v.contact_id
  JOIN channels ch ON ch.id = v.channel_id
  LEFT JOIN messages lm ON lm.id = v.last_message_id
  LEFT JOIN users au ON au.id = v.assignee_id${joins}`
}

/**
 * The conversation as one person sees it (bind the viewer's user id first: the join's `?`
 * comes before any WHERE parameter): unread is
 * their own — the customer's messages (not reactions) after their read position, or
 * all of them before they ever read it (times are not compared: a message's and a
 * membership's clocks need not agree; a new member starts at the channel's newest with
 * ConversationsRepo.startReadsAt). Counted from messages_customer_idx, a partial
 * covering index: one range scan per row, no table reads.
 */
const VIEWER_UNREAD = `(SELECT count(*) FROM messages m
     WHERE m.conversation_id = v.id AND direction = 'in' AND type <> 'reaction' AND m.id > coalesce(rd.read_through_id, 0))`
const VIEWER_JOIN = `
  LEFT JOIN conversation_reads rd ON rd.conversation_id = v.id AND rd.user_id = ?`

/** The conversation DTO SELECTs by dialect: `all` with the conversation's own unread count, `viewer` with the viewer's. */
export const CONVERSATION_DTO_SELECTS: Record<Dialect, { all: string; viewer: string }> = {
  sqlite: { all: conversationDTOSelect('sqlite', 'v.unread_count'), viewer: conversationDTOSelect('sqlite', VIEWER_UNREAD, VIEWER_JOIN) },
  postgres: {
    all: conversationDTOSelect('postgres', 'v.unread_count'),
    viewer: conversationDTOSelect('postgres', VIEWER_UNREAD, VIEWER_JOIN),
  },
}

/** One row of a conversation DTO SELECT, as either database returns it. */
export interface ConversationDTORow {
  id: number
  channelId: number
  status: ConversationRow['status']
  unreadCount: number
  lastMessageId: number | null
  lastMessagePreview: string | null
  lastMessageDirection: ConversationRow['lastMessageDirection']
  lastMessageAt: number | null
  lastActivityAt: number
  windowExpiresAt: number | null
  contactId: number
  contactExternalId: string
  contactName: string | null
  contactPhone: string | null
  channelKind: ChannelKind
  lastStatus: string | null
  lastErrorTitle: string | null
  lastErrorDetail: string | null
  waitingSince: number | null
  assigneeId: number | null
  assigneeName: string | null
  snoozedUntil: number | null
  /** JSON text (SQLite), parsed JSON (PostgreSQL's json). */
  labels: string | LabelRef[]
}

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
  | 'waitingSince'
  | 'snoozedUntil'
>

// The message DTO's columns: everything but the webhook as received (`raw`, the
// largest column) and bookkeeping. Column names come from the schema; rows are read
// as arrays in this order (better-sqlite3's raw mode, for send-guard.ts) by rowToMessageDTO,
// or as objects (MESSAGE_DTO_SELECT, units of work) by dtoRowToMessageDTO.
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
/** The message DTO's column list, for `SELECT ${MESSAGE_DTO_COLUMNS} FROM messages …` in raw mode. */
export const MESSAGE_DTO_COLUMNS = MESSAGE_DTO_KEYS.map((k) => MESSAGE_COLUMNS[k].name).join(', ')

/**
 * The same columns with quoted aliases (`col AS "key"`), for units of work (issue 17): rows
 * come back as objects keyed like MessageRow on both databases; read by dtoRowToMessageDTO.
 */
export const MESSAGE_DTO_SELECT = MESSAGE_DTO_KEYS.map((k) => `${MESSAGE_COLUMNS[k].name} AS "${k}"`).join(', ')

/**
 * SQLite's: one JSON array per row (`r`), read by position with rowToMessageDTO — cheaper
 * than a keyed object per row from better-sqlite3 (measured 180 against 500 µs for 51 rows).
 */
export const MESSAGE_DTO_SELECTS = {
  sqlite: `json_array(${MESSAGE_DTO_COLUMNS}) AS "r"`,
  postgres: MESSAGE_DTO_SELECT,
} as const

/** A message DTO row of either dialect. */
export function anyRowToMessageDTO(row: MessageDTOColumns | { r: string }): MessageDTO {
  return 'r' in row ? rowToMessageDTO(JSON.parse(row.r) as unknown[]) : dtoRowToMessageDTO(row)
}

/** A JSON column as drizzle's json mode reads it: null stays null. */
const json = (v: unknown): never => (typeof v === 'string' ? JSON.parse(v) : v) as never

/** One row of MESSAGE_DTO_SELECT (JSON columns are text on both databases). */
export function dtoRowToMessageDTO(r: MessageDTOColumns): MessageDTO {
  r.media = json(r.media)
  r.data = json(r.data)
  r.context = json(r.context)
  r.reactions = json(r.reactions)
  return toMessageDTO(r)
}

/** One row of MESSAGE_DTO_COLUMNS in raw mode, by position in MESSAGE_DTO_KEYS. */
export function rowToMessageDTO(r: unknown[]): MessageDTO {
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

/** One row of a SQLite conversation DTO SELECT: its JSON array, by position (CONVERSATION_DTO_COLUMNS). */
export function rowToConversationDTO(json: string): ConversationDTO {
  const r = JSON.parse(json) as unknown[]
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
      waitingSince: r[18] as number | null,
      snoozedUntil: r[21] as number | null,
    },
    contact: { id: r[10] as number, externalId: r[11] as string, name: r[12] as string | null, phone: r[13] as string | null },
    channelKind: r[14] as ChannelKind,
    last: { status: r[15] as string | null, errorTitle: r[16] as string | null, errorDetail: r[17] as string | null },
    assignee: r[19] === null ? null : { id: r[19] as number, name: r[20] as string },
    labels: (typeof r[22] === 'string' ? JSON.parse(r[22]) : r[22]) as LabelRef[],
  })
}

/** A conversation DTO row of either dialect (SQLite: `{ r: json }`). */
export function anyRowToConversationDTO(row: ConversationDTORow | { r: string }): ConversationDTO {
  return 'r' in row ? rowToConversationDTO(row.r) : dtoRowToConversationDTO(row)
}

/** One row of a conversation DTO SELECT. */
export function dtoRowToConversationDTO(r: ConversationDTORow): ConversationDTO {
  return toConversationDTO({
    c: r,
    contact: { id: r.contactId, externalId: r.contactExternalId, name: r.contactName, phone: r.contactPhone },
    channelKind: r.channelKind,
    last: { status: r.lastStatus, errorTitle: r.lastErrorTitle, errorDetail: r.lastErrorDetail },
    assignee: r.assigneeId === null ? null : { id: r.assigneeId, name: r.assigneeName as string },
    labels: typeof r.labels === 'string' ? (JSON.parse(r.labels) as LabelRef[]) : r.labels,
  })
}

export function toConversationDTO(r: {
  c: ConversationDTOColumns
  contact: { id: number; externalId: string; name: string | null; phone: string | null }
  channelKind: ChannelKind
  /** The last message's status and error; null when the conversation has none (a left join). */
  last: { status: string | null; errorTitle: string | null; errorDetail: string | null } | null
  /** The assignee and their name; null: nobody. */
  assignee: { id: number; name: string } | null
  /** Its labels (issue 14), ordered by name. */
  labels: LabelRef[]
}): ConversationDTO {
  const c = r.c
  const last = r.last ?? { status: null, errorTitle: null, errorDetail: null }
  return {
    id: c.id,
    channelId: c.channelId,
    channelKind: r.channelKind,
    status: c.status,
    snoozedUntil: c.snoozedUntil,
    labels: r.labels,
    unreadCount: c.unreadCount,
    assignee: r.assignee,
    waitingSince: c.waitingSince,
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
