// What an inbound WhatsApp message means for campaigns (issue 7), decided inside the
// webhook's own transaction (the ingest's messageStored hook):
//   - a stop keyword opts the contact out, with the time and the words;
//   - a reply is attributed to a campaign when it quotes the campaign message (a
//     reply or a template button tap), or else when it is the customer's first message
//     within the reply window after that campaign message was delivered (the most
//     recent such campaign wins). The message then carries `context.campaign`, so the
//     conversation shows "replied to campaign …"; it is an ordinary inbound message in
//     every other way and lands in the inbox like any other.
import type Database from 'better-sqlite3'
import type { EventBatch } from '../../events/event-log.ts'
import type { CampaignRef } from '../../events/types.ts'
import type { ChannelRow, InboxStore, MessageRow } from '../../store/inbox-store.ts'
import type { ContactsService } from '../contacts/contacts.ts'
import type { OptOutKeywords } from './opt-out.ts'

interface Candidate {
  recipientId: number
  campaignId: number
  name: string
  repliedAt: number | null
}

export class CampaignAttribution {
  private readonly contactOf: Database.Statement
  private readonly byMessage: Database.Statement
  private readonly inWindow: Database.Statement
  private readonly markReplied: Database.Statement

  constructor(
    sqlite: Database.Database,
    private readonly store: InboxStore,
    private readonly contacts: ContactsService,
    private readonly keywords: OptOutKeywords,
    private readonly windowMs: number,
    private readonly onAttributed: (campaignId: number) => void,
  ) {
    this.contactOf = sqlite.prepare(`SELECT contact_id AS id FROM conversations WHERE id = ?`)
    this.byMessage = sqlite.prepare(
      `SELECT r.id AS recipientId, r.campaign_id AS campaignId, c.name, r.replied_at AS repliedAt
         FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE r.message_id = ?`,
    )
    // Delivered (or read: Meta may skip "delivered") at or before the reply, within the window.
    this.inWindow = sqlite.prepare(
      `SELECT r.id AS recipientId, r.campaign_id AS campaignId, c.name, r.replied_at AS repliedAt
         FROM campaign_recipients r
         JOIN messages m ON m.id = r.message_id
         JOIN campaigns c ON c.id = r.campaign_id
        WHERE r.contact_id = @contact AND r.replied_at IS NULL
          AND coalesce(m.delivered_at, m.read_at) IS NOT NULL
          AND coalesce(m.delivered_at, m.read_at) <= @at
          AND coalesce(m.delivered_at, m.read_at) >= @at - @window
        ORDER BY coalesce(m.delivered_at, m.read_at) DESC, r.id DESC LIMIT 1`,
    )
    this.markReplied = sqlite.prepare(
      `UPDATE campaign_recipients SET replied_at = ?, reply_message_id = ? WHERE id = ? AND replied_at IS NULL`,
    )
  }

  onInbound(channel: ChannelRow, row: MessageRow, batch: EventBatch): MessageRow | undefined {
    if (channel.kind !== 'whatsapp' || row.direction !== 'in') return undefined
    const contact = (this.contactOf.get(row.conversationId) as { id: number } | undefined)?.id
    if (contact === undefined) return undefined
    // A reaction is not a reply; an emoji cannot be a stop word.
    if (row.type === 'reaction') return undefined
    if (this.keywords.matches(row.text)) this.contacts.optOutInTx(contact, 'keyword', row.text, row.timestamp, batch)

    const quoted = row.replyToMessageId !== null ? (this.byMessage.get(row.replyToMessageId) as Candidate | undefined) : undefined
    const hit = quoted ?? (this.inWindow.get({ contact, at: row.timestamp, window: this.windowMs }) as Candidate | undefined)
    if (!hit) return undefined
    // Counted once per recipient: the first reply. A later quote is still shown as one.
    if (hit.repliedAt === null) this.markReplied.run(row.timestamp, row.id, hit.recipientId)
    const ref: CampaignRef = { id: hit.campaignId, name: hit.name }
    this.onAttributed(hit.campaignId)
    return this.store.updateMessage(row.id, { context: { ...(row.context ?? {}), campaign: ref } })
  }
}
