// What an inbound WhatsApp message means for campaigns (issue 7), decided inside the
// webhook's own transaction (the ingest's messageStored hook):
//   - a stop keyword opts the contact out, with the time and the words;
//   - a reply is attributed to a campaign when it quotes the campaign message (a
//     reply or a template button tap), or else when it is the customer's first message
//     within the reply window after that campaign message was delivered (the most
//     recent such campaign wins). The message then carries `context.campaign`, so the
//     conversation shows "replied to campaign …"; it is an ordinary inbound message in
//     every other way and lands in the inbox like any other.
import type { Emitter } from '../../events/event-log.ts'
import type { CampaignRef } from '../../events/types.ts'
import type { CampaignRecipientsRepo } from '../../store/campaign-recipients.ts'
import type { ChannelRow, MessageRow } from '../../store/inbox-store.ts'
import type { Q } from '../../store/unit.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import type { ContactsService } from '../contacts/contacts.ts'
import type { OptOutKeywords } from './opt-out.ts'

export class CampaignAttribution {
  constructor(
    private readonly recipients: CampaignRecipientsRepo,
    private readonly writer: Pick<InboxWriter, 'updateMessage'>,
    private readonly contacts: ContactsService,
    private readonly keywords: OptOutKeywords,
    private readonly windowMs: number,
    private readonly onAttributed: (campaignId: number) => void,
  ) {}

  /**
   * Inside the ingest's unit of work: the decision, then the message's `context.campaign`
   * through the writer.
   */
  *onInbound(channel: ChannelRow, row: MessageRow, batch: Emitter): Q<MessageRow | undefined> {
    const ref = yield* this.attributeUnit(channel, row, batch)
    if (!ref) return undefined
    this.onAttributed(ref.id)
    // No event of its own: message.created, emitted next, carries the attribution.
    return yield* this.writer.updateMessage(null, row.id, { context: { ...(row.context ?? {}), campaign: ref }, updatedAt: row.updatedAt })
  }

  /** A stop keyword opts the contact out; the campaign the message answers (its first reply marked), if any. */
  *attributeUnit(channel: ChannelRow, row: MessageRow, batch: Emitter): Q<CampaignRef | undefined> {
    if (channel.kind !== 'whatsapp' || row.direction !== 'in') return undefined
    const contact = yield* this.contacts.contactOfConversationUnit(row.conversationId)
    if (contact === undefined) return undefined
    // A reaction is not a reply; an emoji cannot be a stop word.
    if (row.type === 'reaction') return undefined
    if (this.keywords.matches(row.text)) yield* this.contacts.optOutUnit(contact, 'keyword', row.text, row.timestamp, batch)

    const quoted = row.replyToMessageId !== null ? yield* this.recipients.byMessage(row.replyToMessageId) : undefined
    const hit = quoted ?? (yield* this.recipients.deliveredWithin(contact, row.timestamp, this.windowMs))
    if (!hit) return undefined
    // Counted once per recipient: the first reply. A later quote is still shown as one.
    if (hit.repliedAt === null) yield* this.recipients.markReplied(hit.recipientId, row.timestamp, row.id)
    return { id: hit.campaignId, name: hit.name }
  }
}
