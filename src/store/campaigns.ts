// Broadcast campaigns (issue 7): the campaign rows and the audience queries that pick
// their contacts. Units of work (store/unit.ts), the same SQL on SQLite and PostgreSQL
// (issue 17); the domain (domain/campaigns/) runs them inside its transactions.
import type { CampaignAudience, FollowUpFilter } from '../events/types.ts'
import type { Dialect } from './conn.ts'
import type { ContactRow } from './inbox-store.ts'
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import { campaigns, contacts } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'
import type { CampaignRecipientsRepo } from './campaign-recipients.ts'

export type CampaignRow = typeof campaigns.$inferSelect
export type NewCampaign = typeof campaigns.$inferInsert
export type CampaignPatch = Partial<NewCampaign>

/** The campaign tables, as the campaign modules take them. */
export interface CampaignRepos {
  campaigns: CampaignsRepo
  recipients: CampaignRecipientsRepo
}

/** An audience whose tags are cleaned and distinct already (contacts.ts cleanTag). */
export type AudienceQuery = CampaignAudience

const codec = new TableCodec<CampaignRow>(campaigns)
const contactCodec = new TableCodec<ContactRow>(contacts)
const COLS = codec.selectQuoted('campaigns')

const BY_ID = `SELECT ${COLS} FROM campaigns WHERE id = ?`
const PAGE = `SELECT ${COLS} FROM campaigns WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?`
const STATUS = `SELECT status FROM campaigns WHERE id = ?`
const SET_NOTE = `UPDATE campaigns SET note = ? WHERE id = ? AND coalesce(note, '') <> coalesce(?, '')`
const DUE = `SELECT id FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY id`
const RUNNING = `SELECT id, channel_id AS "channelId" FROM campaigns WHERE status = 'running' ORDER BY id`
const RUNNING_IDS = `SELECT id FROM campaigns WHERE status = 'running' ORDER BY id`
const NEXT_SCHEDULED = `SELECT min(scheduled_at) AS at FROM campaigns WHERE status = 'scheduled'`

// A contact without a WhatsApp number: an external id that is not all digits.
const NOT_DIGITS: Record<Dialect, string> = { sqlite: `c.external_id GLOB '*[^0-9]*'`, postgres: `c.external_id ~ '[^0-9]'` }

// One SQL text per (dialect, audience shape), built once: SQLite caches statements by text.
const texts = new Map<string, string>()
function cached(key: string, build: () => string): string {
  let s = texts.get(key)
  if (s === undefined) texts.set(key, (s = build()))
  return s
}

/** The audience's condition on `c` (WhatsApp contacts of the workspace) and its parameters, in text order. */
function audienceWhere(d: Dialect, ws: number, a: AudienceQuery): { key: string; where: string; params: unknown[] } {
  const base = `c.workspace_id = ? AND c.kind = 'whatsapp'`
  switch (a.kind) {
    case 'all':
      return { key: 'all', where: base, params: [ws] }
    case 'tags': {
      // A list bound as JSON on SQLite, as an array on PostgreSQL (no json_each there).
      const inTags = `t.contact_id = c.id AND ${d === 'sqlite' ? `t.tag IN (SELECT value FROM json_each(?))` : `t.tag = ANY(?::text[])`}`
      const tags = d === 'sqlite' ? JSON.stringify(a.tags) : a.tags
      return a.match === 'all'
        ? {
            key: `tags-all`,
            where: `${base} AND (SELECT count(DISTINCT t.tag) FROM contact_tags t WHERE ${inTags}) = ?`,
            params: [ws, tags, a.tags.length],
          }
        : { key: 'tags-any', where: `${base} AND EXISTS (SELECT 1 FROM contact_tags t WHERE ${inTags})`, params: [ws, tags] }
    }
    case 'list':
      return {
        key: 'list',
        where: `${base} AND EXISTS (SELECT 1 FROM contact_list_members l WHERE l.contact_id = c.id AND l.list_id = ?)`,
        params: [ws, a.listId],
      }
    case 'followup': {
      const cond: Record<FollowUpFilter, string> = {
        failed: `m.status = 'failed'`,
        unread: `m.status IN ('sent', 'delivered')`,
        no_reply: `m.status IN ('sent', 'delivered', 'read', 'played') AND r.replied_at IS NULL`,
      }
      return {
        key: `followup-${a.filter}`,
        where: `${base} AND c.id IN (SELECT r.contact_id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
                 WHERE r.campaign_id = ? AND r.workspace_id = ? AND ${cond[a.filter]})`,
        params: [ws, a.campaignId, ws],
      }
    }
  }
}

export class CampaignsRepo {
  *byId(id: number): Q<CampaignRow | undefined> {
    const r = yield* get(BY_ID, [id])
    return r === undefined ? undefined : codec.decodeAny(r)
  }

  /** The workspace's campaigns with an id below `beforeId`, newest first. */
  *page(workspaceId: number, beforeId: number, limit: number): Q<CampaignRow[]> {
    return (yield* all(PAGE, [workspaceId, beforeId, limit])).map((r) => codec.decodeAny(r))
  }

  *insert(values: NewCampaign): Q<CampaignRow> {
    return (yield* insertRow(codec, values as Record<string, unknown>))!
  }

  /** Sets the given columns; the updated row (undefined when there is none). */
  update(id: number, set: CampaignPatch): Q<CampaignRow | undefined> {
    return updateRowById(codec, id, set as Record<string, unknown>)
  }

  *status(id: number): Q<string | undefined> {
    return (yield* get<{ status: string }>(STATUS, [id]))?.status
  }

  /** Sets a campaign's note; false when it already said that. */
  *setNote(id: number, text: string | null): Q<boolean> {
    return (yield* run(SET_NOTE, [text, id, text])).changes > 0
  }

  // ---- the runner's view ----------------------------------------------------------------

  /** Scheduled campaigns whose time has come. */
  *dueScheduled(now: number): Q<number[]> {
    return (yield* all<{ id: number }>(DUE, [now])).map((r) => r.id)
  }

  /** Running campaigns in id order, with their numbers. */
  running(): Q<{ id: number; channelId: number | null }[]> {
    return all(RUNNING)
  }

  /** Ids of the running campaigns. */
  *runningIds(): Q<number[]> {
    return (yield* all<{ id: number }>(RUNNING_IDS)).map((r) => r.id)
  }

  /** The earliest time a scheduled campaign is due, if any is. */
  *nextScheduledAt(): Q<number | null> {
    return (yield* get<{ at: number | null }>(NEXT_SCHEDULED))?.at ?? null
  }

  // ---- audience -------------------------------------------------------------------------

  /** How many contacts the audience holds, and how many of them opted out. */
  *audienceSize(workspaceId: number, a: AudienceQuery): Q<{ total: number; optedOut: number | null }> {
    const d = yield* dialect()
    const { key, where, params } = audienceWhere(d, workspaceId, a)
    const sql = cached(
      `size|${d}|${key}`,
      () =>
        `SELECT count(*) AS total, CAST(sum(CASE WHEN c.opted_out_at IS NOT NULL THEN 1 ELSE 0 END) AS INTEGER) AS "optedOut"
           FROM contacts c WHERE ${where}`,
    )
    const r = yield* get<{ total: number; optedOut: number | null }>(sql, params)
    return { total: Number(r?.total ?? 0), optedOut: r?.optedOut ?? null }
  }

  /** The audience's first contact (by id) that has not opted out. */
  *firstEligible(workspaceId: number, a: AudienceQuery): Q<ContactRow | undefined> {
    const d = yield* dialect()
    const { key, where, params } = audienceWhere(d, workspaceId, a)
    const sql = cached(
      `first|${d}|${key}`,
      () => `SELECT ${contactCodec.selectQuoted('c')} FROM contacts c WHERE ${where} AND c.opted_out_at IS NULL ORDER BY c.id LIMIT 1`,
    )
    const r = yield* get(sql, params)
    return r === undefined ? undefined : contactCodec.decodeAny(r)
  }

  /**
   * One recipient per contact of the audience (a contact already one is left as it is).
   * Opted-out contacts and contacts without a number are recorded as skipped. Returns
   * how many recipients were added.
   */
  *snapshot(c: Pick<CampaignRow, 'id' | 'workspaceId'>, a: AudienceQuery, now: number): Q<number> {
    const d = yield* dialect()
    const { key, where, params } = audienceWhere(d, c.workspaceId, a)
    // The selected values are cast: PostgreSQL types a bare parameter in a SELECT list as text.
    // ON CONFLICT DO NOTHING, not a caught unique violation: PostgreSQL would abort the transaction.
    const sql = cached(
      `snapshot|${d}|${key}`,
      () =>
        `INSERT INTO campaign_recipients (campaign_id, workspace_id, contact_id, state, skip_reason, created_at)
         SELECT CAST(? AS BIGINT), CAST(? AS BIGINT), c.id,
                CASE WHEN c.opted_out_at IS NOT NULL OR ${NOT_DIGITS[d]} THEN 'skipped' ELSE 'pending' END,
                CASE WHEN c.opted_out_at IS NOT NULL THEN 'opted_out' WHEN ${NOT_DIGITS[d]} THEN 'no_phone' END,
                CAST(? AS BIGINT)
           FROM contacts c WHERE ${where} ORDER BY c.id
         ON CONFLICT (campaign_id, contact_id) DO NOTHING`,
    )
    return (yield* run(sql, [c.id, c.workspaceId, now, ...params])).changes
  }
}
