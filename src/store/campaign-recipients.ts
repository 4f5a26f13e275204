// A campaign's recipients (issue 7): one row per contact, pending → queued (its message
// then lives in messages and the outbox) or skipped. What the runner claims, what the
// analytics count, and what reply attribution looks up. Units of work (store/unit.ts), the
// same SQL on SQLite and PostgreSQL (issue 17): the domain (domain/campaigns/) runs them
// inside its transactions.
import { all, get, type Q, run } from './unit.ts'

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

const RECIPIENT_SELECT = `SELECT r.id, r.contact_id AS "contactId", c.name, c.phone, c.external_id AS "externalId", r.state,
       r.skip_reason AS "skipReason", r.skip_detail AS "skipDetail", r.queued_at AS "queuedAt", r.replied_at AS "repliedAt",
       r.message_id AS "messageId", ${STATUS_SQL} AS status, m.sent_at AS "sentAt", m.delivered_at AS "deliveredAt",
       m.read_at AS "readAt", m.failed_at AS "failedAt", m.error_code AS "errorCode", m.error_detail AS "errorDetail",
       m.conversation_id AS "conversationId"
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
const byCodes = new Map<string, string>()
function withCodes(template: (codes: string) => string, codes: readonly number[]): string {
  const list = codeList(codes)
  const key = `${template.name}|${list}`
  let s = byCodes.get(key)
  if (s === undefined) byCodes.set(key, (s = template(list)))
  return s
}

// Sums of a condition: CASE, not a boolean (PostgreSQL has no sum(boolean)); cast, as
// PostgreSQL's sum of integers is numeric (text in JS).
const STATUS_COUNTS = `SELECT ${STATUS_SQL} AS s, count(*) AS n, CAST(sum(CASE WHEN r.replied_at IS NOT NULL THEN 1 ELSE 0 END) AS INTEGER) AS replied
  FROM campaign_recipients r LEFT JOIN messages m ON m.id = r.message_id
 WHERE r.campaign_id = ? GROUP BY 1 ORDER BY 1`
// Ties in SQLite's order before (its GROUP BY sorts by the key, nulls first), on both.
const FAILURE_COUNTS = `SELECT m.error_code AS code, count(*) AS n, max(m.error_detail) AS detail
  FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
 WHERE r.campaign_id = ? AND m.status = 'failed' GROUP BY m.error_code
 ORDER BY n DESC, CASE WHEN m.error_code IS NULL THEN 0 ELSE 1 END, m.error_code`
const SKIP_COUNTS = `SELECT skip_reason AS reason, count(*) AS n FROM campaign_recipients
 WHERE campaign_id = ? AND state = 'skipped' GROUP BY skip_reason
 ORDER BY n DESC, CASE WHEN skip_reason IS NULL THEN 0 ELSE 1 END, skip_reason`
const PAGE_BY_FILTER = new Map<string, string>(
  ['', ...Object.keys(STATUS_FILTER)].map((f) => [
    f,
    `${RECIPIENT_SELECT} WHERE r.campaign_id = ? AND r.id > ? ${f ? `AND ${STATUS_FILTER[f]}` : ''} ORDER BY r.id LIMIT ?`,
  ]),
)
const PENDING = `SELECT r.id AS "recipientId", r.contact_id AS "contactId" FROM campaign_recipients r
  WHERE r.campaign_id = ? AND r.state = 'pending' ORDER BY r.id LIMIT ?`
const ANY_PENDING = `SELECT 1 AS one FROM campaign_recipients WHERE campaign_id = ? AND state = 'pending' LIMIT 1`
// The claim: a conditional UPDATE. On PostgreSQL a second session updating the same row
// waits for the first to commit, then re-checks `state = 'pending'` and writes nothing —
// so two processes never both take one recipient.
const TAKE = `UPDATE campaign_recipients SET state = 'queued', queued_at = ? WHERE id = ? AND state = 'pending' RETURNING id`
const LINK = `UPDATE campaign_recipients SET message_id = ? WHERE id = ?`
const SKIP = `UPDATE campaign_recipients SET state = 'skipped', skip_reason = ?, skip_detail = ? WHERE id = ? AND state = 'pending'`
const CANCEL_PENDING = `UPDATE campaign_recipients SET state = 'skipped', skip_reason = 'cancelled' WHERE campaign_id = ? AND state = 'pending'`
const QUEUED_IN_OUTBOX = `SELECT count(*) AS n FROM outbox WHERE channel_id = ? AND state = 'queued' AND priority = ?`
const MESSAGE_BY_CLIENT_ID = `SELECT id FROM messages WHERE workspace_id = ? AND client_message_id = ?`
const ACTIVE_COUNT = `SELECT count(*) AS n FROM campaign_recipients r JOIN outbox o ON o.message_id = r.message_id
  WHERE r.campaign_id = ? AND r.state = 'queued' AND o.state IN ('queued', 'sending')`
const RETRYING = `SELECT count(*) AS n, max(o.last_error_text) AS why, max(o.last_error_code) AS code FROM campaign_recipients r
   JOIN outbox o ON o.message_id = r.message_id
  WHERE r.campaign_id = ? AND r.state = 'queued' AND o.state = 'queued' AND o.attempts > 0 AND o.next_attempt_at > ?`
const refusalSinceSql = (codes: string) =>
  `SELECT m.error_code AS code, m.error_detail AS detail FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
    WHERE r.campaign_id = ? AND m.status = 'failed' AND m.error_code IN (${codes}) AND m.updated_at >= ? ORDER BY r.id LIMIT 1`
const RECENT_SETTLED = `SELECT m.status, m.error_code AS code, m.error_detail AS detail FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
  WHERE r.campaign_id = ? AND m.status IN ('sent', 'delivered', 'read', 'played', 'failed') AND m.updated_at >= ?
  ORDER BY r.id DESC LIMIT ?`
const refusedMessagesSql = (codes: string) =>
  `SELECT m.id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
    WHERE r.campaign_id = ? AND m.status = 'failed' AND m.error_code IN (${codes}) AND m.provider_message_id IS NULL ORDER BY r.id`
const UNCONFIRMED = `SELECT m.id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
  WHERE r.campaign_id = ? AND m.status = 'unknown' AND m.provider_message_id IS NULL ORDER BY r.id`
const BY_MESSAGE = `SELECT r.id AS "recipientId", r.campaign_id AS "campaignId", c.name, r.replied_at AS "repliedAt"
  FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id WHERE r.message_id = ?`
const DELIVERED_WITHIN = `SELECT r.id AS "recipientId", r.campaign_id AS "campaignId", c.name, r.replied_at AS "repliedAt"
  FROM campaign_recipients r
  JOIN messages m ON m.id = r.message_id
  JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.contact_id = ? AND r.replied_at IS NULL
   AND coalesce(m.delivered_at, m.read_at) IS NOT NULL
   AND coalesce(m.delivered_at, m.read_at) <= ?
   AND coalesce(m.delivered_at, m.read_at) >= ?
 ORDER BY coalesce(m.delivered_at, m.read_at) DESC, r.id DESC LIMIT 1`
const MARK_REPLIED = `UPDATE campaign_recipients SET replied_at = ?, reply_message_id = ? WHERE id = ? AND replied_at IS NULL`

const ids = (rows: { id: number }[]) => rows.map((r) => r.id)

export class CampaignRecipientsRepo {
  // ---- counts (analytics) -----------------------------------------------------------

  /** Recipients per status, with how many of each replied. */
  statusCounts(campaignId: number): Q<{ s: string; n: number; replied: number | null }[]> {
    return all(STATUS_COUNTS, [campaignId])
  }

  /** Failed sends per error code, most frequent first. */
  failureCounts(campaignId: number): Q<{ code: number | null; n: number; detail: string | null }[]> {
    return all(FAILURE_COUNTS, [campaignId])
  }

  /** Skipped recipients per reason, most frequent first. */
  skipCounts(campaignId: number): Q<{ reason: string | null; n: number }[]> {
    return all(SKIP_COUNTS, [campaignId])
  }

  /** A page of recipients after `afterId`, in id order; `status` one of RECIPIENT_FILTERS. */
  page(campaignId: number, opts: { afterId?: number; limit: number; status?: string }): Q<RecipientJoin[]> {
    const sql = PAGE_BY_FILTER.get(opts.status && STATUS_FILTER[opts.status] ? opts.status : '')!
    return all(sql, [campaignId, opts.afterId ?? 0, opts.limit])
  }

  // ---- the runner's claim -------------------------------------------------------------

  /** Pending recipients in id order. */
  pending(campaignId: number, limit: number): Q<{ recipientId: number; contactId: number }[]> {
    return all(PENDING, [campaignId, limit])
  }

  *anyPending(campaignId: number): Q<boolean> {
    return (yield* get(ANY_PENDING, [campaignId])) !== undefined
  }

  /** pending → queued; false when it was no longer pending (another runner took it). */
  *take(recipientId: number, now: number): Q<boolean> {
    return (yield* get(TAKE, [now, recipientId])) !== undefined
  }

  /** The message the recipient became. */
  *link(recipientId: number, messageId: number): Q<void> {
    yield* run(LINK, [messageId, recipientId])
  }

  /** pending → skipped with the reason (a recipient no longer pending stays as it is). */
  *skip(recipientId: number, reason: string, detail: string | null): Q<void> {
    yield* run(SKIP, [reason, detail, recipientId])
  }

  /** Every pending recipient of the campaign → skipped as cancelled. */
  *cancelPending(campaignId: number): Q<void> {
    yield* run(CANCEL_PENDING, [campaignId])
  }

  /** Campaign messages of this priority waiting in this number's outbox. */
  *queuedInOutbox(channelId: number, priority: number): Q<number> {
    return Number((yield* get<{ n: number }>(QUEUED_IN_OUTBOX, [channelId, Math.trunc(priority)]))?.n ?? 0)
  }

  /** The id of the workspace's message with this client id. */
  *messageIdByClientId(workspaceId: number, clientMessageId: string): Q<number | undefined> {
    return (yield* get<{ id: number }>(MESSAGE_BY_CLIENT_ID, [workspaceId, clientMessageId]))?.id
  }

  // ---- the runner's health checks ------------------------------------------------------

  /** Queued recipients whose send is still in the outbox (queued or sending). */
  *activeCount(campaignId: number): Q<number> {
    return Number((yield* get<{ n: number }>(ACTIVE_COUNT, [campaignId]))?.n ?? 0)
  }

  /** Sends waiting for a retry after `now`, with the last error of one. */
  *retrying(campaignId: number, now: number): Q<{ n: number; why: string | null; code: number | null }> {
    return (yield* get<{ n: number; why: string | null; code: number | null }>(RETRYING, [campaignId, now]))!
  }

  /** One send refused since `since` with one of these codes, if any. */
  refusalSince(campaignId: number, since: number, codes: readonly number[]): Q<{ code: number; detail: string | null } | undefined> {
    return get(withCodes(refusalSinceSql, codes), [campaignId, since])
  }

  /** The latest `limit` sends settled since `since`, newest recipient first. */
  recentSettled(campaignId: number, since: number, limit: number): Q<SettledSend[]> {
    return all(RECENT_SETTLED, [campaignId, since, limit])
  }

  // ---- sending again --------------------------------------------------------------------

  /** Messages Meta refused with one of these codes and never accepted (no wamid). */
  *refusedMessages(campaignId: number, codes: readonly number[]): Q<number[]> {
    return ids(yield* all<{ id: number }>(withCodes(refusedMessagesSql, codes), [campaignId]))
  }

  /** Messages whose send is in doubt and that Meta never named (no wamid), in recipient order. */
  *unconfirmedMessages(campaignId: number): Q<number[]> {
    return ids(yield* all<{ id: number }>(UNCONFIRMED, [campaignId]))
  }

  // ---- reply attribution ----------------------------------------------------------------

  /** The recipient whose campaign message this is. */
  byMessage(messageId: number): Q<ReplyCandidate | undefined> {
    return get(BY_MESSAGE, [messageId])
  }

  /**
   * The contact's not-yet-replied recipient whose message was delivered (or read: Meta
   * may skip "delivered") at or before `at`, within `windowMs`; the most recent wins.
   */
  deliveredWithin(contactId: number, at: number, windowMs: number): Q<ReplyCandidate | undefined> {
    return get(DELIVERED_WITHIN, [contactId, at, at - windowMs])
  }

  /** The first reply of a recipient (a later one changes nothing). */
  *markReplied(recipientId: number, at: number, replyMessageId: number): Q<void> {
    yield* run(MARK_REPLIED, [at, replyMessageId, recipientId])
  }
}
