// The browser's label rules without a browser (issue 14): the workspace's list follows
// `labels.changed` by event id (an older GET never undoes a newer event), a conversation's
// chips are drawn from that list (renamed, recoloured, deleted at once), and the inbox's
// label filter composes with the others and keys its own list pages.
import t from 'tap'
import { createLabelsState } from '../web/src/state/labels.ts'
import { createInboxState, listKey } from '../web/src/state/inbox.ts'
import { conv as dtoConv } from './helpers/dto-fixtures.ts'
import type { ConversationDTO, LabelRef } from '../src/events/types.ts'

const vip: LabelRef = { id: 1, name: 'VIP', color: '#2563eb' }
const refund: LabelRef = { id: 2, name: 'Refund', color: '#dc2626' }

/** Conversation `id` (test/helpers/dto-fixtures.ts) carrying `labels`. */
const conv = (id: number, labels: LabelRef[], over: Partial<ConversationDTO> = {}): ConversationDTO => dtoConv(id, { labels, ...over })

t.test('the list follows events by id; an older read never undoes a newer event', async (t) => {
  const s = createLabelsState()
  t.equal(s.list.value, null, 'not loaded')
  t.ok(s.apply([vip], 'ep:5'))
  t.ok(s.apply([vip, refund], 'ep:7', { event: true }))
  t.notOk(s.apply([vip], 'ep:6'), 'a GET read before the event is older: ignored')
  t.notOk(s.apply([vip], 'ep:7', { event: true }), 'the same event again: ignored')
  t.same(s.list.value, [vip, refund])
  t.ok(s.apply([vip], 'ep:7'), 'a GET read at the same position is as new')
  t.ok(s.apply([refund], 'other:1', { event: true }), 'another database: applies (after a reset)')
  t.same(s.list.value, [refund])
})

t.test('chips: the newest name and colour, deleted labels gone, unknown ones as carried', async (t) => {
  const s = createLabelsState()
  t.same(s.resolve([vip]), [vip], 'before the list loads: as the conversation carries them')
  s.apply([vip, refund], 'ep:1')
  const renamed = { ...vip, name: 'Very important', color: '#16a34a' }
  s.apply([refund, renamed], 'ep:2', { event: true })
  t.same(s.resolve([vip, refund]), [renamed, refund], 'renamed and recoloured by id')
  s.apply([renamed], 'ep:3', { event: true })
  t.ok(s.isDeleted(refund.id))
  t.same(s.resolve([vip, refund]), [renamed], 'a deleted label has no chip, whatever the copy says')
  const fresh = { id: 9, name: 'New', color: '#000000' }
  t.same(s.resolve([fresh]), [fresh], 'one the list never held is drawn from the conversation’s copy')
  t.same(s.resolve(undefined), [])
  // Created again with the same id (never, but a list that holds it again wins).
  s.apply([renamed, refund], 'ep:4', { event: true })
  t.notOk(s.isDeleted(refund.id))
})

t.test('the inbox’s label filter composes with the others and keys its own pages', async (t) => {
  t.not(listKey('open', '', '', 'all', 1), listKey('open', '', '', 'all'), 'a label filter is another list')
  t.equal(listKey('open', 'x', '', 'mine'), listKey('open', 'x', '', 'mine', null), 'no label: the same key as before')
  const st = createInboxState()
  st.applyConversationPage([conv(3, [vip], { status: 'resolved' }), conv(2, [vip, refund]), conv(1, [])], 'ep:10', {
    key: listKey('all', ''),
    nextCursor: null,
    first: true,
  })
  st.filter.value = 'all'
  t.same(
    st.conversationList.value.map((c) => c.id),
    [3, 2, 1],
  )
  st.label.value = vip.id
  st.paging.value = { ...st.paging.value, key: listKey('all', '', '', 'all', vip.id), complete: true }
  t.same(
    st.conversationList.value.map((c) => c.id),
    [3, 2],
    'only those carrying it',
  )
  st.filter.value = 'open'
  t.same(
    st.conversationList.value.map((c) => c.id),
    [2],
    'with the status filter',
  )
  // Taking the label off (a conversation.updated) takes it out of the filtered list, and
  // leaves the person's unread count as it was.
  st.applyConversationPage([conv(2, [], { unreadCount: 3 })], 'ep:11', { key: 'other', nextCursor: null, first: true })
  st.applyEvent({ id: 'ep:12', type: 'conversation.updated', data: { conversation: conv(2, [refund], { unreadCount: 0 }) } })
  t.same(st.conversationList.value, [])
  t.equal(st.conversation(2)!.unreadCount, 3, 'a label change never moves unread')
})
