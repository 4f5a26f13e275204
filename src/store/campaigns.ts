// Broadcast campaigns (issue 7): the campaign rows and the audience queries that pick
// their contacts. Synchronous operations over one connection: the domain
// (domain/campaigns/) runs them inside its transactions.
import type { CampaignAudience, FollowUpFilter } from '../events/types.ts'
import type { Db } from './db.ts'
import { campaigns, contacts } from './schema.ts'
import { Statements, TableCodec } from './prepared.ts'
import type { ContactRow } from './inbox-store.ts'
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

export class CampaignsRepo {
  private readonly codec = new TableCodec<CampaignRow>(campaigns)
  private readonly contactCodec = new TableCodec<ContactRow>(contacts)
  private readonly sql: Statements

  constructor(db: Db) {
    this.sql = new Statements(db.$client)
  }

  byId(id: number): CampaignRow | undefined {
    const r = this.sql.get(`SELECT ${this.codec.select()} FROM campaigns WHERE id = ?`).get(id)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  /** The workspace's campaigns with an id below `beforeId`, newest first. */
  page(workspaceId: number, beforeId: number, limit: number): CampaignRow[] {
    return this.sql
      .get(`SELECT ${this.codec.select()} FROM campaigns WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?`)
      .all(workspaceId, beforeId, limit)
      .map((r) => this.codec.decode(r))
  }

  insert(values: NewCampaign): CampaignRow {
    return this.sql.insert(this.codec, values as Record<string, unknown>)!
  }

  /** Sets the given columns; the updated row (undefined when there is none). */
  update(id: number, set: CampaignPatch): CampaignRow | undefined {
    return this.sql.updateById(this.codec, id, set as Record<string, unknown>)
  }

  status(id: number): string | undefined {
    return (this.sql.get(`SELECT status FROM campaigns WHERE id = ?`).get(id) as { status: string } | undefined)?.status
  }

  /** Sets a campaign's note; false when it already said that. */
  setNote(id: number, text: string | null): boolean {
    return (
      this.sql.get(`UPDATE campaigns SET note = ? WHERE id = ? AND coalesce(note, '') <> coalesce(?, '')`).run(text, id, text).changes > 0
    )
  }

  // ---- the runner's view ----------------------------------------------------------------

  /** Scheduled campaigns whose time has come. */
  dueScheduled(now: number): number[] {
    return (this.sql.get(`SELECT id FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= ?`).all(now) as { id: number }[]).map(
      (r) => r.id,
    )
  }

  /** Running campaigns in id order, with their numbers. */
  running(): { id: number; channelId: number | null }[] {
    return this.sql.get(`SELECT id, channel_id AS channelId FROM campaigns WHERE status = 'running' ORDER BY id`).all() as {
      id: number
      channelId: number | null
    }[]
  }

  /** Ids of the running campaigns (any order). */
  runningIds(): number[] {
    return (this.sql.get(`SELECT id FROM campaigns WHERE status = 'running'`).all() as { id: number }[]).map((r) => r.id)
  }

  /** The earliest time a scheduled campaign is due, if any is. */
  nextScheduledAt(): number | null {
    return (this.sql.get(`SELECT min(scheduled_at) AS at FROM campaigns WHERE status = 'scheduled'`).get() as { at: number | null }).at
  }

  // ---- audience -------------------------------------------------------------------------

  /** SQL selecting the audience's contacts as `c` (WhatsApp contacts of the workspace). */
  private audienceWhere(a: AudienceQuery): { where: string; params: Record<string, unknown> } {
    const base = `c.workspace_id = @ws AND c.kind = 'whatsapp'`
    switch (a.kind) {
      case 'all':
        return { where: base, params: {} }
      case 'tags': {
        const tags = a.tags
        const inTags = `t.contact_id = c.id AND t.tag IN (SELECT value FROM json_each(@tags))`
        return a.match === 'all'
          ? {
              where: `${base} AND (SELECT count(DISTINCT t.tag) FROM contact_tags t WHERE ${inTags}) = @ntags`,
              params: { tags: JSON.stringify(tags), ntags: tags.length },
            }
          : { where: `${base} AND EXISTS (SELECT 1 FROM contact_tags t WHERE ${inTags})`, params: { tags: JSON.stringify(tags) } }
      }
      case 'list':
        return {
          where: `${base} AND EXISTS (SELECT 1 FROM contact_list_members l WHERE l.contact_id = c.id AND l.list_id = @listId)`,
          params: { listId: a.listId },
        }
      case 'followup': {
        const cond: Record<FollowUpFilter, string> = {
          failed: `m.status = 'failed'`,
          unread: `m.status IN ('sent', 'delivered')`,
          no_reply: `m.status IN ('sent', 'delivered', 'read', 'played') AND r.replied_at IS NULL`,
        }
        return {
          where: `${base} AND c.id IN (SELECT r.contact_id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
                   WHERE r.campaign_id = @src AND r.workspace_id = @ws AND ${cond[a.filter]})`,
          params: { src: a.campaignId },
        }
      }
    }
  }

  /** How many contacts the audience holds, and how many of them opted out. */
  audienceSize(workspaceId: number, a: AudienceQuery): { total: number; optedOut: number | null } {
    const { where, params } = this.audienceWhere(a)
    return this.sql
      .get(`SELECT count(*) AS total, sum(c.opted_out_at IS NOT NULL) AS optedOut FROM contacts c WHERE ${where}`)
      .get({ ...params, ws: workspaceId }) as { total: number; optedOut: number | null }
  }

  /** The audience's first contact (by id) that has not opted out. */
  firstEligible(workspaceId: number, a: AudienceQuery): ContactRow | undefined {
    const { where, params } = this.audienceWhere(a)
    const r = this.sql
      .get(`SELECT ${this.contactCodec.select('c')} FROM contacts c WHERE ${where} AND c.opted_out_at IS NULL ORDER BY c.id LIMIT 1`)
      .get({ ...params, ws: workspaceId })
    return r === undefined ? undefined : this.contactCodec.decode(r)
  }

  /**
   * One recipient per contact of the audience (a contact already one is left as it is).
   * Opted-out contacts and contacts without a number are recorded as skipped. Returns
   * how many recipients were added.
   */
  snapshot(c: Pick<CampaignRow, 'id' | 'workspaceId'>, a: AudienceQuery, now: number): number {
    const { where, params } = this.audienceWhere(a)
    const info = this.sql
      .get(
        `INSERT OR IGNORE INTO campaign_recipients (campaign_id, workspace_id, contact_id, state, skip_reason, created_at)
         SELECT @cid, @ws, c.id,
                CASE WHEN c.opted_out_at IS NOT NULL OR c.external_id GLOB '*[^0-9]*' THEN 'skipped' ELSE 'pending' END,
                CASE WHEN c.opted_out_at IS NOT NULL THEN 'opted_out' WHEN c.external_id GLOB '*[^0-9]*' THEN 'no_phone' END,
                @now
           FROM contacts c WHERE ${where} ORDER BY c.id`,
      )
      .run({ ...params, ws: c.workspaceId, cid: c.id, now })
    return info.changes
  }
}
