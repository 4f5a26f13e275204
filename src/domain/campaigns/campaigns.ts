// Broadcast campaigns (issue 7): what a user does with one — create, edit, preview,
// start now or at a time, pause, resume, cancel, follow up — and the audience snapshot
// that turns "tags / an imported list / everyone" into one recipient row per contact
// (UNIQUE(campaign, contact)). Sending is the runner's job (campaign-runner.ts), through
// the same outbox as agents' replies.
import type { EventLog } from '../../events/event-log.ts'
import type { CampaignAudience, CampaignDTO, CampaignParams, ContactDetailDTO, FollowUpFilter } from '../../events/types.ts'
import type { ChannelRow, ContactRow } from '../../store/inbox-store.ts'
import type { AudienceQuery, CampaignPatch, CampaignRepos, CampaignRow, CampaignsRepo } from '../../store/campaigns.ts'
import type { CampaignRecipientsRepo } from '../../store/campaign-recipients.ts'
import { AppError, Errors } from '../../errors.ts'
import type { CampaignAnalytics } from './campaign-analytics.ts'
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
/** PAUSE_CODES' codes as numbers, in key order. */
export const PAUSE_CODE_LIST = Object.keys(PAUSE_CODES).map(Number)

export interface CampaignServiceDeps {
  repos: CampaignRepos
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
  private readonly repo: CampaignsRepo
  private readonly recipients: CampaignRecipientsRepo

  constructor(private readonly deps: CampaignServiceDeps) {
    this.repo = deps.repos.campaigns
    this.recipients = deps.repos.recipients
  }

  row(id: number): CampaignRow | undefined {
    return this.repo.byId(id)
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
    const rows = this.repo.page(workspaceId, opts.beforeId ?? Number.MAX_SAFE_INTEGER, opts.limit + 1)
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
      const row = this.repo.insert({
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
      })
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

  audienceSize(workspaceId: number, a: CampaignAudience): { total: number; optedOut: number; eligible: number } {
    this.checkAudience(workspaceId, a)
    const r = this.repo.audienceSize(workspaceId, audienceQuery(a))
    return { total: r.total, optedOut: r.optedOut ?? 0, eligible: r.total - (r.optedOut ?? 0) }
  }

  /**
   * Inside the caller's transaction: one recipient per contact of the audience, taken
   * now. Opted-out contacts and contacts without a number are recorded as skipped, so
   * they are counted, not forgotten.
   */
  private snapshot(c: CampaignRow): number {
    return this.repo.snapshot(c, audienceQuery(c.audience as unknown as CampaignAudience), this.deps.now())
  }

  // ---- lifecycle --------------------------------------------------------------------

  /** Runs `set` on the campaign if its status is one of `from`; emits the update. */
  private transition(
    workspaceId: number,
    id: number,
    from: CampaignRow['status'][],
    set: (c: CampaignRow) => CampaignPatch,
    after?: (c: CampaignRow) => void,
  ): CampaignDTO {
    return this.deps.events.transact((batch) => {
      const c = this.owned(workspaceId, id)
      if (!from.includes(c.status)) throw Errors.campaignState(`The campaign is ${c.status}`)
      const updated = this.repo.update(id, { ...set(c), updatedAt: this.deps.now() })!
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
      const refused = this.recipients.refusedMessages(id, PAUSE_CODE_LIST)
      for (const messageId of refused) this.deps.outbox.requeue(workspaceId, messageId)
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
    let requeued = 0
    for (const messageId of this.recipients.unconfirmedMessages(id)) if (this.deps.outbox.requeue(workspaceId, messageId)) requeued++
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
      (c) => this.recipients.cancelPending(c.id),
    )
  }

  /**
   * The runner: every recipient of a running campaign is settled. Completes it (whatever
   * its status now: the runner checked) and publishes the change.
   */
  complete(workspaceId: number, id: number): void {
    this.deps.events.transact((batch) => {
      const now = this.deps.now()
      const done = this.repo.update(id, { status: 'completed', completedAt: now, note: null, updatedAt: now })
      if (done) batch.emit(workspaceId, 'campaign.updated', { campaign: this.deps.analytics.dto(done) })
    })
  }

  /** The runner: why a running campaign waits (null: it is moving); published only when it changed. */
  setNote(id: number, text: string | null): void {
    if (this.repo.setNote(id, text)) this.deps.analytics.touch(id)
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
      contact = this.repo.firstEligible(workspaceId, audienceQuery(input.audience))
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

/** The audience as the store queries it: tags cleaned and distinct (the store cleans nothing). */
function audienceQuery(a: CampaignAudience): AudienceQuery {
  if (a.kind !== 'tags') return a
  return { kind: 'tags', match: a.match, tags: [...new Set(a.tags.map(cleanTag).filter((t): t is string => !!t))] }
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
