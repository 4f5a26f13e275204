// The browser's inbox state and notes (issue 14), without a browser: a note arrives as
// message.created without touching the list; message.deleted drops it, and a page read
// before the deletion does not bring it back.
import t from 'tap'
import { createInboxState, threadItems, type StreamEvent } from '../web/src/state/inbox.ts'
import { conv, msg } from './helpers/dto-fixtures.ts'

const id = (n: number) => `ep1:${n}`
const conversation = conv(7, {
  unreadCount: 1,
  lastMessageId: 1,
  lastMessagePreview: 'hello',
  lastMessageDirection: 'in',
  lastMessageAt: 1,
})
const customer = msg(1, 7, { text: 'hello' })
const note = msg(2, 7, { direction: 'system', type: 'note', text: 'internal', senderUserId: 5, providerMessageId: null })

t.test('a note comes and goes; a stale page does not resurrect it', async (t) => {
  const s = createInboxState()
  s.applyConversationPage([conversation], id(10), { key: 'x', nextCursor: null, first: true })
  s.applyMessagePage(7, [customer], id(10), { older: false, nextCursor: null })
  const ev = (n: number, type: string, data: unknown): StreamEvent => ({ id: id(n), type, data })

  t.equal(s.applyEvent(ev(11, 'message.created', { message: note, conversation })), 'applied')
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
