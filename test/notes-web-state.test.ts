// The browser's inbox state and notes (issue 14), without a browser: a note arrives as
// message.created without touching the list; message.deleted drops it, and a page read
// before the deletion does not bring it back.
import t from 'tap'
import { createInboxState, threadItems, type StreamEvent } from '../web/src/state/inbox.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'

const id = (n: number) => `ep1:${n}`
const conv: ConversationDTO = {
  id: 7,
  channelId: 1,
  channelKind: 'whatsapp',
  status: 'open',
  snoozedUntil: null,
  labels: [],
  unreadCount: 1,
  assignee: null,
  waitingSince: null,
  lastMessageId: 1,
  lastMessagePreview: 'hello',
  lastMessageDirection: 'in',
  lastMessageAt: 1,
  lastMessageStatus: 'received',
  lastMessageError: null,
  lastActivityAt: 1000,
  windowExpiresAt: null,
  contact: { id: 3, externalId: '4915', name: 'Maria', phone: '4915' },
}
const base = {
  media: null,
  data: null,
  context: null,
  replyToMessageId: null,
  reactions: null,
  providerMessageId: null,
  clientMessageId: null,
  sentAt: null,
  deliveredAt: null,
  readAt: null,
  failedAt: null,
  error: null,
}
const customer: MessageDTO = {
  ...base,
  id: 1,
  conversationId: 7,
  direction: 'in',
  type: 'text',
  text: 'hello',
  senderUserId: null,
  status: 'received',
  timestamp: 1,
}
const note: MessageDTO = {
  ...base,
  id: 2,
  conversationId: 7,
  direction: 'system',
  type: 'note',
  text: 'internal',
  senderUserId: 5,
  status: 'received',
  timestamp: 2,
}

t.test('a note comes and goes; a stale page does not resurrect it', async (t) => {
  const s = createInboxState()
  s.applyConversationPage([conv], id(10), { key: 'x', nextCursor: null, first: true })
  s.applyMessagePage(7, [customer], id(10), { older: false, nextCursor: null })
  const ev = (n: number, type: string, data: unknown): StreamEvent => ({ id: id(n), type, data })

  t.equal(s.applyEvent(ev(11, 'message.created', { message: note, conversation: conv })), 'applied')
  t.same(
    threadItems(s.thread(7)).messages.map((m) => m.type),
    ['text', 'note'],
  )
  t.equal(s.conversation(7)!.unreadCount, 1, 'a note is not unread')
  t.equal(s.conversation(7)!.lastMessagePreview, 'hello')

  t.equal(s.applyEvent(ev(12, 'message.deleted', { messageId: 2, conversationId: 7 })), 'applied')
  t.same(
    threadItems(s.thread(7)).messages.map((m) => m.id),
    [1],
  )
  t.equal(s.applyEvent(ev(12, 'message.deleted', { messageId: 2, conversationId: 7 })), 'duplicate')
  // A page read at event 11 (before the deletion) answers late.
  s.applyMessagePage(7, [customer, note], id(11), { older: false, nextCursor: null })
  t.same(
    threadItems(s.thread(7)).messages.map((m) => m.id),
    [1],
    'the tombstone holds',
  )
  // A deletion in a conversation not loaded here changes nothing and fails nothing.
  t.equal(s.applyEvent(ev(13, 'message.deleted', { messageId: 99, conversationId: 8 })), 'ignored')
})
