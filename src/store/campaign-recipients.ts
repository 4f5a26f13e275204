// A campaign's recipients (issue 7): one row per contact, pending → queued (its message
// then lives in messages and the outbox) or skipped. What the runner claims, what the
// analytics count, and what reply attribution looks up. Synchronous operations over one
// connection: the domain (domain/campaigns/) runs them inside its transactions.
import type { Db } from './db.ts'
import { Statements } from './prepared.ts'

/**
 * A recipient's status: its row while it waits or was skipped, its message's after
 * (recipientStatusOf in domain/campaigns/campaign-recipient.ts is the same rule for one message).
 */
export const STATUS_SQL = `CASE
  WHEN r.state = 'pending' THEN 'queued'
  WHEN r.state = 'skipped' THEN 'skipped'
  WHEN m.status IS NULL OR m.status IN ('pending', 'queued') THEN 'queued'
  WHEN m.status = 'played' THEN 'read'
  ELSE m.status END`

const STATUS_FILTER: Record<string, string> = {
  queued: `(${STATUS_SQL}) = 'queued'`,
  sending: `(${STATUS_SQL}) = 'sending'`,
  unknown: `(${STATUS_SQL}) = 'unknown'`,
  sent: `(${STATUS_SQL}) = 'sent'`,
  delivered: `(${STATUS_SQL}) = 'delivered'`,
  read: `(${STATUS_SQL}) = 'read'`,
  failed: `(${STATUS_SQL}) = 'failed'`,
  skipped: `r.state = 'skipped'`,
  replied: `r.replied_at IS NOT NULL`,
}
/** The statuses a recipients page can be filtered by. */
export const RECIPIENT_FILTERS = Object.keys(STATUS_FILTER)

/** A recipient with its contact and its message's status. */
export interface RecipientJoin {
  id: number
  contactId: number
  name: string | null
  phone: string | null
  externalId: string
  state: string
  skipReason: string | null
  skipDetail: string | null
  queuedAt: number | null
  repliedAt: number | null
  messageId: number | null
  status: string
  sentAt: number | null
  deliveredAt: number | null
  readAt: number | null
  failedAt: number | null
  errorCode: number | null
  errorDetail: string | null
  conversationId: number | null
}

const RECIPIENT_SELECT = `SELECT r.id, r.contact_id AS contactId, c.name, c.phone, c.external_id AS externalId, r.state,
       r.skip_reason AS skipReason, r.skip_detail AS skipDetail, r.queued_at AS queuedAt, r.replied_at AS repliedAt,
       r.message_id AS messageId, ${STATUS_SQL} AS status, m.sent_at AS sentAt, m.delivered_at AS deliveredAt,
       m.read_at AS readAt, m.failed_at AS failedAt, m.error_code AS errorCode, m.error_detail AS errorDetail,
       m.conversation_id AS conversationId
  FROM campaign_recipients r
  JOIN contacts c ON c.id = r.contact_id
  LEFT JOIN messages m ON m.id = r.message_id`

/** A campaign recipient a reply may be attributed to. */
export interface ReplyCandidate {
  recipientId: number
  campaignId: number
  name: string
  repliedAt: number | null
}

/** A settled send of a campaign (the runner's health checks). */
export interface SettledSend {
  status: string
  code: number | null
  detail: string | null
}

// Meta codes are numbers: inlined in the SQL text (one statement per set of codes).
const codeList = (codes: readonly number[]): string => codes.map((c) => Math.trunc(c)).join(',')

export class CampaignRecipientsRepo {
  private readonly sql: Statements

  constructor(db: Db) {
    this.sql = new Statements(db.$client)
  }

  // ---- counts (analytics) -----------------------------------------------------------

  /** Recipients per status, with how many of each replied. */
  statusCounts(campaignId: number): { s: string; n: number; replied: number | null }[] {
    return this.sql
      .get(
        `SELECT ${STATUS_SQL} AS s, count(*) AS n, sum(r.replied_at IS NOT NULL) AS replied
         FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id
        WHERE r.campaign_id = ? GROUP BY s`,
      )
      .all(campaignId) as { s: string; n: number; replied: number | null }[]
  }

  /** Failed sends per error code, most frequent first. */
  failureCounts(campaignId: number): { code: number | null; n: number; detail: string | null }[] {
    return this.sql
      .get(
        `SELECT m.error_code AS code, count(*) AS n, max(m.error_detail) AS detail
         FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
        WHERE r.campaign_id = ? AND m.status = 'failed' GROUP BY m.error_code ORDER BY n DESC`,
      )
      .all(campaignId) as { code: number | null; n: number; detail: string | null }[]
  }

  /** Skipped recipients per reason, most frequent first. */
  skipCounts(campaignId: number): { reason: string | null; n: number }[] {
    return this.sql
      .get(
        `SELECT skip_reason AS reason, count(*) AS n FROM campaign_recipients
        WHERE campaign_id = ? AND state = 'skipped' GROUP BY skip_reason ORDER BY n DESC`,
      )
      .all(campaignId) as { reason: string | null; n: number }[]
  }

  /** A page of recipients after `afterId`, in id order; `status` one of RECIPIENT_FILTERS. */
  page(campaignId: number, opts: { afterId?: number; limit: number; status?: string }): RecipientJoin[] {
    const filter = opts.status ? STATUS_FILTER[opts.status] : undefined
    return this.sql
      .get(`${RECIPIENT_SELECT} WHERE r.campaign_id = ? AND r.id > ? ${filter ? `AND ${filter}` : ''} ORDER BY r.id LIMIT ?`)
      .all(campaignId, opts.afterId ?? 0, opts.limit) as RecipientJoin[]
  }

  // ---- the runner's claim -------------------------------------------------------------

  /** Pending recipients in id order. */
  pending(campaignId: number, limit: number): { recipientId: number; contactId: number }[] {
    return this.sql
      .get(
        `SELECT r.id AS recipientId, r.contact_id AS contactId FROM campaign_recipients r
          WHERE r.campaign_id = ? AND r.state = 'pending' ORDER BY r.id LIMIT ?`,
      )
      .all(campaignId, limit) as { recipientId: number; contactId: number }[]
  }

  anyPending(campaignId: number): boolean {
    return (
      this.sql.get(`SELECT 1 FROM campaign_recipients WHERE campaign_id = ? AND state = 'pending' LIMIT 1`).get(campaignId) !== undefined
    )
  }

  /** pending → queued; false when it was no longer pending. */
  take(recipientId: number, now: number): boolean {
    return (
      this.sql
        .get(`UPDATE campaign_recipients SET state = 'queued', queued_at = ? WHERE id = ? AND state = 'pending'`)
        .run(now, recipientId).changes > 0
    )
  }

  /** The message the recipient became. */
  link(recipientId: number, messageId: number): void {
    this.sql.get(`UPDATE campaign_recipients SET message_id = ? WHERE id = ?`).run(messageId, recipientId)
  }

  /** pending → skipped with the reason (a recipient no longer pending stays as it is). */
  skip(recipientId: number, reason: string, detail: string | null): void {
    this.sql
      .get(`UPDATE campaign_recipients SET state = 'skipped', skip_reason = ?, skip_detail = ? WHERE id = ? AND state = 'pending'`)
      .run(reason, detail, recipientId)
  }

  /** Every pending recipient of the campaign → skipped as cancelled. */
  cancelPending(campaignId: number): void {
    this.sql
      .get(`UPDATE campaign_recipients SET state = 'skipped', skip_reason = 'cancelled' WHERE campaign_id = ? AND state = 'pending'`)
      .run(campaignId)
  }

  /** Campaign messages of this priority waiting in this number's outbox. */
  queuedInOutbox(channelId: number, priority: number): number {
    return (
      this.sql
        .get(`SELECT count(*) AS n FROM outbox WHERE channel_id = ? AND state = 'queued' AND priority = ${Math.trunc(priority)}`)
        .get(channelId) as { n: number }
    ).n
  }

  /** The id of the workspace's message with this client id. */
  messageIdByClientId(workspaceId: number, clientMessageId: string): number | undefined {
    return (
      this.sql.get(`SELECT id FROM messages WHERE workspace_id = ? AND client_message_id = ?`).get(workspaceId, clientMessageId) as
        | { id: number }
        | undefined
    )?.id
  }

  // ---- the runner's health checks ------------------------------------------------------

  /** Queued recipients whose send is still in the outbox (queued or sending). */
  activeCount(campaignId: number): number {
    return (
      this.sql
        .get(
          `SELECT count(*) AS n FROM campaign_recipients r JOIN outbox o ON o.message_id = r.message_id
          WHERE r.campaign_id = ? AND r.state = 'queued' AND o.state IN ('queued', 'sending')`,
        )
        .get(campaignId) as { n: number }
    ).n
  }

  /** Sends waiting for a retry after `now`, with the last error of one. */
  retrying(campaignId: number, now: number): { n: number; why: string | null; code: number | null } {
    return this.sql
      .get(
        `SELECT count(*) AS n, max(o.last_error_text) AS why, max(o.last_error_code) AS code FROM campaign_recipients r
           JOIN outbox o ON o.message_id = r.message_id
          WHERE r.campaign_id = ? AND r.state = 'queued' AND o.state = 'queued' AND o.attempts > 0 AND o.next_attempt_at > ?`,
      )
      .get(campaignId, now) as { n: number; why: string | null; code: number | null }
  }

  /** One send refused since `since` with one of these codes, if any. */
  refusalSince(campaignId: number, since: number, codes: readonly number[]): { code: number; detail: string | null } | undefined {
    return this.sql
      .get(
        `SELECT m.error_code AS code, m.error_detail AS detail FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.campaign_id = ? AND m.status = 'failed' AND m.error_code IN (${codeList(codes)}) AND m.updated_at >= ? LIMIT 1`,
      )
      .get(campaignId, since) as { code: number; detail: string | null } | undefined
  }

  /** The latest `limit` sends settled since `since`, newest recipient first. */
  recentSettled(campaignId: number, since: number, limit: number): SettledSend[] {
    return this.sql
      .get(
        `SELECT m.status, m.error_code AS code, m.error_detail AS detail FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.campaign_id = ? AND m.status IN ('sent', 'delivered', 'read', 'played', 'failed') AND m.updated_at >= ?
          ORDER BY r.id DESC LIMIT ?`,
      )
      .all(campaignId, since, limit) as SettledSend[]
  }

  // ---- sending again --------------------------------------------------------------------

  /** Messages Meta refused with one of these codes and never accepted (no wamid). */
  refusedMessages(campaignId: number, codes: readonly number[]): number[] {
    return (
      this.sql
        .get(
          `SELECT m.id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
            WHERE r.campaign_id = ? AND m.status = 'failed' AND m.error_code IN (${codeList(codes)}) AND m.provider_message_id IS NULL`,
        )
        .all(campaignId) as { id: number }[]
    ).map((r) => r.id)
  }

  /** Messages whose send is in doubt and that Meta never named (no wamid), in recipient order. */
  unconfirmedMessages(campaignId: number): number[] {
    return (
      this.sql
        .get(
          `SELECT m.id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.campaign_id = ? AND m.status = 'unknown' AND m.provider_message_id IS NULL ORDER BY r.id`,
        )
        .all(campaignId) as { id: number }[]
    ).map((r) => r.id)
  }

  // ---- reply attribution ----------------------------------------------------------------

  /** The recipient whose campaign message this is. */
  byMessage(messageId: number): ReplyCandidate | undefined {
    return this.sql
      .get(
        `SELECT r.id AS recipientId, r.campaign_id AS campaignId, c.name, r.replied_at AS repliedAt
         FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE r.message_id = ?`,
      )
      .get(messageId) as ReplyCandidate | undefined
  }

  /**
   * The contact's not-yet-replied recipient whose message was delivered (or read: Meta
   * may skip "delivered") at or before `at`, within `windowMs`; the most recent wins.
   */
  deliveredWithin(contactId: number, at: number, windowMs: number): ReplyCandidate | undefined {
    return this.sql
      .get(
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
      .get({ contact: contactId, at, window: windowMs }) as ReplyCandidate | undefined
  }

  /** The first reply of a recipient (a later one changes nothing). */
  markReplied(recipientId: number, at: number, replyMessageId: number): void {
    this.sql
      .get(`UPDATE campaign_recipients SET replied_at = ?, reply_message_id = ? WHERE id = ? AND replied_at IS NULL`)
      .run(at, replyMessageId, recipientId)
  }
}
