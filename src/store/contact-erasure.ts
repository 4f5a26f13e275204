// A contact's data (issue 16): everything Parley keeps of one contact, read for an export and
// deleted for an erasure. Every table that names the contact, its conversations or their
// messages is here (see schema.ts): contacts, contact_tags, contact_list_members,
// campaign_recipients, conversations, conversation_reads, conversation_labels, messages (the FTS
// triggers drop their search rows), media, mentions, outbox, pending_statuses, report_episodes,
// raw_webhooks that carry its id, and the event log (payloads scrubbed, ids kept).
import type { Database } from 'better-sqlite3'
import type { Db } from './db.ts'

export interface ErasureCounts {
  conversations: number
  messages: number
  media: number
  mediaFiles: number
  campaignRows: number
  mentions: number
  events: number
  rawWebhooks: number
}

/** Event payload fields that name a conversation, and one that names the contact. */
const CONVERSATION_REFS = ['$.conversationId', '$.conversation.id', '$.message.conversationId', '$.mention.conversationId']

type MessageExportRow = {
  id: number
  type: string
  direction: string
  text: string | null
  senderUserId: number | null
  createdAt: number
  [field: string]: unknown
}

export class ContactErasureRepo {
  private readonly c: Database

  constructor(db: Db) {
    this.c = db.$client
  }

  contact(workspaceId: number, contactId: number): Record<string, unknown> | undefined {
    const row = this.c
      .prepare(
        `SELECT id, kind, external_id AS externalId, phone, name, profile_name AS profileName, attributes,
                opted_out_at AS optedOutAt, opt_out_source AS optOutSource, opt_out_text AS optOutText,
                opt_out_reversed_at AS optOutReversedAt, opt_out_reversed_source AS optOutReversedSource,
                created_at AS createdAt, updated_at AS updatedAt
           FROM contacts WHERE id = ? AND workspace_id = ?`,
      )
      .get(contactId, workspaceId) as Record<string, unknown> | undefined
    if (!row) return undefined
    return { ...row, attributes: parse(row.attributes) }
  }

  /** What an export carries: the contact's conversations, messages (notes among them), media, labels, tags, lists, campaigns. */
  exportOf(workspaceId: number, contactId: number): Record<string, unknown> | undefined {
    const contact = this.contact(workspaceId, contactId)
    if (!contact) return undefined
    const conversations = this.c
      .prepare(
        `SELECT v.id, v.channel_id AS channelId, ch.name AS channelName, ch.kind AS channelKind, v.status,
                v.snoozed_until AS snoozedUntil, v.assignee_id AS assigneeId, v.last_inbound_at AS lastInboundAt,
                v.created_at AS createdAt, v.updated_at AS updatedAt
           FROM conversations v JOIN channels ch ON ch.id = v.channel_id
          WHERE v.contact_id = ? AND v.workspace_id = ? ORDER BY v.id`,
      )
      .all(contactId, workspaceId) as Array<Record<string, unknown> & { id: number }>
    const messagesStmt = this.c.prepare(
      `SELECT id, direction, type, text, media, data, context, reply_to_message_id AS replyToMessageId, reactions,
              provider_message_id AS providerMessageId, sender_user_id AS senderUserId, status, sent_at AS sentAt,
              delivered_at AS deliveredAt, read_at AS readAt, failed_at AS failedAt, error_code AS errorCode,
              error_title AS errorTitle, error_detail AS errorDetail, timestamp, created_at AS createdAt
         FROM messages WHERE conversation_id = ? ORDER BY id`,
    )
    const mediaStmt = this.c.prepare(
      `SELECT id, direction, state, mime_type AS mimeType, filename, sha256, size, created_at AS createdAt
         FROM media WHERE message_id = ? ORDER BY id`,
    )
    const labelsStmt = this.c.prepare(
      `SELECT l.id, l.name, l.color, cl.created_at AS addedAt FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
        WHERE cl.conversation_id = ? ORDER BY l.name`,
    )
    const outConversations = conversations.map((v) => {
      const messages = (messagesStmt.all(v.id) as MessageExportRow[]).map((m) => ({
        ...m,
        media: parse(m.media),
        data: parse(m.data),
        context: parse(m.context),
        reactions: parse(m.reactions),
        files: mediaStmt.all(m.id),
      }))
      return {
        ...v,
        labels: labelsStmt.all(v.id),
        notes: messages
          .filter((m) => m.direction === 'system' && m.type === 'note')
          .map((m) => ({ id: m.id, text: m.text, authorId: m.senderUserId, createdAt: m.createdAt })),
        messages,
      }
    })
    const tags = this.c.prepare(`SELECT tag FROM contact_tags WHERE contact_id = ? ORDER BY tag`).pluck().all(contactId)
    const lists = this.c
      .prepare(
        `SELECT l.id, l.name FROM contact_list_members m JOIN contact_lists l ON l.id = m.list_id WHERE m.contact_id = ? ORDER BY l.id`,
      )
      .all(contactId)
    const campaignRows = this.c
      .prepare(
        `SELECT r.id, r.campaign_id AS campaignId, c.name AS campaignName, c.template_name AS templateName, r.state,
                r.skip_reason AS skipReason, r.skip_detail AS skipDetail, r.message_id AS messageId, r.queued_at AS queuedAt,
                r.replied_at AS repliedAt, r.reply_message_id AS replyMessageId, r.created_at AS createdAt
           FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
          WHERE r.contact_id = ? AND r.workspace_id = ? ORDER BY r.id`,
      )
      .all(contactId, workspaceId)
    return { contact: { ...contact, tags, lists }, conversations: outConversations, campaigns: campaignRows }
  }

  /** The conversations (id, channel) of the contact. */
  conversationsOf(workspaceId: number, contactId: number): Array<{ id: number; channelId: number }> {
    return this.c
      .prepare(`SELECT id, channel_id AS channelId FROM conversations WHERE contact_id = ? AND workspace_id = ?`)
      .all(contactId, workspaceId) as Array<{ id: number; channelId: number }>
  }

  /**
   * Deletes everything of the contact; run inside the caller's transaction. Returns the
   * counts and the media files to remove (relative to the media directory) after the commit.
   * Event rows that name its conversations (or the contact) keep their ids, so cursors stay
   * valid, but their type and payload become a tombstone that carries no content.
   */
  erase(workspaceId: number, contactId: number, externalId: string): { counts: ErasureCounts; files: string[] } {
    const c = this.c
    const convIds = this.conversationsOf(workspaceId, contactId).map((v) => v.id)
    c.exec('CREATE TEMP TABLE IF NOT EXISTS erase_conv (id INTEGER PRIMARY KEY)')
    c.exec('CREATE TEMP TABLE IF NOT EXISTS erase_msg (id INTEGER PRIMARY KEY)')
    c.exec('DELETE FROM erase_conv; DELETE FROM erase_msg')
    const addConv = c.prepare('INSERT INTO erase_conv(id) VALUES (?)')
    for (const id of convIds) addConv.run(id)
    c.exec('INSERT INTO erase_msg(id) SELECT id FROM messages WHERE conversation_id IN (SELECT id FROM erase_conv)')

    const files = c
      .prepare(`SELECT path FROM media WHERE message_id IN (SELECT id FROM erase_msg) AND path IS NOT NULL`)
      .pluck()
      .all() as string[]
    // Events first (they are read by conversation id): a tombstone with no content.
    const refs = CONVERSATION_REFS.map((p) => `json_extract(payload, '${p}') IN (SELECT id FROM erase_conv)`).join(' OR ')
    const events = c
      .prepare(
        `UPDATE events SET type = 'erased', payload = '{"erased":true}'
          WHERE workspace_id = @ws AND type <> 'erased' AND json_valid(payload) AND (${refs}
             OR (type LIKE 'contact.%' AND json_extract(payload, '$.contact.id') = @contact))`,
      )
      .run({ ws: workspaceId, contact: contactId }).changes

    const run = (sql: string, ...params: unknown[]) => c.prepare(sql).run(...params).changes
    const campaignRows = run(`DELETE FROM campaign_recipients WHERE contact_id = ? AND workspace_id = ?`, contactId, workspaceId)
    // Another contact's campaign row can only name this contact's messages as its reply by id (no FK): clear those.
    run(`UPDATE campaign_recipients SET reply_message_id = NULL WHERE reply_message_id IN (SELECT id FROM erase_msg)`)
    const mentions = run(`DELETE FROM mentions WHERE conversation_id IN (SELECT id FROM erase_conv)`)
    const media = run(`DELETE FROM media WHERE message_id IN (SELECT id FROM erase_msg)`)
    run(`DELETE FROM outbox WHERE conversation_id IN (SELECT id FROM erase_conv)`)
    run(
      `DELETE FROM pending_statuses WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id IN (SELECT id FROM erase_msg)
         AND m.channel_id = pending_statuses.channel_id AND m.provider_message_id = pending_statuses.provider_message_id)`,
    )
    run(`DELETE FROM conversation_reads WHERE conversation_id IN (SELECT id FROM erase_conv)`)
    run(`DELETE FROM conversation_labels WHERE conversation_id IN (SELECT id FROM erase_conv)`)
    run(`DELETE FROM report_episodes WHERE conversation_id IN (SELECT id FROM erase_conv)`)
    // The search index's rows go with the messages (trigger message_search_ad).
    const messages = run(`DELETE FROM messages WHERE id IN (SELECT id FROM erase_msg)`)
    const conversations = run(`DELETE FROM conversations WHERE id IN (SELECT id FROM erase_conv)`)
    run(`DELETE FROM contact_tags WHERE contact_id = ?`, contactId)
    run(`DELETE FROM contact_list_members WHERE contact_id = ?`, contactId)
    // Signed payloads kept raw (unknown fields, failures) that carry the contact's id.
    const rawWebhooks = externalId.length >= 5 ? run(`DELETE FROM raw_webhooks WHERE instr(body, ?) > 0`, externalId) : 0
    // The contact's own search rows go with it (trigger contact_search_ad).
    run(`DELETE FROM contacts WHERE id = ? AND workspace_id = ?`, contactId, workspaceId)
    c.exec('DELETE FROM erase_conv; DELETE FROM erase_msg')
    return {
      counts: { conversations, messages, media, mediaFiles: files.length, campaignRows, mentions, events, rawWebhooks },
      files,
    }
  }
}

function parse(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? null
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}

/** The workspace's people (their open streams are reset after an erasure). */
export function workspaceUserIds(db: Db, workspaceId: number): number[] {
  return db.$client.prepare('SELECT id FROM users WHERE workspace_id = ?').pluck().all(workspaceId) as number[]
}
