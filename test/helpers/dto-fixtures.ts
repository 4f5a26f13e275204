// The DTOs the web client's state is fed in the tests without a browser (web-state,
// web-team): a conversation and a message as the API sends them, with `over` changing
// any field.
import type { ConversationDTO, MessageDTO } from '../../src/events/types.ts'

/** Conversation `cid` on the WhatsApp channel 1, open, read, no messages yet; its contact is `cid` too. */
export function conv(cid: number, over: Partial<ConversationDTO> = {}): ConversationDTO {
  return {
    id: cid,
    channelId: 1,
    channelKind: 'whatsapp',
    status: 'open',
    snoozedUntil: null,
    labels: [],
    unreadCount: 0,
    assignee: null,
    waitingSince: null,
    lastMessageId: null,
    lastMessagePreview: null,
    lastMessageDirection: null,
    lastMessageAt: null,
    lastMessageStatus: null,
    lastMessageError: null,
    lastActivityAt: 1000 + cid,
    windowExpiresAt: null,
    contact: { id: cid, externalId: `49150000${cid}`, name: `Contact ${cid}`, phone: `49150000${cid}` },
    ...over,
  }
}

/** The customer's text message `mid` in conversation `cid`, received. */
export function msg(mid: number, cid: number, over: Partial<MessageDTO> = {}): MessageDTO {
  return {
    id: mid,
    conversationId: cid,
    direction: 'in',
    type: 'text',
    text: `m${mid}`,
    media: null,
    data: null,
    context: null,
    replyToMessageId: null,
    reactions: null,
    providerMessageId: `wamid.${mid}`,
    clientMessageId: null,
    senderUserId: null,
    status: 'received',
    sentAt: null,
    deliveredAt: null,
    readAt: null,
    failedAt: null,
    error: null,
    timestamp: 1_700_000_000_000 + mid,
    ...over,
  }
}
