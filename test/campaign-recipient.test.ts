// A campaign recipient read from its message (issue 11 point 6): the server's SQL (the
// counters and the table pages) and the one-message rule the live table applies to
// stream events must agree, and the live table must never move a row back to an older
// state than the page it came from.
import t from 'tap'
import Database from 'better-sqlite3'
import { STATUS_SQL } from '../src/domain/campaigns/campaign-analytics.ts'
import { recipientFailure, recipientStatusOf } from '../src/domain/campaigns/campaign-recipient.ts'
import { plainReason } from '../src/domain/sending/meta-errors.ts'
import type { MessageStatus } from '../src/store/schema.ts'
import type { CampaignRecipientDTO, ConversationDTO, MessageDTO } from '../src/events/types.ts'
import { applyRecipientEvent, type RowSeqs } from '../web/src/campaigns/recipients-live.ts'

const MESSAGE_STATUSES: MessageStatus[] = [
  'received',
  'pending',
  'queued',
  'sending',
  'unknown',
  'sent',
  'delivered',
  'read',
  'played',
  'failed',
]

t.test('STATUS_SQL and recipientStatusOf agree for a recipient whose message exists', async (t) => {
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  const q = db.prepare(`SELECT ${STATUS_SQL} AS s FROM (SELECT 'queued' AS state) r, (SELECT ? AS status) m`)
  for (const st of MESSAGE_STATUSES) t.equal(recipientStatusOf(st), (q.get(st) as { s: string }).s, st)
  t.equal(
    recipientStatusOf(null),
    (db.prepare(`SELECT ${STATUS_SQL} AS s FROM (SELECT 'queued' AS state) r, (SELECT NULL AS status) m`).get() as { s: string }).s,
  )
  t.same(recipientFailure(131026, 'x'), { code: 131026, reason: plainReason(131026, 'x') })
  t.same(recipientFailure(null, null), { code: null, reason: 'Not sent' })
})

const row = (id: number, contactId: number, over: Partial<CampaignRecipientDTO> = {}): CampaignRecipientDTO => ({
  id,
  contact: { id: contactId, name: `Customer ${contactId}`, phone: String(4915100000000 + contactId) },
  status: 'queued',
  skip: null,
  error: null,
  queuedAt: 1,
  sentAt: null,
  deliveredAt: null,
  readAt: null,
  failedAt: null,
  repliedAt: null,
  conversationId: null,
  messageId: null,
  ...over,
})

const message = (over: Partial<MessageDTO>): MessageDTO => ({
  id: 0,
  conversationId: 0,
  direction: 'out',
  type: 'template',
  text: 'Hi',
  media: null,
  data: null,
  context: { campaign: { id: 7, name: 'Spring' } },
  replyToMessageId: null,
  reactions: null,
  providerMessageId: null,
  clientMessageId: null,
  senderUserId: null,
  status: 'queued',
  sentAt: null,
  deliveredAt: null,
  readAt: null,
  failedAt: null,
  error: null,
  timestamp: 100,
  ...over,
})

const conv = (contactId: number) => ({ contact: { id: contactId } }) as unknown as ConversationDTO

t.test('the live table: linked by contact, moved by its message, replied once, never backwards', async (t) => {
  const seqs: RowSeqs = new Map([
    [1, 10],
    [2, 10],
  ])
  let rows = [row(1, 41), row(2, 42, { status: 'delivered', messageId: 502, conversationId: 602, sentAt: 5, deliveredAt: 6 })]
  const ev = (n: number, type: string, data: unknown) => ({ id: `ep:${n}`, type, data })

  // Older than the page: already in it.
  t.equal(
    applyRecipientEvent(
      rows,
      ev(9, 'message.updated', { message: message({ id: 502, conversationId: 602, status: 'sent', sentAt: 5 }) }),
      7,
      seqs,
    ),
    null,
  )
  // Another campaign's message, and a message of no campaign: not this table's.
  t.equal(
    applyRecipientEvent(
      rows,
      ev(11, 'message.updated', { message: message({ id: 502, context: { campaign: { id: 8, name: 'x' } } }) }),
      7,
      seqs,
    ),
    null,
  )
  t.equal(applyRecipientEvent(rows, ev(11, 'message.updated', { message: message({ id: 502, context: null }) }), 7, seqs), null)

  // Recipient 1's message is created: found by its contact, linked.
  rows = applyRecipientEvent(
    rows,
    ev(12, 'message.created', { message: message({ id: 501, conversationId: 601 }), conversation: conv(41) }),
    7,
    seqs,
  )!
  t.match(rows[0], { status: 'queued', messageId: 501, conversationId: 601 })
  rows = applyRecipientEvent(
    rows,
    ev(13, 'message.updated', {
      message: message({ id: 501, conversationId: 601, status: 'failed', failedAt: 20, error: { code: 131026, title: 't', detail: 'd' } }),
    }),
    7,
    seqs,
  )!
  t.match(rows[0], { status: 'failed', failedAt: 20, error: { code: 131026, reason: plainReason(131026, 'd') } })

  // Recipient 2 reads (a voice note "played" counts as read), then replies — once.
  rows = applyRecipientEvent(
    rows,
    ev(14, 'message.updated', {
      message: message({ id: 502, conversationId: 602, status: 'played', sentAt: 5, deliveredAt: 6, readAt: 30 }),
    }),
    7,
    seqs,
  )!
  t.match(rows[1], { status: 'read', readAt: 30, deliveredAt: 6 })
  const reply = (n: number, id: number, at: number) =>
    ev(n, 'message.created', {
      message: message({ id, conversationId: 602, direction: 'in', type: 'text', timestamp: at }),
      conversation: conv(42),
    })
  rows = applyRecipientEvent(rows, reply(15, 900, 40), 7, seqs)!
  t.equal(rows[1]!.repliedAt, 40)
  t.equal(applyRecipientEvent(rows, reply(16, 901, 50), 7, seqs), null, 'the first reply counts')
  // A late, older status (replayed) does not undo the read.
  t.equal(applyRecipientEvent(rows, ev(14, 'message.updated', { message: message({ id: 502, status: 'delivered' }) }), 7, seqs), null)
  t.equal(rows[1]!.status, 'read')
})
