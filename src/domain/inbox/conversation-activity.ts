// What a new message does to its conversation, for every channel and direction: the
// preview, the ordering key, and for customer messages the unread count and Meta's
// 24-hour customer-service window.
import { listPreviewOf } from '../../events/preview.ts'
import type { ChannelKind, ConversationDTO } from '../../events/types.ts'
import { toConversationDTO, type ContactRow, type ConversationRow, type InboxStore, type MessageRow } from '../../store/inbox-store.ts'

/** Meta's customer-service window: 24 h after the customer's last message. */
export const SERVICE_WINDOW_MS = 24 * 3600 * 1000

export function recordMessage(
  store: InboxStore,
  conv: ConversationRow,
  row: MessageRow,
  now: number,
  opts: {
    countsAsUnread?: boolean
    /**
     * The conversation's contact and channel kind, when the caller has them: the
     * event's conversation is then built from the updated row, without reading it
     * back through four joins (one statement of the eight an inbound message costs).
     */
    view?: { contact: ContactRow; channelKind: ChannelKind }
  } = {},
): ConversationDTO {
  // A system line (resolved, reopened) is written by conversation-status.ts and never
  // becomes the preview: reaching here would be a bug.
  if (row.direction === 'system') throw new Error('recordMessage: a system line is not conversation activity')
  // Out-of-order delivery: an older message never moves the preview back in time.
  // Meta stamps inbound messages in whole seconds while Parley stamps its sends in
  // milliseconds, so within the same second arrival decides.
  const newest = conv.lastMessageAt === null || row.timestamp + (row.direction === 'in' ? 999 : 0) >= conv.lastMessageAt
  const inbound = row.direction === 'in'
  const updated = store.updateConversation(conv.id, {
    ...(inbound
      ? {
          status: 'open' as const,
          unreadCount: opts.countsAsUnread === false ? conv.unreadCount : conv.unreadCount + 1,
          lastInboundAt: Math.max(conv.lastInboundAt ?? 0, row.timestamp),
          windowExpiresAt: Math.max(conv.windowExpiresAt ?? 0, row.timestamp + SERVICE_WINDOW_MS),
        }
      : {}),
    // The inbox orders by when Parley received it: a message Meta retried for hours
    // is news to the agent and belongs at the top.
    lastActivityAt: Math.max(conv.lastActivityAt, now),
    updatedAt: now,
    ...(newest
      ? {
          lastMessageId: row.id,
          lastMessagePreview: listPreviewOf(row),
          lastMessageDirection: row.direction,
          lastMessageAt: row.timestamp,
        }
      : {}),
  })
  // The list's last-message status is this message's when it is the newest; an older
  // one arriving late leaves it as stored, which only the read-back knows.
  if (opts.view && newest) {
    const { contact, channelKind } = opts.view
    return toConversationDTO({
      c: updated,
      contact: { id: contact.id, externalId: contact.externalId, name: contact.name, phone: contact.phone },
      channelKind,
      last: { status: row.status, errorTitle: row.errorTitle, errorDetail: row.errorDetail },
    })
  }
  return store.conversation(conv.workspaceId, conv.id)!
}
