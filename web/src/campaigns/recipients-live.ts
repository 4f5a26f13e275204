// The per-recipient table, live (issue 11 point 6: the counters said Read 2 while the
// table still said Delivered until a reload). The counters' `campaign.updated` is only
// a summary; the table follows the events it is summarized from, which already carry
// what a row needs:
//   - `message.created` of the campaign's message (its `context.campaign`, and the
//     conversation's contact: one recipient per contact and campaign) links the row;
//   - `message.updated` of that message moves its status and times;
//   - `message.created` of an inbound message attributed to the campaign (the server
//     puts `context.campaign` on it before it is published) is the reply.
// Nothing is refetched per event. Each row remembers the stream position it is current
// to, so an event older than the page the row came from never moves it back.
import type { CampaignRecipientDTO, ConversationDTO, MessageDTO } from '../../../src/events/types.ts'
import { recipientFailure, recipientStatusOf } from '../../../src/domain/campaigns/campaign-recipient.ts'
import type { StreamEvent } from '../api/stream.ts'
import { seqOf } from '../state/event-id.ts'

/** Stream position each row is current to, by recipient id. */
export type RowSeqs = Map<number, number>

const campaignOf = (m: MessageDTO): number | undefined => {
  const c = m.context?.campaign as { id?: unknown } | undefined
  return typeof c?.id === 'number' ? c.id : undefined
}

/**
 * Applies one stream event to the rows of campaign `campaignId`; returns the new rows,
 * or null when the event changes none of them.
 */
export function applyRecipientEvent(
  rows: CampaignRecipientDTO[],
  ev: StreamEvent,
  campaignId: number,
  seqs: RowSeqs,
): CampaignRecipientDTO[] | null {
  if (ev.type !== 'message.created' && ev.type !== 'message.updated') return null
  const data = ev.data as { message?: MessageDTO; conversation?: ConversationDTO }
  const m = data.message
  if (!m || campaignOf(m) !== campaignId) return null
  const contactId = data.conversation?.contact.id
  const n = seqOf(ev.id)
  let i: number
  if (m.direction === 'out') {
    i = rows.findIndex((r) => r.messageId === m.id)
    if (i < 0 && contactId !== undefined) i = rows.findIndex((r) => r.messageId === null && r.contact.id === contactId)
  } else {
    // Only a reply's creation says "replied"; its later updates (reactions, media) do not.
    if (ev.type !== 'message.created' || contactId === undefined) return null
    i = rows.findIndex((r) => r.contact.id === contactId)
  }
  const row = rows[i]
  if (!row || n <= (seqs.get(row.id) ?? 0)) return null
  seqs.set(row.id, n)
  let next: CampaignRecipientDTO
  if (m.direction === 'out') {
    const status = recipientStatusOf(m.status)
    next = {
      ...row,
      status,
      messageId: m.id,
      conversationId: m.conversationId,
      sentAt: m.sentAt,
      deliveredAt: m.deliveredAt,
      readAt: m.readAt,
      failedAt: m.failedAt,
      error: status === 'failed' ? recipientFailure(m.error?.code ?? null, m.error?.detail ?? null) : null,
    }
  } else {
    // Counted once: the first reply (as the server's replied_at).
    if (row.repliedAt !== null) return null
    next = { ...row, repliedAt: m.timestamp }
  }
  const out = rows.slice()
  out[i] = next
  return out
}
