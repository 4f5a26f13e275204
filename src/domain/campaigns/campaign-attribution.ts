// What an inbound WhatsApp message means for campaigns (issue 7), decided inside the
// webhook's own transaction (the ingest's messageStored hook):
//   - a stop keyword opts the contact out, with the time and the words;
//   - a reply is attributed to a campaign when it quotes the campaign message (a
//     reply or a template button tap), or else when it is the customer's first message
//     within the reply window after that campaign message was delivered (the most
//     recent such campaign wins). The message then carries `context.campaign`, so the
//     conversation shows "replied to campaign …"; it is an ordinary inbound message in
//     every other way and lands in the inbox like any other.
import type { EventBatch } from '../../events/event-log.ts'
import type { CampaignRef } from '../../events/types.ts'
import type { CampaignRecipientsRepo } from '../../store/campaign-recipients.ts'
import type { ChannelRow, MessageRow } from '../../store/inbox-store.ts'
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

  onInbound(channel: ChannelRow, row: MessageRow, batch: EventBatch): MessageRow | undefined {
    if (channel.kind !== 'whatsapp' || row.direction !== 'in') return undefined
    const contact = this.contacts.contactOfConversation(row.conversationId)
    if (contact === undefined) return undefined
    // A reaction is not a reply; an emoji cannot be a stop word.
    if (row.type === 'reaction') return undefined
    if (this.keywords.matches(row.text)) this.contacts.optOutInTx(contact, 'keyword', row.text, row.timestamp, batch)

    const quoted = row.replyToMessageId !== null ? this.recipients.byMessage(row.replyToMessageId) : undefined
    const hit = quoted ?? this.recipients.deliveredWithin(contact, row.timestamp, this.windowMs)
    if (!hit) return undefined
    // Counted once per recipient: the first reply. A later quote is still shown as one.
    if (hit.repliedAt === null) this.recipients.markReplied(hit.recipientId, row.timestamp, row.id)
    const ref: CampaignRef = { id: hit.campaignId, name: hit.name }
    this.onAttributed(hit.campaignId)
    // No event of its own: message.created, emitted next, carries the attribution.
    return this.writer.updateMessage(null, row.id, { context: { ...(row.context ?? {}), campaign: ref }, updatedAt: row.updatedAt })
  }
}
