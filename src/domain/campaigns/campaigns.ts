// Broadcast campaigns (issue 7): what a user does with one — create, edit, preview,
// start now or at a time, pause, resume, cancel, follow up — and the audience snapshot
// that turns "tags / an imported list / everyone" into one recipient row per contact
// (UNIQUE(campaign, contact)). Sending is the runner's job (campaign-runner.ts), through
// the same outbox as agents' replies.
//
// Issue 17: every database step is a unit of work (store/unit.ts), run through `units`
// (reads) or `unitLog` (writes with their `campaign.updated`), the same code on SQLite and
// PostgreSQL. What is not the database — Meta's template list, the outbox's requeue, the
// runner's kick — happens outside the units.
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type {
  CampaignAudience,
  CampaignDTO,
  CampaignParams,
  CampaignRecipientDTO,
  ContactDetailDTO,
  FollowUpFilter,
} from '../../events/types.ts'
import type { ChannelRow, ContactRow, MessageRow } from '../../store/inbox-store.ts'
import type { AudienceQuery, CampaignPatch, CampaignRepos, CampaignRow, CampaignsRepo } from '../../store/campaigns.ts'
import type { CampaignRecipientsRepo } from '../../store/campaign-recipients.ts'
import { AppError, Errors } from '../../errors.ts'
import type { CampaignAnalytics } from './campaign-analytics.ts'
import { checkParams, normalizeParams, resolveParams } from './campaign-params.ts'
import { cleanTag, type ContactsService } from '../contacts/contacts.ts'
import type { TemplateDTO, TemplateService } from '../sending/templates.ts'
import type { Outbox } from '../sending/outbox.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'

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
  units: UnitRunner
  unitLog: UnitLog
  now: () => number
  contacts: ContactsService
  templates: TemplateService
  outbox: Outbox
  analytics: CampaignAnalytics
  whatsappChannel: (workspaceId: number) => Promise<ChannelRow | undefined>
  channel: (id: number) => Promise<ChannelRow | undefined>
  /** Wakes the runner (a campaign started or resumed). */
  kick: () => void
  kickOutbox: () => void
}

const NAME_MAX = 200
const TAGS_MAX = 20

type Status = CampaignRow['status']

export class CampaignService {
  private readonly repo: CampaignsRepo
  private readonly recipients: CampaignRecipientsRepo

  constructor(private readonly deps: CampaignServiceDeps) {
    this.repo = deps.repos.campaigns
    this.recipients = deps.repos.recipients
  }

  rowUnit(id: number): Q<CampaignRow | undefined> {
    return this.repo.byId(id)
  }

  /** The campaign if it is the workspace's; another workspace's is "not found". */
  *ownedUnit(workspaceId: number, id: number): Q<CampaignRow> {
    const c = yield* this.repo.byId(id)
    if (!c || c.workspaceId !== workspaceId) throw Errors.notFound('Campaign')
    return c
  }

  owned(workspaceId: number, id: number): Promise<CampaignRow> {
    return this.deps.units.read(() => this.ownedUnit(workspaceId, id))
  }

  *getUnit(workspaceId: number, id: number): Q<CampaignDTO> {
    return yield* this.deps.analytics.dtoUnit(yield* this.ownedUnit(workspaceId, id))
  }

  *listUnit(workspaceId: number, opts: { beforeId?: number; limit: number }): Q<{ campaigns: CampaignDTO[]; nextBeforeId: number | null }> {
    const rows = yield* this.repo.page(workspaceId, opts.beforeId ?? Number.MAX_SAFE_INTEGER, opts.limit + 1)
    const page = rows.slice(0, opts.limit)
    const campaigns: CampaignDTO[] = []
    for (const r of page) campaigns.push(yield* this.deps.analytics.dtoUnit(r))
    return { campaigns, nextBeforeId: rows.length > opts.limit ? page[page.length - 1]!.id : null }
  }

  /** A page of the campaign's recipients (the workspace's campaign only). */
  *recipientsUnit(workspaceId: number, id: number, opts: { afterId?: number; limit: number; status?: string }): Q<CampaignRecipientDTO[]> {
    yield* this.ownedUnit(workspaceId, id)
    return yield* this.deps.analytics.recipientsUnit(id, opts)
  }

  // ---- drafts ---------------------------------------------------------------------

  private async validate(workspaceId: number, input: CampaignInput): Promise<{ channel: ChannelRow; template: TemplateDTO }> {
    if (!input.name.trim() || input.name.length > NAME_MAX) throw Errors.campaignInvalid(`Name the campaign (1–${NAME_MAX} characters)`)
    const channel = await this.deps.whatsappChannel(workspaceId)
    if (!channel) throw Errors.noChannel()
    const template = (await this.deps.templates.list(channel)).find(
      (t) => t.name === input.template.name && t.language === input.template.language,
    )
    if (!template) throw Errors.templateNotFound()
    checkParams(template, input.params)
    await this.deps.units.read(() => this.checkAudienceUnit(workspaceId, input.audience))
    return { channel, template }
  }

  private *checkAudienceUnit(workspaceId: number, a: CampaignAudience): Q<void> {
    switch (a.kind) {
      case 'all':
        return
      case 'tags': {
        const tags = a.tags.map(cleanTag).filter(Boolean)
        if (tags.length === 0 || tags.length > TAGS_MAX) throw Errors.campaignInvalid(`Choose 1–${TAGS_MAX} tags`)
        return
      }
      case 'list':
        if (!(yield* this.deps.contacts.listByIdUnit(workspaceId, a.listId))) throw Errors.notFound('List')
        return
      case 'followup':
        yield* this.ownedUnit(workspaceId, a.campaignId)
        return
      default:
        throw Errors.campaignInvalid('Unknown audience')
    }
  }

  *createUnit(
    workspaceId: number,
    userId: number,
    input: CampaignInput,
    channelId: number,
    followUpOf: number | null,
    batch: Emitter,
  ): Q<CampaignDTO> {
    const now = this.deps.now()
    const row = yield* this.repo.insert({
      workspaceId,
      channelId,
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
    const dto = yield* this.deps.analytics.dtoUnit(row)
    batch.emit(workspaceId, 'campaign.updated', { campaign: dto })
    return dto
  }

  async create(workspaceId: number, userId: number, input: CampaignInput, followUpOf: number | null = null): Promise<CampaignDTO> {
    const { channel } = await this.validate(workspaceId, input)
    return this.deps.unitLog.transact((batch) => this.createUnit(workspaceId, userId, input, channel.id, followUpOf, batch))
  }

  async update(workspaceId: number, id: number, input: CampaignInput): Promise<CampaignDTO> {
    const c = await this.owned(workspaceId, id)
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

  *audienceSizeUnit(workspaceId: number, a: CampaignAudience): Q<{ total: number; optedOut: number; eligible: number }> {
    yield* this.checkAudienceUnit(workspaceId, a)
    const r = yield* this.repo.audienceSize(workspaceId, audienceQuery(a))
    return { total: r.total, optedOut: r.optedOut ?? 0, eligible: r.total - (r.optedOut ?? 0) }
  }

  /**
   * Inside the caller's transaction: one recipient per contact of the audience, taken
   * now. Opted-out contacts and contacts without a number are recorded as skipped, so
   * they are counted, not forgotten.
   */
  private snapshotUnit(c: CampaignRow): Q<number> {
    return this.repo.snapshot(c, audienceQuery(c.audience as unknown as CampaignAudience), this.deps.now())
  }

  // ---- lifecycle --------------------------------------------------------------------

  /** Runs `set` on the campaign if its status is one of `from`; emits the update. */
  *transitionUnit(
    workspaceId: number,
    id: number,
    from: Status[],
    set: (c: CampaignRow) => CampaignPatch,
    batch: Emitter,
    after?: (c: CampaignRow) => Q<void>,
  ): Q<CampaignDTO> {
    const c = yield* this.ownedUnit(workspaceId, id)
    if (!from.includes(c.status)) throw Errors.campaignState(`The campaign is ${c.status}`)
    const updated = (yield* this.repo.update(id, { ...set(c), updatedAt: this.deps.now() }))!
    if (after) yield* after(updated)
    const dto = yield* this.deps.analytics.dtoUnit(updated)
    batch.emit(workspaceId, 'campaign.updated', { campaign: dto })
    return dto
  }

  private transition(
    workspaceId: number,
    id: number,
    from: Status[],
    set: (c: CampaignRow) => CampaignPatch,
    after?: (c: CampaignRow) => Q<void>,
  ): Promise<CampaignDTO> {
    return this.deps.unitLog.transact((batch) => this.transitionUnit(workspaceId, id, from, set, batch, after))
  }

  /** `after` of a start: the audience snapshot; an empty one undoes the start. */
  private *snapshotOrEmpty(c: CampaignRow): Q<void> {
    if ((yield* this.snapshotUnit(c)) === 0) throw Errors.audienceEmpty()
  }

  /** Send now (no `at`, or a time already past) or at a time. */
  async start(workspaceId: number, id: number, at?: number | null): Promise<CampaignDTO> {
    const c = await this.owned(workspaceId, id)
    // The template may have been paused or deleted at Meta since the draft was saved.
    await this.validate(workspaceId, {
      name: c.name,
      template: { name: c.templateName, language: c.templateLanguage },
      params: c.params as unknown as CampaignParams,
      audience: c.audience as unknown as CampaignAudience,
    })
    const now = this.deps.now()
    if (at !== undefined && at !== null && at > now) {
      const scheduled = await this.transition(workspaceId, id, ['draft', 'scheduled'], () => ({ status: 'scheduled', scheduledAt: at }))
      this.deps.kick() // the runner sets its timer for it
      return scheduled
    }
    const dto = await this.transition(
      workspaceId,
      id,
      ['draft', 'scheduled'],
      () => ({ status: 'running', startedAt: now, resumedAt: now, scheduledAt: c.scheduledAt ?? null }),
      (updated) => this.snapshotOrEmpty(updated),
    )
    this.deps.kick()
    return dto
  }

  /** The runner: a scheduled campaign whose time has come. */
  async startScheduled(id: number): Promise<void> {
    const c = await this.deps.units.read(() => this.rowUnit(id))
    if (!c || c.status !== 'scheduled') return
    try {
      await this.transition(
        c.workspaceId,
        id,
        ['scheduled'],
        () => ({ status: 'running', startedAt: this.deps.now(), resumedAt: this.deps.now() }),
        (u) => this.snapshotOrEmpty(u),
      )
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      // Nobody to send to (the tag was emptied since): say so instead of running empty.
      await this.pause(c.workspaceId, id, 'audience_empty', 'No contact matched the audience when the campaign was due to start.', [
        'scheduled',
      ])
    }
  }

  pauseUnit(workspaceId: number, id: number, code: string, reason: string, from: Status[], batch: Emitter): Q<CampaignDTO> {
    return this.transitionUnit(
      workspaceId,
      id,
      from,
      () => ({ status: 'paused', pausedAt: this.deps.now(), pauseCode: code, pauseReason: reason }),
      batch,
    )
  }

  pause(
    workspaceId: number,
    id: number,
    code = 'manual',
    reason = 'Paused by a user.',
    from: Status[] = ['running'],
  ): Promise<CampaignDTO> {
    return this.deps.unitLog.transact((batch) => this.pauseUnit(workspaceId, id, code, reason, from, batch))
  }

  /** paused → running; the pause's code, and the sends it refused when it was Meta's (one unit). */
  *resumeUnit(workspaceId: number, id: number, batch: Emitter): Q<{ campaign: CampaignDTO; refused: number[] }> {
    const now = this.deps.now()
    const paused = yield* this.ownedUnit(workspaceId, id)
    const campaign = yield* this.transitionUnit(
      workspaceId,
      id,
      ['paused'],
      (c) => ({ status: 'running', pausedAt: null, pauseCode: null, pauseReason: null, resumedAt: now, startedAt: c.startedAt ?? now }),
      batch,
    )
    const refused = paused.pauseCode && paused.pauseCode !== 'manual' ? yield* this.recipients.refusedMessages(id, PAUSE_CODE_LIST) : []
    return { campaign, refused }
  }

  /** The outbox's "send again" for one message, in its own transaction (either database). */
  private requeue(workspaceId: number, messageId: number): Promise<MessageRow | undefined> {
    const { outbox } = this.deps
    return this.deps.unitLog.transact((batch) => outbox.resend(batch, workspaceId, messageId))
  }

  async resume(workspaceId: number, id: number): Promise<CampaignDTO> {
    const { campaign, refused } = await this.deps.unitLog.transact((batch) => this.resumeUnit(workspaceId, id, batch))
    // Sends Meta refused for the reason that paused it (190, a blocked account, …) were
    // never delivered: they go again, through the outbox's own "send again" (which
    // refuses anything Meta accepted, so nobody gets the message twice).
    for (const messageId of refused) await this.requeue(workspaceId, messageId)
    if (refused.length) this.deps.kickOutbox()
    this.deps.kick()
    return campaign
  }

  /**
   * A user's explicit "send again" for the recipients whose send is in doubt (a crash or
   * a dropped connection mid-call, and no status from Meta since). Parley never does
   * this by itself: if Meta did take a message and its status is only late, the
   * customer gets it twice — the UI says so before asking. Each goes through the
   * outbox's own requeue, which refuses any message Meta has named (a wamid).
   */
  async retryUnconfirmed(workspaceId: number, id: number): Promise<{ campaign: CampaignDTO; requeued: number }> {
    const self = this
    const { c, unconfirmed } = await this.deps.units.read(function* () {
      const c = yield* self.ownedUnit(workspaceId, id)
      return { c, unconfirmed: yield* self.recipients.unconfirmedMessages(id) }
    })
    if (c.status !== 'running' && c.status !== 'completed') throw Errors.campaignState(`The campaign is ${c.status}`)
    let requeued = 0
    for (const messageId of unconfirmed) if (await this.requeue(workspaceId, messageId)) requeued++
    if (requeued > 0 && c.status === 'completed') {
      // Running again until those sends settle; the runner completes it once more.
      await this.transition(workspaceId, id, ['completed'], () => ({ status: 'running', completedAt: null, resumedAt: this.deps.now() }))
    }
    if (requeued > 0) {
      this.deps.kickOutbox()
      this.deps.kick()
    }
    this.deps.analytics.touch(id)
    return { campaign: await this.deps.units.read(() => this.getUnit(workspaceId, id)), requeued }
  }

  cancelUnit(workspaceId: number, id: number, batch: Emitter): Q<CampaignDTO> {
    return this.transitionUnit(
      workspaceId,
      id,
      ['draft', 'scheduled', 'running', 'paused'],
      () => ({ status: 'cancelled', cancelledAt: this.deps.now(), note: null }),
      batch,
      (c) => this.recipients.cancelPending(c.id),
    )
  }

  /** Stops for good: recipients not yet handed to the outbox are skipped as cancelled. */
  cancel(workspaceId: number, id: number): Promise<CampaignDTO> {
    return this.deps.unitLog.transact((batch) => this.cancelUnit(workspaceId, id, batch))
  }

  /**
   * The runner: every recipient of a running campaign is settled. Completes it (whatever
   * its status now: the runner checked) and publishes the change.
   */
  *completeUnit(workspaceId: number, id: number, batch: Emitter): Q<void> {
    const now = this.deps.now()
    const done = yield* this.repo.update(id, { status: 'completed', completedAt: now, note: null, updatedAt: now })
    if (done) batch.emit(workspaceId, 'campaign.updated', { campaign: yield* this.deps.analytics.dtoUnit(done) })
  }

  complete(workspaceId: number, id: number): Promise<void> {
    return this.deps.unitLog.transact((batch) => this.completeUnit(workspaceId, id, batch))
  }

  /** The runner: why a running campaign waits (null: it is moving); published only when it changed. */
  async setNote(id: number, text: string | null): Promise<void> {
    if (await this.deps.units.transact(() => this.repo.setNote(id, text))) this.deps.analytics.touch(id)
  }

  /** "Follow up": a new draft for the failed, unread or non-replying recipients of this one. */
  async followUp(workspaceId: number, userId: number, id: number, filter: FollowUpFilter, name?: string): Promise<CampaignDTO> {
    const audience: CampaignAudience = { kind: 'followup', campaignId: id, filter }
    const self = this
    const { c, size } = await this.deps.units.read(function* () {
      const c = yield* self.ownedUnit(workspaceId, id)
      return { c, size: yield* self.audienceSizeUnit(workspaceId, audience) }
    })
    if (size.total === 0) throw Errors.audienceEmpty()
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

  /** The preview's database part: the audience's size and the contact shown (one snapshot). */
  *previewContactUnit(
    workspaceId: number,
    audience: CampaignAudience,
    contactId?: number,
  ): Q<{ audience: { total: number; optedOut: number; eligible: number }; contact: ContactRow | undefined; dto: ContactDetailDTO | null }> {
    const size = yield* this.audienceSizeUnit(workspaceId, audience)
    let contact: ContactRow | undefined
    if (contactId !== undefined) {
      contact = yield* this.deps.contacts.rowUnit(workspaceId, contactId)
      if (!contact) throw Errors.notFound('Contact')
    } else {
      contact = yield* this.repo.firstEligible(workspaceId, audienceQuery(audience))
    }
    return { audience: size, contact, dto: contact ? yield* this.deps.contacts.dtoUnit(contact) : null }
  }

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
    const channel = await this.deps.whatsappChannel(workspaceId)
    if (!channel) throw Errors.noChannel()
    const template = (await this.deps.templates.list(channel)).find(
      (t) => t.name === input.template.name && t.language === input.template.language,
    )
    if (!template) throw Errors.templateNotFound()
    checkParams(template, input.params)
    const { audience, contact, dto } = await this.deps.units.read(() => this.previewContactUnit(workspaceId, input.audience, contactId))
    if (!contact || !dto) return { contact: null, text: null, skip: null, audience }
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
