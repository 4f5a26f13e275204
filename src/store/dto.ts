// The conversation and message DTOs (what the API and the events carry), and the
// columns they are read from. A DTO SELECT and the function that reads its rows by
// position live side by side here, so the two orders cannot drift apart.
import { getTableColumns } from 'drizzle-orm'
import { failureReason, type ChannelKind, type ConversationDTO, type LabelRef, type MessageDTO } from '../events/types.ts'
import type { ConversationRow, MessageRow } from './rows.ts'
import { messages } from './schema.ts'

// The conversation DTO's columns, for the list and the single read: the conversation,
// its contact and channel kind, the last message's status (a left join by primary
// key: cheap) so a failed send shows in the list, and the assignee's name. Read as
// arrays (better-sqlite3's raw mode): building a keyed object per row in the driver
// cost as much as the query. rowToConversationDTO reads them by position, in this order.
function conversationDTOSelect(unread: string, joins = ''): string {
  return `SELECT v.id, v.channel_id, v.status, ${unread}, v.last_message_id,
       v.last_message_preview, v.last_message_direction, v.last_message_at, v.last_activity_at,
       v.window_expires_at,
       ct.id, ct.external_id, ct.name, ct.phone,
       ch.kind,
       lm.status, lm.error_title, lm.error_detail,
       v.waiting_since, au.id, au.name,
       v.snoozed_until,
       (SELECT json_group_array(json_object('id', l.id, 'name', l.name, 'color', l.color))
          FROM (SELECT l.id, l.name, l.color FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
                 WHERE cl.conversation_id = v.id ORDER BY l.name, l.id) l)
  FROM conversations v
  JOIN contacts ct ON ct.id = v.contact_id
  JOIN channels ch ON ch.id = v.channel_id
  LEFT JOIN messages lm ON lm.id = v.last_message_id
  LEFT JOIN users au ON au.id = v.assignee_id${joins}`
}

/** The conversation as every stream of its channel sees it: the conversation's own unread count. */
export const CONVERSATION_DTO_SELECT = conversationDTOSelect('v.unread_count')

/**
 * The conversation as one person sees it (bind `@viewer`, their user id): unread is
 * their own — the customer's messages (not reactions) after their read position, or
 * all of them before they ever read it (times are not compared: a message's and a
 * membership's clocks need not agree; a new member starts at the channel's newest with
 * ConversationsRepo.startReadsAt). Counted from messages_customer_idx, a partial
 * covering index: one range scan per row, no table reads.
 */
export const VIEWER_CONVERSATION_DTO_SELECT = conversationDTOSelect(
  `(SELECT count(*) FROM messages m
     WHERE m.conversation_id = v.id AND direction = 'in' AND type <> 'reaction' AND m.id > coalesce(rd.read_through_id, 0))`,
  `
  LEFT JOIN conversation_reads rd ON rd.conversation_id = v.id AND rd.user_id = @viewer`,
)

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
/** One row of CONVERSATION_DTO_SELECT in raw mode. */
export type ConversationDTORow = unknown[]

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
/** The message DTO's column list, for `SELECT ${MESSAGE_DTO_COLUMNS} FROM messages …` in raw mode. */
export const MESSAGE_DTO_COLUMNS = MESSAGE_DTO_KEYS.map((k) => MESSAGE_COLUMNS[k].name).join(', ')

/** A JSON column as drizzle's json mode reads it: null stays null. */
const json = (v: unknown): never => (typeof v === 'string' ? JSON.parse(v) : v) as never

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

/** One row of CONVERSATION_DTO_SELECT, by position. */
export function rowToConversationDTO(r: ConversationDTORow): ConversationDTO {
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
    labels: JSON.parse(r[22] as string) as LabelRef[],
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
