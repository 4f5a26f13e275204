// The send guard's browser state without a browser (web/src/state/send-guard.ts): what a
// reply names as seen, and what a held reply does to the bubble, the draft and the banner.
import t from 'tap'
import { createInboxState, threadItems, type PendingMessage } from '../web/src/state/inbox.ts'
import { createSendGuard } from '../web/src/state/send-guard.ts'
import { assignToMe, changedBy, dismiss, secondsAgo, sendAnyway } from '../web/src/state/send-guard-actions.ts'
import { ApiError } from '../web/src/api/client.ts'
import type { Drafts } from '../web/src/lib/drafts.ts'
import { msg as dtoMsg } from './helpers/dto-fixtures.ts'
import type { MessageDTO } from '../src/events/types.ts'

/** Message `id` (test/helpers/dto-fixtures.ts) in conversation 7, at `id` seconds, without a provider id. */
const msg = (id: number, over: Partial<MessageDTO> = {}): MessageDTO =>
  dtoMsg(id, 7, { providerMessageId: null, timestamp: id * 1000, ...over })

function setUp() {
  const state = createInboxState()
  const store = new Map<number, string>()
  const drafts: Drafts = {
    get: (id) => store.get(id),
    set: (id, text) => void store.set(id, text),
    delete: (id) => void store.delete(id),
    use: () => {},
  }
  const submitted: PendingMessage[] = []
  let assigned = false
  const guard = createSendGuard({
    state,
    drafts,
    submit: (p) => submitted.push(p),
    assignToMe: async () => assigned,
  })
  state.applyMessagePage(7, [msg(1), msg(2)], 'ep:1', { older: false, nextCursor: null })
  const pending = (text: string, body: Record<string, unknown> = { text }): PendingMessage => ({
    clientMessageId: `c-${text}`,
    conversationId: 7,
    text,
    label: null,
    replyToMessageId: null,
    createdAt: 0,
    state: 'sending',
    error: null,
    body: guard.stamp({ ...body, clientMessageId: `c-${text}` }, 7),
    path: '/api/conversations/7/messages',
  })
  return { state, drafts, guard, submitted, pending, setAssigned: (v: boolean) => (assigned = v) }
}

t.test('a reply names the newest message on screen when its draft began', async (t) => {
  const { state, guard, pending } = setUp()
  t.equal(pending('no draft').body.seenMessageId, 2, 'without a draft: the newest on screen')
  guard.drafting(7, true)
  state.applyMessagePage(7, [msg(1), msg(2), msg(3)], 'ep:2', { older: false, nextCursor: null })
  t.equal(pending('typed before 3').body.seenMessageId, 2, 'message 3 came while typing: not seen')
  t.equal(pending('next').body.seenMessageId, 3, 'a sent draft starts over')
  guard.drafting(7, true)
  guard.drafting(7, false)
  guard.drafting(7, true)
  t.equal(pending('cleared and retyped').body.seenMessageId, 3)
  t.equal(
    createSendGuard({ state: createInboxState(), drafts: setUp().drafts, submit: () => {}, assignToMe: async () => true }).stamp({}, 9)
      .seenMessageId,
    undefined,
    'nothing loaded: nothing named',
  )
})

t.test('409: the bubble goes, the words return to the draft, the banner holds the reply; Send anyway forces it', async (t) => {
  const { state, drafts, guard, submitted, pending } = setUp()
  const p = pending('Sorry, checking')
  state.addPending(p)
  drafts.set(7, 'typed since')
  const ben = msg(3, { direction: 'out', senderUserId: 5, text: 'Ben was first' })
  const err = new ApiError(409, 'CONVERSATION_CHANGED', 'Ben replied since you last looked', {
    error: { code: 'CONVERSATION_CHANGED' },
    newer: [ben],
    senders: { 5: 'Ben' },
  })
  const before = guard.restored.value
  const held = guard.intercept(p, err)
  t.ok(held, 'held')
  await held
  t.same(threadItems(state.thread(7)).pending, [], 'no optimistic bubble')
  t.same(
    threadItems(state.thread(7)).messages.map((m) => m.id),
    [1, 2, 3],
    'Ben’s message shows at once',
  )
  t.equal(drafts.get(7), 'Sorry, checking\ntyped since', 'the words are back, before what was typed since')
  t.equal(guard.restored.value, before + 1, 'the composer reloads its draft')
  const hold = guard.holds.value.get(7)!
  t.equal(hold.code, 'CONVERSATION_CHANGED')
  t.equal(changedBy(hold.newer.at(-1)!, hold.senders), 'Ben replied')

  drafts.set(7, 'Sorry, checking')
  sendAnyway(guard, 7)
  t.equal(guard.holds.value.has(7), false, 'the banner goes')
  t.equal(drafts.get(7), undefined, 'the draft it went back to is cleared')
  t.equal(submitted.length, 1)
  t.match(submitted[0]!.body, { text: 'Sorry, checking', seenMessageId: 2, force: true, clientMessageId: 'c-Sorry, checking' })
})

t.test('Edit: the banner goes, the draft stays, the next reply counts the shown messages as seen', async (t) => {
  const { guard, drafts, pending } = setUp()
  const p = pending('first try')
  const err = new ApiError(409, 'CONVERSATION_CHANGED', 'The customer wrote since you last looked', { newer: [msg(4)], senders: {} })
  await guard.intercept(p, err)
  t.equal(changedBy(guard.holds.value.get(7)!.newer[0]!, {}), 'The customer wrote')
  dismiss(guard, 7)
  t.equal(guard.holds.value.has(7), false)
  t.equal(drafts.get(7), 'first try')
  t.equal(pending('first try, edited').body.seenMessageId, 4)
})

t.test('403 ASSIGNEE_ONLY holds the reply until "Assign to me" works; other failures are not the guard’s', async (t) => {
  const { guard, pending, setAssigned } = setUp()
  t.equal(guard.intercept(pending('x'), new ApiError(0, 'NETWORK', 'Parley could not be reached')), null)
  t.equal(guard.intercept(pending('y'), new ApiError(422, 'WINDOW_CLOSED', 'closed')), null)
  const err = new ApiError(403, 'ASSIGNEE_ONLY', 'Only Cy, who is assigned, can reply', { assignee: { id: 3, name: 'Cy' } })
  await guard.intercept(pending('z'), err)
  t.same(guard.holds.value.get(7)!.assignee, { id: 3, name: 'Cy' })
  await assignToMe(guard, 7)
  t.equal(guard.holds.value.has(7), true, 'refused: still held')
  setAssigned(true)
  await assignToMe(guard, 7)
  t.equal(guard.holds.value.has(7), false, 'assigned: the agent sends')
})

t.test('a template’s text never lands in the draft; times read as people say them', async (t) => {
  const { guard, drafts, pending } = setUp()
  const p = pending('Hello {{1}}', { template: { name: 'hello', language: 'en' } })
  await guard.intercept(p, new ApiError(409, 'CONVERSATION_CHANGED', 'changed', { newer: [msg(5)] }))
  t.equal(drafts.get(7), undefined)
  t.equal(secondsAgo(10_000, 12_000), 'just now')
  t.equal(secondsAgo(0, 20_000), '20 s ago')
  t.equal(secondsAgo(0, 185_000), '3 min ago')
  t.equal(secondsAgo(0, 7_300_000), '2 h ago')
  t.equal(changedBy(msg(6, { direction: 'system', type: 'note', senderUserId: 5 }), { 5: 'Ben' }), 'Ben added a note')
  t.equal(changedBy(msg(6, { direction: 'out' }), {}), 'A reply was sent from outside Parley')
})
