// Broadcast campaigns (issue 7): what a user does with one — create, edit, preview,
// start now or at a time, pause, resume, cancel, follow up — and the audience snapshot
// that turns "tags / an imported list / everyone" into one recipient row per contact
// (UNIQUE(campaign, contact)). Sending is the runner's job (campaign-runner.ts), through
// the same outbox as agents' replies.
import type Database from 'better-sqlite3'
import type { EventLog } from '../../events/event-log.ts'
import type { CampaignAudience, CampaignDTO, CampaignParams, ContactDetailDTO, FollowUpFilter } from '../../events/types.ts'
import type { Db } from '../../store/db.ts'
import type { ChannelRow, ContactRow } from '../../store/inbox-store.ts'
import { campaigns } from '../../store/schema.ts'
import { Statements, TableCodec } from '../../store/prepared.ts'
import { AppError, Errors } from '../../errors.ts'
import type { CampaignAnalytics, CampaignRow } from './campaign-analytics.ts'
import { checkParams, normalizeParams, resolveParams } from './campaign-params.ts'
import { cleanTag, type ContactsService } from '../contacts/contacts.ts'
import type { TemplateDTO, TemplateService } from '../sending/templates.ts'
import type { Outbox } from '../sending/outbox.ts'

export interface CampaignInput {
  name: string
  template: { name: string; language: string }
  params: CampaignParams
  audience: CampaignAudience
}

/**
 * Meta codes that refuse every send of the campaign, not one recipient: the token, the
 * account, or the template. The first one pauses the campaign with its reason; on
 * resume the sends Meta refused (and so never delivered) are queued again.
 */
export const PAUSE_CODES: Record<number, string> = {
  0: 'token_invalid',
  190: 'token_invalid',
  3: 'account_blocked',
  10: 'account_blocked',
  200: 'account_blocked',
  368: 'account_blocked',
  131031: 'account_blocked',
  131042: 'account_blocked',
  131045: 'account_blocked',
  131037: 'account_blocked',
  132001: 'template_rejected',
  132015: 'template_rejected',
  132016: 'template_rejected',
}

export interface CampaignServiceDeps {
  db: Db
  events: EventLog
  now: () => number
  contacts: ContactsService
  templates: TemplateService
  outbox: Outbox
  analytics: CampaignAnalytics
  whatsappChannel: (workspaceId: number) => ChannelRow | undefined
  channel: (id: number) => ChannelRow | undefined
  /** Wakes the runner (a campaign started or resumed). */
  kick: () => void
  kickOutbox: () => void
}

const NAME_MAX = 200
const TAGS_MAX = 20

export class CampaignService {
  readonly codec = new TableCodec<CampaignRow>(campaigns)
  readonly sql: Statements
  private readonly sqlite: Database.Database

  constructor(private readonly deps: CampaignServiceDeps) {
    this.sqlite = deps.db.$client as Database.Database
    this.sql = new Statements(this.sqlite)
  }

  row(id: number): CampaignRow | undefined {
    const r = this.sql.get(`SELECT ${this.codec.select()} FROM campaigns WHERE id = ?`).get(id)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  owned(workspaceId: number, id: number): CampaignRow {
    const c = this.row(id)
    if (!c || c.workspaceId !== workspaceId) throw Errors.notFound('Campaign')
    return c
  }

  get(workspaceId: number, id: number): CampaignDTO {
    return this.deps.analytics.dto(this.owned(workspaceId, id))
  }

  list(workspaceId: number, opts: { beforeId?: number; limit: number }): { campaigns: CampaignDTO[]; nextBeforeId: number | null } {
    const rows = this.sql
      .get(`SELECT ${this.codec.select()} FROM campaigns WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?`)
      .all(workspaceId, opts.beforeId ?? Number.MAX_SAFE_INTEGER, opts.limit + 1)
      .map((r) => this.codec.decode(r))
    const page = rows.slice(0, opts.limit)
    return {
      campaigns: page.map((r) => this.deps.analytics.dto(r)),
      nextBeforeId: rows.length > opts.limit ? page[page.length - 1]!.id : null,
    }
  }

  // ---- drafts ---------------------------------------------------------------------

  private async validate(workspaceId: number, input: CampaignInput): Promise<{ channel: ChannelRow; template: TemplateDTO }> {
    if (!input.name.trim() || input.name.length > NAME_MAX) throw Errors.campaignInvalid(`Name the campaign (1–${NAME_MAX} characters)`)
    const channel = this.deps.whatsappChannel(workspaceId)
    if (!channel) throw Errors.noChannel()
    const template = (await this.deps.templates.list(channel)).find(
      (t) => t.name === input.template.name && t.language === input.template.language,
    )
    if (!template) throw Errors.templateNotFound()
    checkParams(template, input.params)
    this.checkAudience(workspaceId, input.audience)
    return { channel, template }
  }

  private checkAudience(workspaceId: number, a: CampaignAudience): void {
    switch (a.kind) {
      case 'all':
        return
      case 'tags': {
        const tags = a.tags.map(cleanTag).filter(Boolean)
        if (tags.length === 0 || tags.length > TAGS_MAX) throw Errors.campaignInvalid(`Choose 1–${TAGS_MAX} tags`)
        return
      }
      case 'list':
        if (!this.deps.contacts.listById(workspaceId, a.listId)) throw Errors.notFound('List')
        return
      case 'followup':
        this.owned(workspaceId, a.campaignId)
        return
      default:
        throw Errors.campaignInvalid('Unknown audience')
    }
  }

  async create(workspaceId: number, userId: number, input: CampaignInput, followUpOf: number | null = null): Promise<CampaignDTO> {
    const { channel } = await this.validate(workspaceId, input)
    return this.deps.events.transact((batch) => {
      const now = this.deps.now()
      const row = this.sql.insert(this.codec, {
        workspaceId,
        channelId: channel.id,
        name: input.name.trim(),
        status: 'draft',
        templateName: input.template.name,
        templateLanguage: input.template.language,
        params: normalizeParams(input.params) as unknown as Record<string, unknown>,
        audience: normalizeAudience(input.audience),
        followUpOf,
        createdBy: userId,
        createdAt: now,
        updatedAt: now,
      })!
      const dto = this.deps.analytics.dto(row)
      batch.emit(workspaceId, 'campaign.updated', { campaign: dto })
      return dto
    })
  }

  async update(workspaceId: number, id: number, input: CampaignInput): Promise<CampaignDTO> {
    const c = this.owned(workspaceId, id)
    if (c.status !== 'draft' && c.status !== 'scheduled') throw Errors.campaignState('Only a draft or a scheduled campaign can be edited')
    const { channel } = await this.validate(workspaceId, input)
    return this.transition(workspaceId, id, ['draft', 'scheduled'], () => ({
      channelId: channel.id,
      name: input.name.trim(),
      templateName: input.template.name,
      templateLanguage: input.template.language,
      params: normalizeParams(input.params) as unknown as Record<string, unknown>,
      audience: normalizeAudience(input.audience),
    }))
  }

  // ---- audience -------------------------------------------------------------------

  /** SQL selecting the audience's contacts as `c` (WhatsApp contacts of the workspace). */
  private audienceWhere(a: CampaignAudience): { where: string; params: Record<string, unknown> } {
    const base = `c.workspace_id = @ws AND c.kind = 'whatsapp'`
    switch (a.kind) {
      case 'all':
        return { where: base, params: {} }
      case 'tags': {
        const tags = [...new Set(a.tags.map(cleanTag).filter((t): t is string => !!t))]
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

  audienceSize(workspaceId: number, a: CampaignAudience): { total: number; optedOut: number; eligible: number } {
    this.checkAudience(workspaceId, a)
    const { where, params } = this.audienceWhere(a)
    const r = this.sqlite
      .prepare(`SELECT count(*) AS total, sum(c.opted_out_at IS NOT NULL) AS optedOut FROM contacts c WHERE ${where}`)
      .get({ ...params, ws: workspaceId }) as { total: number; optedOut: number | null }
    return { total: r.total, optedOut: r.optedOut ?? 0, eligible: r.total - (r.optedOut ?? 0) }
  }

  /**
   * Inside the caller's transaction: one recipient per contact of the audience, taken
   * now. Opted-out contacts and contacts without a number are recorded as skipped, so
   * they are counted, not forgotten.
   */
  private snapshot(c: CampaignRow): number {
    const { where, params } = this.audienceWhere(c.audience as unknown as CampaignAudience)
    const info = this.sqlite
      .prepare(
        `INSERT OR IGNORE INTO campaign_recipients (campaign_id, workspace_id, contact_id, state, skip_reason, created_at)
         SELECT @cid, @ws, c.id,
                CASE WHEN c.opted_out_at IS NOT NULL OR c.external_id GLOB '*[^0-9]*' THEN 'skipped' ELSE 'pending' END,
                CASE WHEN c.opted_out_at IS NOT NULL THEN 'opted_out' WHEN c.external_id GLOB '*[^0-9]*' THEN 'no_phone' END,
                @now
           FROM contacts c WHERE ${where} ORDER BY c.id`,
      )
      .run({ ...params, ws: c.workspaceId, cid: c.id, now: this.deps.now() })
    return info.changes
  }

  // ---- lifecycle --------------------------------------------------------------------

  /** Runs `set` on the campaign if its status is one of `from`; emits the update. */
  private transition(
    workspaceId: number,
    id: number,
    from: CampaignRow['status'][],
    set: (c: CampaignRow) => Partial<typeof campaigns.$inferInsert>,
    after?: (c: CampaignRow) => void,
  ): CampaignDTO {
    return this.deps.events.transact((batch) => {
      const c = this.owned(workspaceId, id)
      if (!from.includes(c.status)) throw Errors.campaignState(`The campaign is ${c.status}`)
      const updated = this.sql.updateById(this.codec, id, { ...set(c), updatedAt: this.deps.now() })!
      after?.(updated)
      const dto = this.deps.analytics.dto(updated)
      batch.emit(workspaceId, 'campaign.updated', { campaign: dto })
      return dto
    })
  }

  /** Send now (no `at`, or a time already past) or at a time. */
  async start(workspaceId: number, id: number, at?: number | null): Promise<CampaignDTO> {
    const c = this.owned(workspaceId, id)
    // The template may have been paused or deleted at Meta since the draft was saved.
    await this.validate(workspaceId, {
      name: c.name,
      template: { name: c.templateName, language: c.templateLanguage },
      params: c.params as unknown as CampaignParams,
      audience: c.audience as unknown as CampaignAudience,
    })
    const now = this.deps.now()
    if (at !== undefined && at !== null && at > now) {
      const scheduled = this.transition(workspaceId, id, ['draft', 'scheduled'], () => ({ status: 'scheduled', scheduledAt: at }))
      this.deps.kick() // the runner sets its timer for it
      return scheduled
    }
    const dto = this.transition(
      workspaceId,
      id,
      ['draft', 'scheduled'],
      () => ({ status: 'running', startedAt: now, resumedAt: now, scheduledAt: c.scheduledAt ?? null }),
      (updated) => {
        if (this.snapshot(updated) === 0) throw Errors.audienceEmpty()
      },
    )
    this.deps.kick()
    return dto
  }

  /** The runner: a scheduled campaign whose time has come. */
  startScheduled(id: number): void {
    const c = this.row(id)
    if (!c || c.status !== 'scheduled') return
    try {
      this.transition(
        c.workspaceId,
        id,
        ['scheduled'],
        () => ({ status: 'running', startedAt: this.deps.now(), resumedAt: this.deps.now() }),
        (u) => {
          if (this.snapshot(u) === 0) throw Errors.audienceEmpty()
        },
      )
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      // Nobody to send to (the tag was emptied since): say so instead of running empty.
      this.pause(c.workspaceId, id, 'audience_empty', 'No contact matched the audience when the campaign was due to start.', ['scheduled'])
    }
  }

  pause(
    workspaceId: number,
    id: number,
    code = 'manual',
    reason = 'Paused by a user.',
    from: CampaignRow['status'][] = ['running'],
  ): CampaignDTO {
    return this.transition(workspaceId, id, from, () => ({
      status: 'paused',
      pausedAt: this.deps.now(),
      pauseCode: code,
      pauseReason: reason,
    }))
  }

  resume(workspaceId: number, id: number): CampaignDTO {
    const now = this.deps.now()
    const paused = this.owned(workspaceId, id)
    const dto = this.transition(workspaceId, id, ['paused'], (c) => ({
      status: 'running',
      pausedAt: null,
      pauseCode: null,
      pauseReason: null,
      resumedAt: now,
      startedAt: c.startedAt ?? now,
    }))
    // Sends Meta refused for the reason that paused it (190, a blocked account, …) were
    // never delivered: they go again, through the outbox's own "send again" (which
    // refuses anything Meta accepted, so nobody gets the message twice).
    if (paused.pauseCode && paused.pauseCode !== 'manual') {
      const codes = Object.keys(PAUSE_CODES).join(',')
      const refused = this.sqlite
        .prepare(
          `SELECT m.id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
            WHERE r.campaign_id = ? AND m.status = 'failed' AND m.error_code IN (${codes}) AND m.provider_message_id IS NULL`,
        )
        .all(id) as { id: number }[]
      for (const m of refused) this.deps.outbox.requeue(workspaceId, m.id)
      if (refused.length) this.deps.kickOutbox()
    }
    this.deps.kick()
    return dto
  }

  /**
   * A user's explicit "send again" for the recipients whose send is in doubt (a crash or
   * a dropped connection mid-call, and no status from Meta since). Parley never does
   * this by itself: if Meta did take a message and its status is only late, the
   * customer gets it twice — the UI says so before asking. Each goes through the
   * outbox's own requeue, which refuses any message Meta has named (a wamid).
   */
  retryUnconfirmed(workspaceId: number, id: number): { campaign: CampaignDTO; requeued: number } {
    const c = this.owned(workspaceId, id)
    if (c.status !== 'running' && c.status !== 'completed') throw Errors.campaignState(`The campaign is ${c.status}`)
    const rows = this.sqlite
      .prepare(
        `SELECT m.id FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.campaign_id = ? AND m.status = 'unknown' AND m.provider_message_id IS NULL ORDER BY r.id`,
      )
      .all(id) as { id: number }[]
    let requeued = 0
    for (const m of rows) if (this.deps.outbox.requeue(workspaceId, m.id)) requeued++
    if (requeued > 0 && c.status === 'completed') {
      // Running again until those sends settle; the runner completes it once more.
      this.transition(workspaceId, id, ['completed'], () => ({ status: 'running', completedAt: null, resumedAt: this.deps.now() }))
    }
    if (requeued > 0) {
      this.deps.kickOutbox()
      this.deps.kick()
    }
    this.deps.analytics.touch(id)
    return { campaign: this.get(workspaceId, id), requeued }
  }

  /** Stops for good: recipients not yet handed to the outbox are skipped as cancelled. */
  cancel(workspaceId: number, id: number): CampaignDTO {
    return this.transition(
      workspaceId,
      id,
      ['draft', 'scheduled', 'running', 'paused'],
      () => ({ status: 'cancelled', cancelledAt: this.deps.now(), note: null }),
      (c) => {
        this.sqlite
          .prepare(
            `UPDATE campaign_recipients SET state = 'skipped', skip_reason = 'cancelled' WHERE campaign_id = ? AND state = 'pending'`,
          )
          .run(c.id)
      },
    )
  }

  /** "Follow up": a new draft for the failed, unread or non-replying recipients of this one. */
  async followUp(workspaceId: number, userId: number, id: number, filter: FollowUpFilter, name?: string): Promise<CampaignDTO> {
    const c = this.owned(workspaceId, id)
    const audience: CampaignAudience = { kind: 'followup', campaignId: id, filter }
    if (this.audienceSize(workspaceId, audience).total === 0) throw Errors.audienceEmpty()
    const label = { failed: 'failed', unread: 'unread', no_reply: 'no reply' }[filter]
    return this.create(
      workspaceId,
      userId,
      {
        name: (name?.trim() || `${c.name} — follow-up (${label})`).slice(0, NAME_MAX),
        template: { name: c.templateName, language: c.templateLanguage },
        params: c.params as unknown as CampaignParams,
        audience,
      },
      id,
    )
  }

  // ---- preview ----------------------------------------------------------------------

  /** What one contact would receive (the first of the audience unless one is named). */
  async preview(
    workspaceId: number,
    input: Omit<CampaignInput, 'name'>,
    contactId?: number,
  ): Promise<{
    contact: ContactDetailDTO | null
    text: string | null
    skip: { reason: string; detail: string } | null
    audience: { total: number; optedOut: number; eligible: number }
  }> {
    const channel = this.deps.whatsappChannel(workspaceId)
    if (!channel) throw Errors.noChannel()
    const template = (await this.deps.templates.list(channel)).find(
      (t) => t.name === input.template.name && t.language === input.template.language,
    )
    if (!template) throw Errors.templateNotFound()
    checkParams(template, input.params)
    const audience = this.audienceSize(workspaceId, input.audience)
    let contact: ContactRow | undefined
    if (contactId !== undefined) {
      contact = this.deps.contacts.row(workspaceId, contactId)
      if (!contact) throw Errors.notFound('Contact')
    } else {
      const { where, params } = this.audienceWhere(input.audience)
      const r = this.sqlite
        .prepare(
          `SELECT ${this.deps.contacts.codec.select('c')} FROM contacts c WHERE ${where} AND c.opted_out_at IS NULL ORDER BY c.id LIMIT 1`,
        )
        .get({ ...params, ws: workspaceId })
      contact = r === undefined ? undefined : this.deps.contacts.codec.decode(r)
    }
    if (!contact) return { contact: null, text: null, skip: null, audience }
    const dto = this.deps.contacts.dto(contact)
    if (contact.optedOutAt !== null)
      return { contact: dto, text: null, skip: { reason: 'opted_out', detail: 'This contact opted out of campaigns' }, audience }
    const resolved = resolveParams(input.template, input.params, contact)
    if (!resolved.ok) return { contact: dto, text: null, skip: { reason: resolved.reason, detail: resolved.detail }, audience }
    try {
      const built = await this.deps.templates.build(channel, resolved.send)
      return { contact: dto, text: built.text, skip: null, audience }
    } catch (err) {
      if (err instanceof AppError && err.code === 'TEMPLATE_PARAMETERS') {
        return { contact: dto, text: null, skip: { reason: 'invalid_value', detail: err.message }, audience }
      }
      throw err
    }
  }
}

function normalizeAudience(a: CampaignAudience): Record<string, unknown> {
  switch (a.kind) {
    case 'tags':
      return { kind: 'tags', match: a.match === 'all' ? 'all' : 'any', tags: [...new Set(a.tags.map(cleanTag).filter(Boolean))] }
    case 'list':
      return { kind: 'list', listId: a.listId }
    case 'followup':
      return { kind: 'followup', campaignId: a.campaignId, filter: a.filter }
    default:
      return { kind: 'all' }
  }
}
