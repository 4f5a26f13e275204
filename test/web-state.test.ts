// The inbox's state logic without a browser: every stream event goes through
// applyEvent; REST pages through apply*Page. Ordering, dedupe, staleness and reset.
import t from 'tap'
import { channelParams, createInboxState, listKey, threadItems, type StreamEvent } from '../web/src/state/inbox.ts'
import type { ConversationDTO, MessageDTO } from '../src/events/types.ts'
import { channelBadge, channelFilterOptions, channelWindow } from '../web/src/lib/channels.ts'
import { conv, msg } from './helpers/dto-fixtures.ts'

const EPOCH = 'ep1'
const id = (n: number, epoch = EPOCH) => `${epoch}:${n}`

const created = (n: number, m: MessageDTO, c: ConversationDTO): StreamEvent => ({
  id: id(n),
  type: 'message.created',
  data: { message: m, conversation: c },
})
const updated = (n: number, m: MessageDTO): StreamEvent => ({ id: id(n), type: 'message.updated', data: { message: m } })
const convUpdated = (n: number, c: ConversationDTO): StreamEvent => ({
  id: id(n),
  type: 'conversation.updated',
  data: { conversation: c },
})

function boot(convs: ConversationDTO[] = [], at = 10) {
  const s = createInboxState({ now: () => 42 })
  s.applyConversationPage(convs, id(at), { key: s.paging.value.key, nextCursor: null, first: true })
  return s
}

t.test('bootstrap page sets the cursor; the list is most recent activity first', async (t) => {
  const s = boot([conv(1, { lastActivityAt: 5 }), conv(2, { lastActivityAt: 9 }), conv(3, { lastActivityAt: 7 })])
  t.equal(s.cursor.value, id(10))
  t.same(
    s.conversationList.value.map((c) => c.id),
    [2, 3, 1],
  )
})

t.test('live events reorder the list, count unread, and move the cursor', async (t) => {
  const s = boot([conv(1, { lastActivityAt: 5 }), conv(2, { lastActivityAt: 9 })])
  t.equal(s.applyEvent(created(11, msg(100, 1), conv(1, { lastActivityAt: 20, unreadCount: 1 }))), 'applied')
  t.same(
    s.conversationList.value.map((c) => c.id),
    [1, 2],
    'conversation 1 moves to the top',
  )
  t.equal(s.unreadTotal.value, 1)
  t.equal(s.cursor.value, id(11))
  // A brand-new conversation appears at once.
  s.applyEvent(created(12, msg(101, 3), conv(3, { lastActivityAt: 30, unreadCount: 1 })))
  t.same(
    s.conversationList.value.map((c) => c.id),
    [3, 1, 2],
  )
  t.equal(s.unreadTotal.value, 2)
  t.equal(s.lastSyncedAt.value, 42)
})

t.test('the same event twice (replay, relay from another tab) applies once', async (t) => {
  const s = boot([conv(1)])
  const th = s.thread(1)
  s.applyMessagePage(1, [], id(10), { older: false, nextCursor: null })
  const ev = created(11, msg(100, 1), conv(1, { unreadCount: 1 }))
  t.equal(s.applyEvent(ev), 'applied')
  t.equal(s.applyEvent(ev), 'duplicate')
  t.equal(s.applyEvent({ ...ev }), 'duplicate')
  t.same(
    threadItems(th).messages.map((m) => m.id),
    [100],
  )
})

t.test('events older than a snapshot do not overwrite it; newer ones do', async (t) => {
  const s = createInboxState()
  s.applyConversationPage([conv(1, { unreadCount: 3, lastMessagePreview: 'three' })], id(20), {
    key: s.paging.value.key,
    nextCursor: null,
    first: true,
  })
  // The stream was behind the page: an event from before the page was read arrives.
  t.equal(s.applyEvent(convUpdated(15, conv(1, { unreadCount: 1, lastMessagePreview: 'one' }))), 'ignored')
  t.equal(s.conversation(1)!.unreadCount, 3, 'the page (newer) wins')
  t.equal(s.applyEvent(convUpdated(21, conv(1, { unreadCount: 4, lastMessagePreview: 'four' }))), 'applied')
  t.equal(s.conversation(1)!.lastMessagePreview, 'four')
  t.equal(s.conversation(1)!.unreadCount, 3, "an event's shared copy does not set this person's unread (issue 13)")
  // And a page read before the latest event does not take it back.
  s.applyConversationPage([conv(1, { unreadCount: 3, lastMessagePreview: 'three' })], id(20), {
    key: s.paging.value.key,
    nextCursor: null,
    first: true,
  })
  t.equal(s.conversation(1)!.lastMessagePreview, 'four', 'a slower page load never undoes a live update')
})

t.test('message statuses never go back when events replay out of order', async (t) => {
  const s = boot([conv(1)])
  s.applyMessagePage(1, [msg(100, 1, { direction: 'out', status: 'queued' })], id(10), { older: false, nextCursor: null })
  s.applyEvent(updated(13, msg(100, 1, { direction: 'out', status: 'read' })))
  s.applyEvent(updated(12, msg(100, 1, { direction: 'out', status: 'delivered' })))
  s.applyEvent(updated(11, msg(100, 1, { direction: 'out', status: 'sent' })))
  t.equal(s.thread(1).byId.get(100)!.status, 'read')
})

t.test('later REST snapshots do not move the stream cursor', async (t) => {
  const s = boot([conv(1)], 10)
  s.applyMessagePage(1, [msg(100, 1)], id(50), { older: false, nextCursor: null })
  s.applyConversation(conv(1, { unreadCount: 0 }), id(60))
  t.equal(s.cursor.value, id(10), 'the stream resumes from where it is, not from the newest page')
})

t.test('events arriving while a conversation loads are kept when its page lands', async (t) => {
  const s = boot([conv(1)])
  const th = s.thread(1) // opened: loading
  s.applyEvent(created(31, msg(103, 1), conv(1)))
  s.applyEvent(created(29, msg(102, 1), conv(1)))
  // The page was read at 30: it has 100–102 but not 103.
  s.applyMessagePage(1, [msg(100, 1), msg(101, 1), msg(102, 1)], id(30), { older: false, nextCursor: 'older' })
  t.same(
    threadItems(th).messages.map((m) => m.id),
    [100, 101, 102, 103],
  )
  t.equal(th.hasOlder.value, true)
  // Older page prepends in order.
  s.applyMessagePage(1, [msg(98, 1), msg(99, 1)], id(35), { older: true, nextCursor: null })
  t.same(
    threadItems(th).messages.map((m) => m.id),
    [98, 99, 100, 101, 102, 103],
  )
  t.equal(th.hasOlder.value, false)
})

t.test('an optimistic message is replaced by the real one, never doubled', async (t) => {
  const s = boot([conv(1)])
  const th = s.thread(1)
  s.applyMessagePage(1, [], id(10), { older: false, nextCursor: null })
  const pending = {
    clientMessageId: 'c-1',
    conversationId: 1,
    text: 'hello',
    label: null,
    replyToMessageId: null,
    createdAt: 1,
    state: 'sending' as const,
    error: null,
    body: { text: 'hello', clientMessageId: 'c-1' },
    path: '/api/conversations/1/messages',
  }

  t.test('the stream event first, then the POST answer', async (t) => {
    s.addPending(pending)
    t.equal(threadItems(th).pending.length, 1)
    const real = msg(200, 1, { direction: 'out', clientMessageId: 'c-1', status: 'queued' })
    s.applyEvent(created(11, real, conv(1)))
    s.applyEvent(updated(12, { ...real, status: 'sent' }))
    s.applySentMessage(real) // the 202 arrives late, with the older status
    const items = threadItems(th)
    t.equal(items.pending.length, 0)
    t.same(
      items.messages.map((m) => [m.id, m.status]),
      [[200, 'sent']],
      'one bubble, and the late answer did not take the status back',
    )
    s.addPending(pending) // a retry of a confirmed message adds nothing
    t.equal(threadItems(th).pending.length, 0)
  })

  t.test('the POST answer first, then the stream event', async (t) => {
    s.addPending({ ...pending, clientMessageId: 'c-2' })
    const real = msg(201, 1, { direction: 'out', clientMessageId: 'c-2', status: 'queued' })
    s.applySentMessage(real)
    t.equal(threadItems(th).pending.length, 0)
    s.applyEvent(created(13, real, conv(1)))
    s.applyEvent(updated(14, { ...real, status: 'delivered' }))
    t.same(
      threadItems(th).messages.map((m) => [m.id, m.status]),
      [
        [200, 'sent'],
        [201, 'delivered'],
      ],
    )
  })

  t.test('a failed POST keeps the bubble, marked failed, for a retry', async (t) => {
    s.addPending({ ...pending, clientMessageId: 'c-3' })
    s.updatePending(1, 'c-3', { state: 'failed', error: 'offline' })
    t.equal(threadItems(th).pending[0]!.state, 'failed')
  })
})

t.test('reset: the cursor moves, old event ids are forgotten, a replace page drops what it does not confirm', async (t) => {
  const s = boot([conv(1), conv(2)], 10)
  s.applyEvent(created(11, msg(100, 1), conv(1, { unreadCount: 1 })))
  t.equal(s.applyEvent({ id: 'ep2:5', type: 'reset', data: { reason: 'other_epoch', cursor: 'ep2:5' } }), 'reset')
  t.equal(s.cursor.value, 'ep2:5')
  // A new-epoch event arriving before the refetch lands is applied (ids restart lower).
  t.equal(s.applyEvent({ id: 'ep2:6', type: 'conversation.updated', data: { conversation: conv(7, { lastActivityAt: 99 }) } }), 'applied')
  // The refetch was read at ep2:5: it knows conversation 2 only.
  s.applyConversationPage(
    [conv(2, { unreadCount: 0 })],
    'ep2:5',
    { key: s.paging.value.key, nextCursor: null, first: true },
    { replace: true },
  )
  t.same(
    s.conversationList.value.map((c) => c.id).sort(),
    [2, 7],
    'conversation 1 (gone from the new database) is dropped; 7 (newer than the page) kept',
  )
  t.equal(s.cursor.value, 'ep2:6', 'the stream position stays the stream position')
  // Old-epoch events that straggle in after the reset start another reset, not a merge.
  t.equal(s.applyEvent(created(12, msg(101, 1), conv(1))), 'reset')
})

t.test('an event from another database without a reset first is treated as one', async (t) => {
  const s = boot([conv(1)], 10)
  t.equal(s.applyEvent(convUpdated(11, conv(1))), 'applied')
  t.equal(s.applyEvent({ id: 'other:3', type: 'conversation.updated', data: { conversation: conv(1) } }), 'reset')
  t.equal(s.cursor.value, 'other:3')
})

t.test('pings and events without ids do not move the cursor', async (t) => {
  const s = boot([], 10)
  t.equal(s.applyEvent({ id: null, type: 'ping', data: { t: 1 } }), 'ignored')
  t.equal(s.applyEvent({ id: null, type: 'message.created', data: {} }), 'ignored')
  t.equal(s.cursor.value, id(10))
  t.equal(s.lastSyncedAt.value, 42)
})

t.test('new-message listeners fire once per new message, not for replays of what is shown', async (t) => {
  const s = boot([conv(1)], 10)
  const heard: number[] = []
  s.onMessage((m) => heard.push(m.id))
  s.applyMessagePage(1, [msg(100, 1)], id(12), { older: false, nextCursor: null })
  s.applyEvent(created(11, msg(100, 1), conv(1))) // already in the page read at 12
  s.applyEvent(created(13, msg(101, 1), conv(1)))
  s.applyEvent(created(13, msg(101, 1), conv(1)))
  s.applyEvent(created(14, msg(102, 2), conv(2))) // a conversation not open
  t.same(heard, [101, 102])
})

t.test('filters, search and the paging frontier', async (t) => {
  const s = createInboxState()
  const page = [
    conv(1, { lastActivityAt: 50, contact: { id: 1, externalId: '4915112345678', name: 'Ana Souza', phone: '4915112345678' } }),
    conv(2, {
      lastActivityAt: 40,
      status: 'resolved',
      contact: { id: 2, externalId: '5511999990000', name: 'Bruno', phone: '5511999990000' },
    }),
  ]
  s.applyConversationPage(page, id(10), { key: s.paging.value.key, nextCursor: 'next', first: true })
  t.same(
    s.conversationList.value.map((c) => c.id),
    [1],
    'open by default',
  )
  s.filter.value = 'all'
  t.same(
    s.conversationList.value.map((c) => c.id),
    [1, 2],
  )
  s.query.value = '+49 151'
  t.same(
    s.conversationList.value.map((c) => c.id),
    [1],
    'a number typed with formatting',
  )
  s.query.value = 'bru'
  t.same(
    s.conversationList.value.map((c) => c.id),
    [2],
  )
  s.query.value = ''
  s.filter.value = 'open'
  // Page 1 of "open" ends at activity 50 and there is more: an older conversation that
  // arrived from another view is held back until its page is loaded, so the list never
  // shows a gap out of order.
  s.applyConversation(conv(3, { lastActivityAt: 10 }), id(11))
  t.same(
    s.conversationList.value.map((c) => c.id),
    [1],
  )
  s.applyConversationPage([conv(3, { lastActivityAt: 10 })], id(12), { key: s.paging.value.key, nextCursor: null, first: false })
  t.same(
    s.conversationList.value.map((c) => c.id),
    [1, 3],
  )
})

t.test('10,000 conversations and 5,000 messages held, ordered and paged', async (t) => {
  const s = createInboxState()
  const many = Array.from({ length: 10_000 }, (_, i) => conv(i + 1, { lastActivityAt: i }))
  s.applyConversationPage(many, id(10), { key: s.paging.value.key, nextCursor: null, first: true })
  t.equal(s.conversationList.value.length, 10_000)
  s.applyEvent(created(11, msg(1, 5), conv(5, { lastActivityAt: 1e9 })))
  t.equal(s.conversationList.value[0]!.id, 5)
  const msgs = Array.from({ length: 5000 }, (_, i) => msg(i + 1, 7))
  s.applyMessagePage(7, msgs.slice(2500), id(12), { older: false, nextCursor: 'x' })
  s.applyMessagePage(7, msgs.slice(0, 2500), id(12), { older: true, nextCursor: null })
  t.equal(threadItems(s.thread(7)).messages.length, 5000)
  t.equal(threadItems(s.thread(7)).messages[0]!.id, 1)
})

t.test("a failed send reaches the list's preview through message.updated of the last message", async (t) => {
  const failedError = { code: 131026, title: 'Message undeliverable', detail: 'Unable to deliver message.' }
  const out = (over: Partial<MessageDTO> = {}) => msg(100, 1, { direction: 'out', status: 'sent', ...over })
  const lastOut = { lastMessageId: 100, lastMessageDirection: 'out' as const, lastMessagePreview: 'on its way', lastMessageStatus: 'sent' }
  const s = boot([conv(1, lastOut), conv(2, { lastMessageId: 200, lastMessageStatus: 'received' })], 10)
  const preview = () => {
    const c = s.conversationList.value.find((x) => x.id === 1)!
    return [c.lastMessageStatus, c.lastMessageError]
  }

  // No thread is open for it: the list alone learns of the failure.
  t.equal(s.applyEvent(updated(12, out({ status: 'failed', error: failedError }))), 'applied')
  t.same(preview(), ['failed', 'Unable to deliver message.'], 'status and reason, worded like the bubble')
  t.equal(s.applyEvent(updated(12, out({ status: 'failed', error: failedError }))), 'duplicate')

  // A conversation event read before the failure (its copy says `sent`) arrives late:
  // its other news applies, the status stays failed.
  t.equal(s.applyEvent(convUpdated(11, conv(1, { ...lastOut, unreadCount: 2, lastMessagePreview: 'renamed' }))), 'applied')
  t.equal(s.conversation(1)!.lastMessagePreview, 'renamed')
  t.same(preview(), ['failed', 'Unable to deliver message.'], 'an older copy does not hide the failure')
  // So does a page read before it (at 11) that lands after it.
  s.applyConversationPage([conv(1, { ...lastOut, unreadCount: 2 })], id(11), { key: s.paging.value.key, nextCursor: null, first: true })
  t.same(preview(), ['failed', 'Unable to deliver message.'])

  // A status of a message that is not the last one leaves the preview alone.
  t.equal(s.applyEvent(updated(13, msg(99, 2, { direction: 'out', status: 'failed', error: failedError }))), 'ignored')
  t.equal(s.conversation(2)!.lastMessageStatus, 'received')

  // The customer writes again: the new last message is theirs, the failure leaves the preview.
  const next = msg(101, 1)
  s.applyEvent(created(14, next, conv(1, { lastMessageId: 101, lastMessageDirection: 'in', lastMessageStatus: 'received' })))
  t.same(preview(), ['received', null])
  // A late status of the old message does nothing now.
  t.equal(s.applyEvent(updated(15, out({ status: 'failed', error: failedError }))), 'ignored')
  t.same(preview(), ['received', null])
})

t.test('preview statuses never go back when message.updated events arrive out of order', async (t) => {
  const s = boot([conv(1, { lastMessageId: 100, lastMessageDirection: 'out', lastMessageStatus: 'queued' })], 10)
  const out = (status: string) => msg(100, 1, { direction: 'out', status })
  s.applyEvent(updated(13, out('read')))
  s.applyEvent(updated(12, out('delivered')))
  s.applyEvent(updated(11, out('sent')))
  t.equal(s.conversation(1)!.lastMessageStatus, 'read')
  t.equal(s.conversation(1)!.lastMessageError, null)
  // A newer snapshot from the server is the truth again.
  s.applyConversation(conv(1, { lastMessageId: 100, lastMessageDirection: 'out', lastMessageStatus: 'read' }), id(20))
  t.equal(s.conversation(1)!.lastMessageStatus, 'read')
  // After a reset, statuses remembered from the old database are forgotten.
  s.applyEvent({ id: 'ep2:1', type: 'reset', data: { reason: 'other_epoch', cursor: 'ep2:1' } })
  s.applyConversationPage(
    [conv(1, { lastMessageId: 100, lastMessageDirection: 'out', lastMessageStatus: 'sent' })],
    'ep2:1',
    { key: s.paging.value.key, nextCursor: null, first: true },
    { replace: true },
  )
  t.equal(s.conversation(1)!.lastMessageStatus, 'sent', 'the new database says sent')
})

t.test('the channel filter narrows the list, and is part of the paging key', async (t) => {
  const s = createInboxState()
  const page = [
    conv(1, { lastActivityAt: 50, channelId: 1, channelKind: 'whatsapp' }),
    conv(2, { lastActivityAt: 40, channelId: 2, channelKind: 'messenger' }),
    conv(3, { lastActivityAt: 30, channelId: 3, channelKind: 'whatsapp' }),
  ]
  s.applyConversationPage(page, id(10), { key: s.paging.value.key, nextCursor: null, first: true })
  const ids = () => s.conversationList.value.map((c) => c.id)
  t.same(ids(), [1, 2, 3])
  s.channel.value = 'kind:messenger'
  t.same(ids(), [2])
  s.channel.value = 'kind:whatsapp'
  t.same(ids(), [1, 3])
  s.channel.value = 'ch:3'
  t.same(ids(), [3])
  // A live conversation of another channel does not show under this filter.
  s.applyEvent(created(11, msg(100, 4), conv(4, { lastActivityAt: 99, channelId: 2, channelKind: 'messenger' })))
  t.same(ids(), [3])
  s.channel.value = ''
  t.same(ids(), [4, 1, 2, 3])
  t.not(listKey('open', '', 'ch:3'), listKey('open', ''), 'each channel filter pages on its own')
  t.same(channelParams('ch:3'), { channel: 3 })
  t.same(channelParams('kind:messenger'), { kind: 'messenger' })
  t.same(channelParams(''), {})
})

t.test("each channel's window: WhatsApp templates after 24 h; Messenger human agent until 7 days, then closed", async (t) => {
  const now = 1_700_000_000_000
  const H = 3_600_000
  const lastInbound = (hoursAgo: number) => now - hoursAgo * H + 24 * H // windowExpiresAt
  t.match(channelWindow('whatsapp', lastInbound(1), now), { mode: 'open', label: '23 h left' })
  t.match(channelWindow('messenger', lastInbound(1), now), { mode: 'open', label: '23 h left' })
  t.match(channelWindow('whatsapp', lastInbound(30), now), { mode: 'template', label: 'Template only', until: null })
  t.match(channelWindow('messenger', lastInbound(30), now), {
    mode: 'human_agent',
    label: 'Human agent · 5 d left',
    until: now - 30 * H + 7 * 24 * H,
  })
  t.match(channelWindow('messenger', lastInbound(7 * 24 - 2), now), { mode: 'human_agent', label: 'Human agent · 2 h left' })
  t.match(channelWindow('messenger', lastInbound(7 * 24), now), { mode: 'closed', label: 'Closed', until: null }, 'exactly 7 days: closed')
  t.match(channelWindow('messenger', null, now), { mode: 'closed' }, 'never written: closed')
  t.match(channelWindow('whatsapp', null, now), { mode: 'template' })
})

t.test('the channel badge names the channel only when its kind has several', async (t) => {
  const ch = (id: number, kind: 'whatsapp' | 'messenger', name: string) =>
    ({
      id,
      kind,
      name,
      externalId: String(id),
      displayPhoneNumber: null,
      businessAccountId: null,
      enabled: true,
      hasAccessToken: true,
      hasAppSecret: false,
      hasVerifyToken: false,
      webhookPath: `/webhooks/${kind}`,
      createdAt: 0,
      credentials: { status: 'unchecked', checkedAt: null, detail: null },
      autoAssign: false,
      assigneeOnly: false,
    }) as const
  const one = [ch(1, 'whatsapp', 'Sales'), ch(2, 'messenger', 'Shop')]
  t.equal(channelBadge('whatsapp', 1, one), 'WhatsApp')
  t.equal(channelBadge('messenger', 2, one), 'Messenger')
  const two = [...one, ch(3, 'whatsapp', 'Support line'), ch(4, 'whatsapp', 'WhatsApp main')]
  t.equal(channelBadge('whatsapp', 3, two), 'WhatsApp · Support line')
  t.equal(channelBadge('whatsapp', 4, two), 'WhatsApp main', 'a name that says its kind stands alone')
  t.equal(channelBadge('messenger', 2, two), 'Messenger')
  t.equal(channelBadge('whatsapp', 99, two), 'WhatsApp', 'a channel not loaded yet: its kind')
  t.same(
    channelFilterOptions(two).map(([v]) => v),
    ['', 'kind:whatsapp', 'ch:1', 'ch:3', 'ch:4', 'ch:2'],
  )
})
