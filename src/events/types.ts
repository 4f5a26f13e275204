// Event and DTO shapes shared by the server and the web client (imported as types).

export type ChannelKind = 'whatsapp' | 'messenger'

export interface ContactDTO {
  id: number
  externalId: string
  name: string | null
  phone: string | null
}

export interface ConversationDTO {
  id: number
  channelId: number
  channelKind: ChannelKind
  status: 'open' | 'resolved'
  unreadCount: number
  lastMessageId: number | null
  lastMessagePreview: string | null
  lastMessageDirection: 'in' | 'out' | null
  lastMessageAt: number | null
  lastActivityAt: number
  windowExpiresAt: number | null
  contact: ContactDTO
}

export interface MessageDTO {
  id: number
  conversationId: number
  direction: 'in' | 'out'
  type: string
  text: string | null
  media: Record<string, unknown> | null
  data: unknown
  context: Record<string, unknown> | null
  replyToMessageId: number | null
  reactions: Record<string, string> | null
  providerMessageId: string | null
  clientMessageId: string | null
  senderUserId: number | null
  status: string
  sentAt: number | null
  deliveredAt: number | null
  readAt: number | null
  failedAt: number | null
  error: { code: number | null; title: string | null; detail: string | null } | null
  timestamp: number
}

export interface EventPayloads {
  'message.created': { message: MessageDTO; conversation: ConversationDTO }
  'message.updated': { message: MessageDTO }
  'conversation.updated': { conversation: ConversationDTO }
}

export type EventType = keyof EventPayloads

/** Sent in-band when a cursor cannot be replayed: the client refetches its state. */
export interface ResetPayload {
  reason: 'unknown_cursor' | 'other_epoch' | 'ahead_of_log' | 'pruned'
  cursor: string
}
