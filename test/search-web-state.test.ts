// Issue 15, the browser's state without a browser: a thread opened around a message
// (a search result) starts in the middle of the history, pages older and newer from
// there, holds the stream's new messages back until the pages in between are in, and
// then shows live messages as any thread does. Also the search panel's pure helpers:
// grouping by conversation and cutting a snippet at its highlights (text only).
import t from 'tap'
import { createInboxState, threadItems, type StreamEvent } from '../web/src/state/inbox.ts'
import { groupResults, markSnippet } from '../web/src/state/search.ts'
import type { SearchResult } from '../web/src/api/search.ts'
import { conv, msg } from './helpers/dto-fixtures.ts'

const id = (n: number) => `ep1:${n}`
const ev = (n: number, type: string, data: unknown): StreamEvent => ({ id: id(n), type, data })
const C = 7
const conversation = conv(C, { lastMessageId: 100, lastMessagePreview: 'm100', lastMessageDirection: 'in', lastMessageAt: 100 })
const m = (n: number) => msg(n, C, { text: `m${n}` })
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const shown = (s: ReturnType<typeof createInboxState>) => threadItems(s.thread(C)).messages.map((x) => x.id)

t.test('a thread around a message: older and newer pages, live messages held until the live end', async (t) => {
  const s = createInboxState()
  s.applyConversationPage([conversation], id(10), { key: 'x', nextCursor: null, first: true })
  // Messages 1..100 exist; the search result is 50: the page around it is 45..55.
  s.applyMessagePage(C, range(45, 55).map(m), id(10), { older: true, nextCursor: 'older-45', newerCursor: 'newer-55' }, { replace: true })
  const th = s.thread(C)
  t.equal(th.status.value, 'ready')
  t.same(shown(s), range(45, 55), 'starts in the middle')
  t.equal(th.hasOlder.value, true)
  t.equal(th.olderCursor, 'older-45')
  t.equal(th.hasNewer.value, true)
  t.equal(th.newerCursor, 'newer-55')

  // A customer's new message (101) arrives live: held, not shown after 55 with a gap.
  const m101 = m(101)
  t.equal(s.applyEvent(ev(11, 'message.created', { message: m101, conversation: { ...conversation, lastMessageId: 101 } })), 'applied')
  t.same(shown(s), range(45, 55), 'not shown across the gap')
  t.ok(th.byId.has(101), 'but held')
  // An update of a shown message applies as usual.
  t.equal(s.applyEvent(ev(12, 'message.updated', { message: { ...m(50), text: 'edited' } })), 'applied')
  t.equal(th.byId.get(50)!.text, 'edited')

  // Older: one page further back, as today; the newer side is untouched.
  s.applyMessagePage(C, range(35, 44).map(m), id(12), { older: true, nextCursor: 'older-35' })
  t.same(shown(s), range(35, 55))
  t.equal(th.olderCursor, 'older-35')
  t.equal(th.hasNewer.value, true, 'an older page does not reach the live end')
  t.equal(th.newerCursor, 'newer-55')

  // Newer: 56..80, then 81..101 — the last page reaches the live end (it also holds 101).
  th.loadingNewer.value = true
  s.applyMessagePage(C, range(56, 80).map(m), id(12), { older: false, nextCursor: null, newerCursor: 'newer-80' })
  t.same(shown(s), range(35, 80), 'the next page after the window')
  t.equal(th.loadingNewer.value, false)
  t.equal(th.hasNewer.value, true)
  t.equal(th.olderCursor, 'older-35', 'paging newer keeps the older cursor')
  // 102 arrives while the last page is on its way: still held.
  t.equal(s.applyEvent(ev(13, 'message.created', { message: m(102), conversation: { ...conversation, lastMessageId: 102 } })), 'applied')
  // The last page was read at event 12: it has 81..101, not 102 (which streamed in after).
  s.applyMessagePage(C, range(81, 101).map(m), id(12), { older: false, nextCursor: null, newerCursor: null })
  t.equal(th.hasNewer.value, false, 'the live end')
  t.same(shown(s), range(35, 102), 'everything in order, the held 102 included, nothing twice')

  // From now on, live messages show at once.
  t.equal(s.applyEvent(ev(14, 'message.created', { message: m(103), conversation: { ...conversation, lastMessageId: 103 } })), 'applied')
  t.same(shown(s).slice(-2), [102, 103])
  // A replayed event changes nothing.
  t.equal(s.applyEvent(ev(14, 'message.created', { message: m(103), conversation })), 'duplicate')
  t.same(shown(s), range(35, 103))
})

t.test('around a message of a thread already open: the window replaces it; the newest page brings the live end back', async (t) => {
  const s = createInboxState()
  s.applyConversationPage([conversation], id(10), { key: 'x', nextCursor: null, first: true })
  s.applyMessagePage(C, range(91, 100).map(m), id(10), { older: false, nextCursor: 'older-91' })
  const th = s.thread(C)
  t.equal(th.hasNewer.value, false)
  // A jump to 20 (not loaded): the page around it replaces the thread's messages.
  s.applyMessagePage(C, range(15, 25).map(m), id(11), { older: true, nextCursor: 'older-15', newerCursor: 'newer-25' }, { replace: true })
  t.same(shown(s), range(15, 25), 'only the window: no gap down to 91')
  t.equal(th.olderCursor, 'older-15')
  t.equal(th.hasNewer.value, true)
  // Around the last message: the window is the live end already.
  s.applyMessagePage(C, range(90, 100).map(m), id(12), { older: true, nextCursor: 'older-90', newerCursor: null }, { replace: true })
  t.equal(th.hasNewer.value, false)
  t.same(shown(s), range(90, 100))
  // Back in the middle, then the agent replies: the newest page replaces the window (loadLatest).
  s.applyMessagePage(C, range(15, 25).map(m), id(13), { older: true, nextCursor: 'older-15', newerCursor: 'newer-25' }, { replace: true })
  s.applyMessagePage(C, range(91, 100).map(m), id(13), { older: false, nextCursor: 'older-91' }, { replace: true })
  t.equal(th.hasNewer.value, false, 'the newest page is the live end')
  t.same(shown(s), range(91, 100))
  t.equal(th.olderCursor, 'older-91')
  // An answer to a send shows at once again.
  s.applySentMessage(msg(101, C, { direction: 'out', text: 'reply' }))
  t.same(shown(s).slice(-1), [101])
})

t.test('search results grouped by conversation; snippets cut at their highlights as text', async (t) => {
  const r = (conversationId: number, messageId: number | null): SearchResult => ({
    conversationId,
    messageId,
    snippet: 'x',
    timestamp: 0,
    conversation: conv(conversationId),
  })
  const groups = groupResults([r(1, 10), r(2, 20), r(1, 11), r(3, null)])
  t.same(
    groups.map((g) => [g.conversationId, g.items.map((i) => i.messageId)]),
    [
      [1, [10, 11]],
      [2, [20]],
      [3, [null]],
    ],
    'in the order each conversation first appears',
  )

  const pieces = markSnippet('the blue sofa <script>alert(1)</script>', [
    [4, 8],
    [14, 22],
  ])
  t.same(pieces, [
    { text: 'the ', mark: false },
    { text: 'blue', mark: true },
    { text: ' sofa ', mark: false },
    { text: '<script>', mark: true },
    { text: 'alert(1)</script>', mark: false },
  ])
  t.same(markSnippet('plain', undefined), [{ text: 'plain', mark: false }], 'no highlights: the snippet plain')
  t.same(
    markSnippet('abcdef', [
      [3, 99],
      [1, 4],
      [-5, 0],
    ]),
    [
      { text: 'a', mark: false },
      { text: 'bcd', mark: true },
      { text: 'ef', mark: true },
    ],
    'overlaps and out-of-range ends are clipped',
  )
})
