// The campaign runner (issue 7) turns recipients into outbound messages, just in time,
// and leaves the sending to the outbox — the same state machine, token bucket, retries
// and error classes as agents' replies. It never sends anything itself.
//
// Per WhatsApp number it keeps a small backlog of campaign rows queued in the outbox
// (half a second of the number's rate): enough that the worker never waits for the
// runner, small enough that a pause or cancel takes effect within that half second,
// and campaign rows are claimed only after agents' replies (outbox priority 1).
//
// Claiming a recipient is one transaction: the row moves pending → queued only if it
// was still pending, and its message, outbox row and `message.created` event are
// written with it. A crash before the commit leaves it pending; after, the outbox owns
// it (a send interrupted mid-call becomes `unknown` and is settled by its status via
// biz_opaque_callback_data). So nobody is messaged twice and nobody is forgotten. With
// several processes on PostgreSQL two runners may read the same pending rows: the claim's
// conditional UPDATE lets one of them take each recipient (store/campaign-recipients.ts).
//
// Issue 17: the runner's database steps are units of work (store/unit.ts) run through
// `units` and `unitLog`; its timers, the token bucket and the outbox handoff are as before.
// The message and outbox row of a claim are written in the claim's own unit by the inbox
// writer and the outbox, on either database.
//
// Several processes (issue 17): the campaigns are advanced by one process at a time, the
// owner of the one `campaigns` lease (`owns`, ownership.ts; app.ts names it) — they only
// queue into the outbox, which each number's owner sends. The runner keeps no progress of its
// own: each recipient's claim commits its step (pending → queued) in the same transaction as
// its message and outbox row, so a new owner reads where the previous one stopped, and the
// claim's conditional UPDATE keeps a recipient from being taken twice even while two
// processes briefly overlap.
import type { FastifyBaseLogger } from 'fastify'
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { CampaignParams, CampaignRef } from '../../events/types.ts'
import type { ChannelRow, ContactRow, InboxStore } from '../../store/inbox-store.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import { AppError } from '../../errors.ts'
import type { CampaignRepos, CampaignRow } from '../../store/campaigns.ts'
import { resolveParams } from './campaign-params.ts'
import { PAUSE_CODE_LIST, PAUSE_CODES, type CampaignService } from './campaigns.ts'
import type { ContactsService } from '../contacts/contacts.ts'
import type { Outbox } from '../sending/outbox.ts'
import type { SendRateLimiter } from '../sending/outbox-rate.ts'
import type { BuiltTemplate, TemplateService } from '../sending/templates.ts'
import { plainReason } from '../sending/meta-errors.ts'
import { Wakeup } from '../wakeup.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'

/** Outbox priority of campaign messages: after every agent reply (0). */
export const CAMPAIGN_PRIORITY = 1
// Backlog per number, in seconds of its rate (see the header).
const BACKLOG_SECONDS = 0.5
const MIN_BACKLOG = 5
// While a campaign runs, the runner looks again at least this often (it is also woken
// by every change of a campaign message).
const TICK_MS = 100
// Even when idle the runner looks again this often: a safety net for a missed wake-up.
const SAFETY_TICK_MS = 5000
// When Meta's template list cannot be read, try again after this long.
const TEMPLATE_RETRY_MS = 5000
// The error-flood check needs this many settled sends before it judges.
const FLOOD_MIN_SAMPLE = 20
// Health (completion, auto-pause, the note) is judged at most this often per campaign:
// the runner wakes on every claim, and the checks read the campaign's recent sends.
const HEALTH_EVERY_MS = 250

/** What the runner uses of the sending stack (issue 4): templates, pacing, a number, a kick. */
export interface RunnerSending {
  templates: TemplateService
  limiter: SendRateLimiter
  channel: (id: number) => Promise<ChannelRow | undefined>
  kickOutbox: () => void
}

export interface RunnerOptions {
  ratePerSecond: number
  failurePauseRatio: number
  failureWindow: number
}

export interface RunnerDeps {
  /** The campaigns' own operations (start when due, pause, complete, the note). */
  campaigns: CampaignService
  contacts: ContactsService
  /** The campaign tables: recipients to claim, health to read. */
  repos: CampaignRepos
  sending: RunnerSending
  units: UnitRunner
  unitLog: UnitLog
  // The claim transaction's writers: a campaign message is stored and queued like a reply.
  store: Pick<InboxStore, 'conversations'>
  writer: InboxWriter
  outbox: Outbox
  now: () => number
  log: FastifyBaseLogger
  options: RunnerOptions
  /**
   * Whether this process advances the campaign now (start when due, health, claims). Asked
   * for every campaign of a pass and again right before each claim. Absent: every campaign
   * is this process's (SQLite, one process).
   */
  owns?: (campaignId: number) => boolean
}

interface Claim {
  recipientId: number
  contact?: ContactRow
  built?: BuiltTemplate
  skip?: { reason: string; detail: string | null }
}

export class CampaignRunner {
  // The one timer (wakeup.ts): woken by kick(), by its own plan, and by the safety tick.
  private readonly wakeup: Wakeup
  private readonly backlogTarget: number
  private readonly templateBlockedUntil = new Map<number, number>()
  private readonly healthAt = new Map<number, number>()

  constructor(private readonly d: RunnerDeps) {
    this.backlogTarget = Math.max(MIN_BACKLOG, Math.ceil(d.options.ratePerSecond * BACKLOG_SECONDS))
    this.wakeup = new Wakeup(() => this.pass(), { now: d.now, safetyMs: SAFETY_TICK_MS })
  }

  private get stopped(): boolean {
    return this.wakeup.stopped
  }

  start(): void {
    this.wakeup.start()
  }

  stop(): void {
    this.wakeup.stop()
  }

  kick(): void {
    this.wakeup.soon(0)
  }

  /**
   * This process now owns the campaign (ownership's onGained): look at once. Nothing to
   * restore, the database holds where the previous owner stopped; only the in-memory waits
   * are forgotten so that they are judged afresh here.
   */
  gained(campaignId: number): void {
    this.healthAt.delete(campaignId)
    this.kick()
  }

  private owns(campaignId: number): boolean {
    return this.d.owns ? this.d.owns(campaignId) : true
  }

  /** One guarded pass; returns when to look again (ms). */
  private async pass(): Promise<number> {
    try {
      return await this.work()
    } catch (err) {
      this.d.log.error({ err }, 'campaigns: runner pass failed')
      return 1000
    }
  }

  /** One pass; returns when to look again (ms), Infinity when nothing runs. */
  private async work(): Promise<number> {
    const now = this.d.now()
    const { campaigns } = this.d.repos
    const { units } = this.d
    for (const id of await units.read(() => campaigns.dueScheduled(now))) {
      if (this.owns(id)) await this.d.campaigns.startScheduled(id)
    }
    // Health first: a campaign that must pause (190, an error flood) gets nothing more.
    for (const r of await units.read(() => campaigns.running())) {
      if (!this.owns(r.id)) continue
      if (now - (this.healthAt.get(r.id) ?? 0) < HEALTH_EVERY_MS) continue
      this.healthAt.set(r.id, now)
      await this.checkHealth(r.id)
    }
    // Another process's campaigns are left to it.
    const running = (await units.read(() => campaigns.running())).filter((r) => this.owns(r.id))
    if (running.length === 0) return this.nextScheduledIn(now)
    const byChannel = new Map<number, number[]>()
    for (const r of running) {
      if (r.channelId === null) continue
      byChannel.set(r.channelId, [...(byChannel.get(r.channelId) ?? []), r.id])
    }
    for (const [channelId, ids] of byChannel) {
      if (this.stopped) return Infinity
      await this.feed(channelId, ids)
    }
    return Math.min(TICK_MS, await this.nextScheduledIn(now))
  }

  private async nextScheduledIn(now: number): Promise<number> {
    const at = await this.d.units.read(() => this.d.repos.campaigns.nextScheduledAt())
    if (at === null) return Infinity
    // Due and still scheduled: another process owns it (issue 17) and is about to start it;
    // look again shortly rather than at once, over and over.
    if (at <= now) return TICK_MS
    // Timers are capped: a campaign scheduled for next week is looked at again hourly.
    return Math.min(3600_000, at - now)
  }

  /** Tops up this number's backlog from its running campaigns, round robin. */
  private async feed(channelId: number, campaignIds: number[]): Promise<void> {
    const channel = await this.d.sending.channel(channelId)
    const backlog = await this.d.units.read(() => this.d.repos.recipients.queuedInOutbox(channelId, CAMPAIGN_PRIORITY))
    // Topped up once half is used: one claim transaction for many recipients, not one
    // per send (the worker starts sends one by one, evenly paced).
    if (backlog > this.backlogTarget / 2) return
    let room = this.backlogTarget - backlog
    if (!channel || !channel.enabled) {
      for (const id of campaignIds)
        await this.note(id, 'The WhatsApp number is disconnected; the campaign waits until it is enabled again.')
      return
    }
    if ((this.templateBlockedUntil.get(channelId) ?? 0) > this.d.now()) return
    const share = Math.max(1, Math.ceil(room / campaignIds.length))
    for (const id of campaignIds) {
      if (room <= 0) break
      if (!this.owns(id)) continue
      const c = await this.d.units.read(() => this.d.campaigns.rowUnit(id))
      if (!c || c.status !== 'running') continue
      const n = await this.materialize(c, channel, Math.min(share, room))
      room -= n
    }
  }

  /** Claims up to `limit` pending recipients of one campaign; returns how many left pending. */
  private async materialize(c: CampaignRow, channel: ChannelRow, limit: number): Promise<number> {
    const { recipients } = this.d.repos
    const { contacts } = this.d
    // The pending rows and their contacts in one read; the values are built outside any transaction.
    const rows = await this.d.units.read(function* () {
      const out: { recipientId: number; contact: ContactRow | undefined }[] = []
      for (const r of yield* recipients.pending(c.id, limit))
        out.push({ recipientId: r.recipientId, contact: yield* contacts.rowUnit(c.workspaceId, r.contactId) })
      return out
    })
    if (rows.length === 0) return 0
    const params = c.params as unknown as CampaignParams
    const template = { name: c.templateName, language: c.templateLanguage }
    const claims: Claim[] = []
    for (const r of rows) {
      const contact = r.contact
      if (!contact) {
        claims.push({ recipientId: r.recipientId, skip: { reason: 'no_phone', detail: 'The contact was deleted' } })
        continue
      }
      if (contact.optedOutAt !== null) {
        claims.push({ recipientId: r.recipientId, contact, skip: { reason: 'opted_out', detail: null } })
        continue
      }
      const resolved = resolveParams(template, params, contact)
      if (!resolved.ok) {
        claims.push({ recipientId: r.recipientId, contact, skip: { reason: resolved.reason, detail: resolved.detail } })
        continue
      }
      try {
        // The same validation and rendering as an agent's template reply (cached list).
        claims.push({ recipientId: r.recipientId, contact, built: await this.d.sending.templates.build(channel, resolved.send) })
      } catch (err) {
        if (err instanceof AppError && err.code === 'TEMPLATE_PARAMETERS') {
          claims.push({ recipientId: r.recipientId, contact, skip: { reason: 'invalid_value', detail: err.message } })
          continue
        }
        if (err instanceof AppError && err.code === 'TEMPLATE_NOT_FOUND') {
          await this.autoPause(
            c,
            'template_rejected',
            `The template ${c.templateName} (${c.templateLanguage}) is no longer approved on WhatsApp.`,
          )
          return 0
        }
        // Meta's template list is unreachable and nothing is cached: wait, and say so.
        this.templateBlockedUntil.set(channel.id, this.d.now() + TEMPLATE_RETRY_MS)
        await this.note(
          c.id,
          `Waiting for WhatsApp's template list (${err instanceof Error ? err.message : String(err)}); trying again shortly.`,
        )
        break
      }
    }
    if (claims.length === 0) return 0
    const ref: CampaignRef = { id: c.id, name: c.name }
    // Right before the claim: the values took a while to build (Meta's template list).
    if (!this.owns(c.id)) return 0
    const queued = await this.d.unitLog.transact((batch) => this.claimUnit(c, channel, claims, ref, batch))
    if (queued > 0) this.d.sending.kickOutbox()
    await this.note(c.id, null)
    return queued
  }

  /** The claim transaction: skips recorded, each still-pending recipient queued; how many were queued. */
  private *claimUnit(c: CampaignRow, channel: ChannelRow, claims: Claim[], ref: CampaignRef, batch: Emitter): Q<number> {
    const { recipients } = this.d.repos
    const status = yield* this.d.repos.campaigns.status(c.id)
    // Paused or cancelled while the values were being built: nothing is claimed.
    if (status !== 'running') return 0
    const now = this.d.now()
    let n = 0
    for (const cl of claims) {
      if (cl.skip) {
        yield* recipients.skip(cl.recipientId, cl.skip.reason, cl.skip.detail)
        continue
      }
      // Re-read inside the transaction: an opt-out may have arrived meanwhile.
      const contact = yield* this.d.contacts.rowUnit(c.workspaceId, cl.contact!.id)
      if (!contact || contact.optedOutAt !== null) {
        yield* recipients.skip(cl.recipientId, 'opted_out', null)
        continue
      }
      // The claim itself: only a recipient still pending moves on (never two messages).
      if (!(yield* recipients.take(cl.recipientId, now))) continue
      if (yield* this.queue(c, channel, contact, cl, ref, now, batch)) n++
    }
    return n
  }

  /**
   * Inside the claim transaction, once the recipient is taken: its message and outbox row,
   * linked to it.
   */
  private *queue(
    c: CampaignRow,
    channel: ChannelRow,
    contact: ContactRow,
    cl: Claim,
    ref: CampaignRef,
    now: number,
    batch: Emitter,
  ): Q<boolean> {
    const { conversations } = this.d.store
    const { recipients } = this.d.repos
    const built = cl.built!
    const clientMessageId = `campaign:${c.id}:${cl.recipientId}`
    const existingConv = yield* conversations.conversationByChannelContact(channel.id, contact.id)
    const conv = existingConv ?? (yield* conversations.findOrOpenConversation(c.workspaceId, channel.id, contact.id, now))
    const d = this.d
    const recorded = yield* d.writer.record(
      batch,
      conv,
      {
        direction: 'out',
        type: 'template',
        text: built.text,
        data: built.data,
        context: { campaign: ref },
        clientMessageId,
        senderUserId: c.createdBy,
        status: 'queued',
        timestamp: now,
        createdAt: now,
        updatedAt: now,
      },
      {
        // The message shows in the customer's conversation, but a broadcast does not push
        // thousands of conversations to the top of the inbox: a new one starts resolved
        // (a reply reopens it), an existing one keeps its place.
        by: 'broadcast',
        newConversation: !existingConv,
        now,
        alongside: function* (row) {
          yield* recipients.link(cl.recipientId, row.id)
          yield* d.outbox.enqueue(
            row,
            channel.kind,
            { to: contact.externalId, broadcast: true, content: { type: 'template', template: built.message } },
            { priority: CAMPAIGN_PRIORITY },
          )
        },
      },
    )
    if (!recorded) {
      // Unreachable while the recipient was pending (its message id is derived from
      // the recipient); if it ever happens, link the message that exists, send nothing.
      const existing = yield* recipients.messageIdByClientId(c.workspaceId, clientMessageId)
      if (existing !== undefined) yield* recipients.link(cl.recipientId, existing)
      return false
    }
    return true
  }

  /** Completion, auto-pause and the "why is it waiting" note of a running campaign. */
  private async checkHealth(id: number): Promise<void> {
    const { recipients } = this.d.repos
    const { failureWindow, failurePauseRatio } = this.d.options
    const campaigns = this.d.campaigns
    // What the checks read, in one snapshot.
    const facts = await this.d.units.read(function* () {
      const c = yield* campaigns.rowUnit(id)
      if (!c || c.status !== 'running') return undefined
      const since = c.resumedAt ?? c.startedAt ?? 0
      return {
        c,
        refusal: yield* recipients.refusalSince(id, since, PAUSE_CODE_LIST),
        recent: yield* recipients.recentSettled(id, since, failureWindow),
        anyPending: yield* recipients.anyPending(id),
        active: yield* recipients.activeCount(id),
      }
    })
    if (!facts) return
    const { c, refusal, recent } = facts
    if (refusal) {
      await this.autoPause(c, PAUSE_CODES[refusal.code] ?? 'account_blocked', plainReason(refusal.code, refusal.detail))
      return
    }
    if (recent.length >= Math.min(FLOOD_MIN_SAMPLE, failureWindow)) {
      const failed = recent.filter((r) => r.status === 'failed')
      if (failed.length / recent.length >= failurePauseRatio) {
        const byCode = new Map<number | null, number>()
        for (const f of failed) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1)
        const [code] = [...byCode.entries()].sort((a, b) => b[1] - a[1])[0]!
        const sample = failed.find((f) => f.code === code)
        const why = code !== null ? plainReason(code, sample?.detail) : (sample?.detail ?? 'not sent')
        await this.autoPause(c, 'error_flood', `${failed.length} of the last ${recent.length} messages failed. Most common reason: ${why}`)
        return
      }
    }
    if (facts.anyPending) {
      await this.explainWait(c)
      return
    }
    if (facts.active > 0) return
    await this.d.campaigns.complete(c.workspaceId, id)
  }

  private async explainWait(c: CampaignRow): Promise<void> {
    const now = this.d.now()
    const { limiter } = this.d.sending
    if (c.channelId !== null && limiter.pausedUntil(c.channelId) > now) {
      const s = Math.ceil((limiter.pausedUntil(c.channelId) - now) / 1000)
      await this.note(c.id, `WhatsApp asked this number to slow down (130429); sending resumes in ${s} s.`)
      return
    }
    const r = await this.d.units.read(() => this.d.repos.recipients.retrying(c.id, now))
    if (r.n > 0) {
      const why = r.code !== null ? plainReason(r.code) : (r.why ?? 'WhatsApp could not be reached')
      await this.note(c.id, `${r.n} message${r.n === 1 ? '' : 's'} waiting to be retried: ${why}`)
      return
    }
    if ((this.templateBlockedUntil.get(c.channelId ?? -1) ?? 0) > now) return
    await this.note(c.id, null)
  }

  private async autoPause(c: CampaignRow, code: string, reason: string): Promise<void> {
    this.d.log.warn({ campaignId: c.id, code }, 'campaign paused itself')
    try {
      await this.d.campaigns.pause(c.workspaceId, c.id, code, reason)
    } catch (err) {
      if (!(err instanceof AppError)) throw err // already paused or cancelled
    }
  }

  /** Sets the running campaign's "why it waits" note; published only when it changed. */
  private note(id: number, text: string | null): Promise<void> {
    return this.d.campaigns.setNote(id, text)
  }
}
