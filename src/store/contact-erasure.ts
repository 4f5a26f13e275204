// A contact's data (issue 16): everything Parley keeps of one contact, read for an export and
// deleted for an erasure. Every table that names the contact, its conversations or their
// messages is here (see schema.ts): contacts, contact_tags, contact_list_members,
// campaign_recipients, conversations, conversation_reads, conversation_labels, messages (the FTS
// triggers drop their search rows), media, mentions, outbox, pending_statuses, report_episodes,
// raw_webhooks that carry its id, and the event log (payloads scrubbed, ids kept).
// Units of work (store/unit.ts), for SQLite and PostgreSQL (issue 17): where the SQL differs
// (a list of ids as a parameter, JSON in the event payloads, a substring test) each dialect
// has its own text, built once below.
import { all, dialect, get, type Q, run } from './unit.ts'

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

/** Event payload fields that name a conversation (JSON paths, as keys). */
const CONVERSATION_REFS = [['conversationId'], ['conversation', 'id'], ['message', 'conversationId'], ['mention', 'conversationId']]

type MessageExportRow = {
  id: number
  type: string
  direction: string
  text: string | null
  senderUserId: number | null
  createdAt: number
  [field: string]: unknown
}

const CONTACT = `SELECT id, kind, external_id AS "externalId", phone, name, profile_name AS "profileName", attributes,
        opted_out_at AS "optedOutAt", opt_out_source AS "optOutSource", opt_out_text AS "optOutText",
        opt_out_reversed_at AS "optOutReversedAt", opt_out_reversed_source AS "optOutReversedSource",
        created_at AS "createdAt", updated_at AS "updatedAt"
   FROM contacts WHERE id = ? AND workspace_id = ?`
const EXPORT_CONVERSATIONS = `SELECT v.id, v.channel_id AS "channelId", ch.name AS "channelName", ch.kind AS "channelKind", v.status,
        v.snoozed_until AS "snoozedUntil", v.assignee_id AS "assigneeId", v.last_inbound_at AS "lastInboundAt",
        v.created_at AS "createdAt", v.updated_at AS "updatedAt"
   FROM conversations v JOIN channels ch ON ch.id = v.channel_id
  WHERE v.contact_id = ? AND v.workspace_id = ? ORDER BY v.id`
const EXPORT_MESSAGES = `SELECT id, direction, type, text, media, data, context, reply_to_message_id AS "replyToMessageId", reactions,
      provider_message_id AS "providerMessageId", sender_user_id AS "senderUserId", status, sent_at AS "sentAt",
      delivered_at AS "deliveredAt", read_at AS "readAt", failed_at AS "failedAt", error_code AS "errorCode",
      error_title AS "errorTitle", error_detail AS "errorDetail", "timestamp", created_at AS "createdAt"
 FROM messages WHERE conversation_id = ? ORDER BY id`
const EXPORT_MEDIA = `SELECT id, direction, state, mime_type AS "mimeType", filename, sha256, size, created_at AS "createdAt"
 FROM media WHERE message_id = ? ORDER BY id`
// Names in code-point order on both: SQLite compares bytes, PostgreSQL its column's collation unless told "C".
const EXPORT_LABELS = `SELECT l.id, l.name, l.color, cl.created_at AS "addedAt" FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id
WHERE cl.conversation_id = ? ORDER BY l.name`
const EXPORT_LABELS_PG = `${EXPORT_LABELS} COLLATE "C"`
const EXPORT_TAGS = `SELECT tag FROM contact_tags WHERE contact_id = ? ORDER BY tag`
const EXPORT_TAGS_PG = `${EXPORT_TAGS} COLLATE "C"`
const EXPORT_LISTS = `SELECT l.id, l.name FROM contact_list_members m JOIN contact_lists l ON l.id = m.list_id WHERE m.contact_id = ? ORDER BY l.id`
const EXPORT_CAMPAIGNS = `SELECT r.id, r.campaign_id AS "campaignId", c.name AS "campaignName", c.template_name AS "templateName", r.state,
        r.skip_reason AS "skipReason", r.skip_detail AS "skipDetail", r.message_id AS "messageId", r.queued_at AS "queuedAt",
        r.replied_at AS "repliedAt", r.reply_message_id AS "replyMessageId", r.created_at AS "createdAt"
   FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
  WHERE r.contact_id = ? AND r.workspace_id = ? ORDER BY r.id`
const CONVERSATIONS_OF = `SELECT id, channel_id AS "channelId" FROM conversations WHERE contact_id = ? AND workspace_id = ? ORDER BY id`
const USERS_OF = 'SELECT id FROM users WHERE workspace_id = ?'

/** The erasure's statements in one dialect; `IN_LIST` takes a list of ids as one parameter. */
function erasureSql(pg: boolean) {
  // SQLite: one prepared statement for any number of ids (json_each); PostgreSQL: an array.
  const IN_LIST = pg ? '= ANY(?::bigint[])' : 'IN (SELECT value FROM json_each(?))'
  // The payload is JSON text on both; PostgreSQL compares the field as text against the ids as text
  // (a cast to a number could fail on some other payload and abort the transaction).
  const refs = pg
    ? CONVERSATION_REFS.map((p) => `x.p #>> '{${p.join(',')}}' = ANY(?::text[])`).join(' OR ')
    : CONVERSATION_REFS.map((p) => `json_extract(payload, '$.${p.join('.')}') IN (SELECT value FROM json_each(?))`).join(' OR ')
  return {
    messageIds: `SELECT id FROM messages WHERE conversation_id ${IN_LIST} ORDER BY id`,
    files: `SELECT path FROM media WHERE message_id ${IN_LIST} AND path IS NOT NULL`,
    // Events first (they are read by conversation id): a tombstone with no content.
    events: pg
      ? `UPDATE events SET type = 'erased', payload = '{"erased":true}' WHERE id IN (
           SELECT x.id FROM (SELECT id, type, payload::jsonb AS p FROM events WHERE workspace_id = ? AND type <> 'erased') x
            WHERE ${refs} OR (x.type LIKE 'contact.%' AND x.p #>> '{contact,id}' = ?))`
      : `UPDATE events SET type = 'erased', payload = '{"erased":true}'
          WHERE workspace_id = ? AND type <> 'erased' AND json_valid(payload) AND (${refs}
             OR (type LIKE 'contact.%' AND json_extract(payload, '$.contact.id') = ?))`,
    campaignRows: `DELETE FROM campaign_recipients WHERE contact_id = ? AND workspace_id = ?`,
    // Another contact's campaign row can only name this contact's messages as its reply by id (no FK): clear those.
    campaignReplies: `UPDATE campaign_recipients SET reply_message_id = NULL WHERE reply_message_id ${IN_LIST}`,
    mentions: `DELETE FROM mentions WHERE conversation_id ${IN_LIST}`,
    media: `DELETE FROM media WHERE message_id ${IN_LIST}`,
    outbox: `DELETE FROM outbox WHERE conversation_id ${IN_LIST}`,
    pendingStatuses: `DELETE FROM pending_statuses WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id ${IN_LIST}
       AND m.channel_id = pending_statuses.channel_id AND m.provider_message_id = pending_statuses.provider_message_id)`,
    reads: `DELETE FROM conversation_reads WHERE conversation_id ${IN_LIST}`,
    labels: `DELETE FROM conversation_labels WHERE conversation_id ${IN_LIST}`,
    episodes: `DELETE FROM report_episodes WHERE conversation_id ${IN_LIST}`,
    // The search index's rows go with the messages (SQLite: trigger message_search_ad).
    messages: `DELETE FROM messages WHERE id ${IN_LIST}`,
    conversations: `DELETE FROM conversations WHERE id ${IN_LIST}`,
    tags: `DELETE FROM contact_tags WHERE contact_id = ?`,
    lists: `DELETE FROM contact_list_members WHERE contact_id = ?`,
    rawWebhooks: pg ? `DELETE FROM raw_webhooks WHERE strpos(body, ?) > 0` : `DELETE FROM raw_webhooks WHERE instr(body, ?) > 0`,
    // A status kept for a message Parley never stored (sent from another app, or not yet
    // named) carries the customer's number as its recipient_id, in the kept webhook.
    pendingRaw: pg ? `DELETE FROM pending_statuses WHERE strpos(raw, ?) > 0` : `DELETE FROM pending_statuses WHERE instr(raw, ?) > 0`,
    // The contact's own search rows go with it (SQLite: trigger contact_search_ad).
    contact: `DELETE FROM contacts WHERE id = ? AND workspace_id = ?`,
  }
}

const SQLITE = erasureSql(false)
const PG = erasureSql(true)

export class ContactErasureRepo {
  /**
   * The contact, or undefined. `forErase`: on PostgreSQL its row is locked (FOR UPDATE) until
   * the erasure commits, before anything is deleted: a webhook keeping a status that names it
   * (webhook-leftovers.ts, KEY SHARE on the same row) then either commits first — and the
   * erasure's later statements see and delete its row — or waits and finds no contact.
   */
  *contact(workspaceId: number, contactId: number, forErase = false): Q<Record<string, unknown> | undefined> {
    const pg = forErase && (yield* dialect()) === 'postgres'
    const row = yield* get<Record<string, unknown>>(pg ? `${CONTACT} FOR UPDATE` : CONTACT, [contactId, workspaceId])
    if (!row) return undefined
    return { ...row, attributes: parse(row.attributes) }
  }

  /** What an export carries: the contact's conversations, messages (notes among them), media, labels, tags, lists, campaigns. */
  *exportOf(workspaceId: number, contactId: number): Q<Record<string, unknown> | undefined> {
    const contact = yield* this.contact(workspaceId, contactId)
    if (!contact) return undefined
    const pg = (yield* dialect()) === 'postgres'
    const conversations = yield* all<Record<string, unknown> & { id: number }>(EXPORT_CONVERSATIONS, [contactId, workspaceId])
    const outConversations: Record<string, unknown>[] = []
    for (const v of conversations) {
      const messages: Array<MessageExportRow & { files: unknown[] }> = []
      for (const m of yield* all<MessageExportRow>(EXPORT_MESSAGES, [v.id])) {
        messages.push({
          ...m,
          media: parse(m.media),
          data: parse(m.data),
          context: parse(m.context),
          reactions: parse(m.reactions),
          files: yield* all(EXPORT_MEDIA, [m.id]),
        })
      }
      outConversations.push({
        ...v,
        labels: yield* all(pg ? EXPORT_LABELS_PG : EXPORT_LABELS, [v.id]),
        notes: messages
          .filter((m) => m.direction === 'system' && m.type === 'note')
          .map((m) => ({ id: m.id, text: m.text, authorId: m.senderUserId, createdAt: m.createdAt })),
        messages,
      })
    }
    const tags = (yield* all<{ tag: string }>(pg ? EXPORT_TAGS_PG : EXPORT_TAGS, [contactId])).map((r) => r.tag)
    const lists = yield* all(EXPORT_LISTS, [contactId])
    const campaignRows = yield* all(EXPORT_CAMPAIGNS, [contactId, workspaceId])
    return { contact: { ...contact, tags, lists }, conversations: outConversations, campaigns: campaignRows }
  }

  /** The conversations (id, channel) of the contact. */
  conversationsOf(workspaceId: number, contactId: number): Q<Array<{ id: number; channelId: number }>> {
    return all<{ id: number; channelId: number }>(CONVERSATIONS_OF, [contactId, workspaceId])
  }

  /**
   * Deletes everything of the contact; run inside the caller's transaction. Returns the
   * counts and the media files to remove (relative to the media directory) after the commit.
   * Event rows that name its conversations (or the contact) keep their ids, so cursors stay
   * valid, but their type and payload become a tombstone that carries no content.
   */
  *erase(workspaceId: number, contactId: number, externalId: string): Q<{ counts: ErasureCounts; files: string[] }> {
    const pg = (yield* dialect()) === 'postgres'
    const S = pg ? PG : SQLITE
    const list = (ids: number[]) => (pg ? ids : JSON.stringify(ids))
    const convIds = (yield* this.conversationsOf(workspaceId, contactId)).map((v) => v.id)
    const conv = list(convIds)
    const msgIds = (yield* all<{ id: number }>(S.messageIds, [conv])).map((r) => r.id)
    const msg = list(msgIds)

    const files = (yield* all<{ path: string }>(S.files, [msg])).map((r) => r.path)
    const convText = pg ? convIds.map(String) : conv
    const events = (yield* run(S.events, [workspaceId, ...CONVERSATION_REFS.map(() => convText), pg ? String(contactId) : contactId]))
      .changes

    const n = function* (sql: string, params: unknown[]): Q<number> {
      return (yield* run(sql, params)).changes
    }
    const campaignRows = yield* n(S.campaignRows, [contactId, workspaceId])
    yield* n(S.campaignReplies, [msg])
    const mentions = yield* n(S.mentions, [conv])
    const media = yield* n(S.media, [msg])
    yield* n(S.outbox, [conv])
    yield* n(S.pendingStatuses, [msg])
    yield* n(S.reads, [conv])
    yield* n(S.labels, [conv])
    yield* n(S.episodes, [conv])
    const messages = yield* n(S.messages, [msg])
    const conversations = yield* n(S.conversations, [conv])
    yield* n(S.tags, [contactId])
    yield* n(S.lists, [contactId])
    // Signed payloads kept raw (unknown fields, failures) that carry the contact's id.
    const rawWebhooks = externalId.length >= 5 ? yield* n(S.rawWebhooks, [externalId]) : 0
    if (externalId.length >= 5) yield* n(S.pendingRaw, [externalId])
    yield* n(S.contact, [contactId, workspaceId])
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
export function* workspaceUserIds(workspaceId: number): Q<number[]> {
  return (yield* all<{ id: number }>(USERS_OF, [workspaceId])).map((r) => r.id)
}
