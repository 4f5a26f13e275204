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
// biz_opaque_callback_data). So nobody is messaged twice and nobody is forgotten.
import type Database from 'better-sqlite3'
import type { FastifyBaseLogger } from 'fastify'
import type { EventLog } from '../../events/event-log.ts'
import type { CampaignParams, CampaignRef } from '../../events/types.ts'
import type { ChannelRow, ContactRow, InboxStore } from '../../store/inbox-store.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import { AppError } from '../../errors.ts'
import type { CampaignAnalytics, CampaignRow } from './campaign-analytics.ts'
import { resolveParams } from './campaign-params.ts'
import { PAUSE_CODES, type CampaignService } from './campaigns.ts'
import type { ContactsService } from '../contacts/contacts.ts'
import type { Outbox } from '../sending/outbox.ts'
import type { SendRateLimiter } from '../sending/outbox-rate.ts'
import type { BuiltTemplate, TemplateService } from '../sending/templates.ts'
import { plainReason } from '../sending/meta-errors.ts'

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

export interface RunnerDeps {
  sqlite: Database.Database
  events: EventLog
  store: InboxStore
  writer: InboxWriter
  outbox: Outbox
  limiter: SendRateLimiter
  templates: TemplateService
  contacts: ContactsService
  campaigns: CampaignService
  analytics: CampaignAnalytics
  channel: (id: number) => ChannelRow | undefined
  kickOutbox: () => void
  now: () => number
  log: FastifyBaseLogger
  ratePerSecond: number
  failurePauseRatio: number
  failureWindow: number
}

interface Claim {
  recipientId: number
  contact?: ContactRow
  built?: BuiltTemplate
  skip?: { reason: string; detail: string | null }
}

export class CampaignRunner {
  private timer: NodeJS.Timeout | undefined
  private safety: NodeJS.Timeout | undefined
  private running = false
  private again = false
  private stopped = true
  private readonly backlogTarget: number
  private readonly templateBlockedUntil = new Map<number, number>()
  private readonly healthAt = new Map<number, number>()
  private readonly stmts

  constructor(private readonly d: RunnerDeps) {
    this.backlogTarget = Math.max(MIN_BACKLOG, Math.ceil(d.ratePerSecond * BACKLOG_SECONDS))
    const s = d.sqlite
    const codes = Object.keys(PAUSE_CODES).join(',')
    this.stmts = {
      due: s.prepare(`SELECT id FROM campaigns WHERE status = 'scheduled' AND scheduled_at <= ?`),
      running: s.prepare(`SELECT id, channel_id AS channelId FROM campaigns WHERE status = 'running' ORDER BY id`),
      backlog: s.prepare(`SELECT count(*) AS n FROM outbox WHERE channel_id = ? AND state = 'queued' AND priority = ${CAMPAIGN_PRIORITY}`),
      pending: s.prepare(
        `SELECT r.id AS recipientId, r.contact_id AS contactId FROM campaign_recipients r
          WHERE r.campaign_id = ? AND r.state = 'pending' ORDER BY r.id LIMIT ?`,
      ),
      anyPending: s.prepare(`SELECT 1 FROM campaign_recipients WHERE campaign_id = ? AND state = 'pending' LIMIT 1`),
      active: s.prepare(
        `SELECT count(*) AS n FROM campaign_recipients r JOIN outbox o ON o.message_id = r.message_id
          WHERE r.campaign_id = ? AND r.state = 'queued' AND o.state IN ('queued', 'sending')`,
      ),
      retrying: s.prepare(
        `SELECT count(*) AS n, max(o.last_error_text) AS why, max(o.last_error_code) AS code FROM campaign_recipients r
           JOIN outbox o ON o.message_id = r.message_id
          WHERE r.campaign_id = ? AND r.state = 'queued' AND o.state = 'queued' AND o.attempts > 0 AND o.next_attempt_at > ?`,
      ),
      take: s.prepare(`UPDATE campaign_recipients SET state = 'queued', queued_at = ? WHERE id = ? AND state = 'pending'`),
      link: s.prepare(`UPDATE campaign_recipients SET message_id = ? WHERE id = ?`),
      skip: s.prepare(
        `UPDATE campaign_recipients SET state = 'skipped', skip_reason = ?, skip_detail = ? WHERE id = ? AND state = 'pending'`,
      ),
      status: s.prepare(`SELECT status FROM campaigns WHERE id = ?`),
      refusals: s.prepare(
        `SELECT m.error_code AS code, m.error_detail AS detail FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.campaign_id = ? AND m.status = 'failed' AND m.error_code IN (${codes}) AND m.updated_at >= ? LIMIT 1`,
      ),
      recent: s.prepare(
        `SELECT m.status, m.error_code AS code, m.error_detail AS detail FROM campaign_recipients r JOIN messages m ON m.id = r.message_id
          WHERE r.campaign_id = ? AND m.status IN ('sent', 'delivered', 'read', 'played', 'failed') AND m.updated_at >= ?
          ORDER BY r.id DESC LIMIT ?`,
      ),
      setNote: s.prepare(`UPDATE campaigns SET note = ? WHERE id = ? AND coalesce(note, '') <> coalesce(?, '')`),
      byClientId: s.prepare(`SELECT id FROM messages WHERE workspace_id = ? AND client_message_id = ?`),
    }
  }

  start(): void {
    this.stopped = false
    this.safety = setInterval(() => this.kick(), SAFETY_TICK_MS)
    this.safety.unref()
    this.kick()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearInterval(this.safety)
  }

  kick(): void {
    this.schedule(0)
  }

  private timerAt = Infinity
  private schedule(delayMs: number): void {
    if (this.stopped) return
    const at = this.d.now() + delayMs
    if (this.timer && this.timerAt <= at) return
    clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      void this.pass()
    }, delayMs)
  }

  private async pass(): Promise<void> {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    let next = Infinity
    try {
      next = await this.work()
    } catch (err) {
      this.d.log.error({ err }, 'campaigns: runner pass failed')
      next = 1000
    } finally {
      this.running = false
      if (this.again) {
        this.again = false
        next = 0
      }
      if (next !== Infinity) this.schedule(next)
    }
  }

  /** One pass; returns when to look again (ms), Infinity when nothing runs. */
  private async work(): Promise<number> {
    const now = this.d.now()
    for (const { id } of this.stmts.due.all(now) as { id: number }[]) this.d.campaigns.startScheduled(id)
    // Health first: a campaign that must pause (190, an error flood) gets nothing more.
    for (const r of this.stmts.running.all() as { id: number }[]) {
      if (now - (this.healthAt.get(r.id) ?? 0) < HEALTH_EVERY_MS) continue
      this.healthAt.set(r.id, now)
      this.checkHealth(r.id)
    }
    const running = this.stmts.running.all() as { id: number; channelId: number | null }[]
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
    return Math.min(TICK_MS, this.nextScheduledIn(now))
  }

  private nextScheduledIn(now: number): number {
    const r = this.d.sqlite.prepare(`SELECT min(scheduled_at) AS at FROM campaigns WHERE status = 'scheduled'`).get() as {
      at: number | null
    }
    // Timers are capped: a campaign scheduled for next week is looked at again hourly.
    return r.at === null ? Infinity : Math.min(3600_000, Math.max(0, r.at - now))
  }

  /** Tops up this number's backlog from its running campaigns, round robin. */
  private async feed(channelId: number, campaignIds: number[]): Promise<void> {
    const channel = this.d.channel(channelId)
    const backlog = (this.stmts.backlog.get(channelId) as { n: number }).n
    // Topped up once half is used: one claim transaction for many recipients, not one
    // per send (the worker starts sends one by one, evenly paced).
    if (backlog > this.backlogTarget / 2) return
    let room = this.backlogTarget - backlog
    if (!channel || !channel.enabled) {
      for (const id of campaignIds) this.note(id, 'The WhatsApp number is disconnected; the campaign waits until it is enabled again.')
      return
    }
    if ((this.templateBlockedUntil.get(channelId) ?? 0) > this.d.now()) return
    const share = Math.max(1, Math.ceil(room / campaignIds.length))
    for (const id of campaignIds) {
      if (room <= 0) break
      const c = this.d.campaigns.row(id)
      if (!c || c.status !== 'running') continue
      const n = await this.materialize(c, channel, Math.min(share, room))
      room -= n
    }
  }

  /** Claims up to `limit` pending recipients of one campaign; returns how many left pending. */
  private async materialize(c: CampaignRow, channel: ChannelRow, limit: number): Promise<number> {
    const rows = this.stmts.pending.all(c.id, limit) as { recipientId: number; contactId: number }[]
    if (rows.length === 0) return 0
    const params = c.params as unknown as CampaignParams
    const template = { name: c.templateName, language: c.templateLanguage }
    const claims: Claim[] = []
    for (const r of rows) {
      const contact = this.d.contacts.row(c.workspaceId, r.contactId)
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
        claims.push({ recipientId: r.recipientId, contact, built: await this.d.templates.build(channel, resolved.send) })
      } catch (err) {
        if (err instanceof AppError && err.code === 'TEMPLATE_PARAMETERS') {
          claims.push({ recipientId: r.recipientId, contact, skip: { reason: 'invalid_value', detail: err.message } })
          continue
        }
        if (err instanceof AppError && err.code === 'TEMPLATE_NOT_FOUND') {
          this.autoPause(
            c,
            'template_rejected',
            `The template ${c.templateName} (${c.templateLanguage}) is no longer approved on WhatsApp.`,
          )
          return 0
        }
        // Meta's template list is unreachable and nothing is cached: wait, and say so.
        this.templateBlockedUntil.set(channel.id, this.d.now() + TEMPLATE_RETRY_MS)
        this.note(c.id, `Waiting for WhatsApp's template list (${err instanceof Error ? err.message : String(err)}); trying again shortly.`)
        break
      }
    }
    if (claims.length === 0) return 0
    const ref: CampaignRef = { id: c.id, name: c.name }
    const queued = this.d.events.transact((batch) => {
      const status = (this.stmts.status.get(c.id) as { status: string } | undefined)?.status
      // Paused or cancelled while the values were being built: nothing is claimed.
      if (status !== 'running') return 0
      const now = this.d.now()
      let n = 0
      for (const cl of claims) {
        if (cl.skip) {
          this.stmts.skip.run(cl.skip.reason, cl.skip.detail, cl.recipientId)
          continue
        }
        // Re-read inside the transaction: an opt-out may have arrived meanwhile.
        const contact = this.d.contacts.row(c.workspaceId, cl.contact!.id)
        if (!contact || contact.optedOutAt !== null) {
          this.stmts.skip.run('opted_out', null, cl.recipientId)
          continue
        }
        if (this.queue(c, channel, contact, cl, ref, now, batch)) n++
      }
      return n
    })
    if (queued > 0) this.d.kickOutbox()
    this.note(c.id, null)
    return queued
  }

  /** Inside the claim transaction: message + outbox row + recipient → queued. */
  private queue(
    c: CampaignRow,
    channel: ChannelRow,
    contact: ContactRow,
    cl: Claim,
    ref: CampaignRef,
    now: number,
    batch: import('../../events/event-log.ts').EventBatch,
  ): boolean {
    const { store } = this.d
    const built = cl.built!
    // The claim itself: only a recipient still pending moves on (never two messages).
    if (this.stmts.take.run(now, cl.recipientId).changes === 0) return false
    const clientMessageId = `campaign:${c.id}:${cl.recipientId}`
    const existingConv = store.conversationByChannelContact(channel.id, contact.id)
    const conv = existingConv ?? store.findOrOpenConversation(c.workspaceId, channel.id, contact.id, now)
    // "+" and the full number: without it Meta prepends the business's country code.
    const to = /^\d+$/.test(contact.externalId) ? `+${contact.externalId}` : contact.externalId
    const recorded = this.d.writer.record(
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
        then: (row) => {
          this.stmts.link.run(row.id, cl.recipientId)
          this.d.outbox.enqueue(
            row,
            'template',
            { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'template', template: built.graph },
            { priority: CAMPAIGN_PRIORITY },
          )
        },
      },
    )
    if (!recorded) {
      // Unreachable while the recipient was pending (its message id is derived from
      // the recipient); if it ever happens, link the message that exists, send nothing.
      const existing = this.stmts.byClientId.get(c.workspaceId, clientMessageId) as { id: number } | undefined
      if (existing) this.stmts.link.run(existing.id, cl.recipientId)
      return false
    }
    return true
  }

  /** Completion, auto-pause and the "why is it waiting" note of a running campaign. */
  private checkHealth(id: number): void {
    const c = this.d.campaigns.row(id)
    if (!c || c.status !== 'running') return
    const since = c.resumedAt ?? c.startedAt ?? 0
    const refusal = this.stmts.refusals.get(id, since) as { code: number; detail: string | null } | undefined
    if (refusal) {
      this.autoPause(c, PAUSE_CODES[refusal.code] ?? 'account_blocked', plainReason(refusal.code, refusal.detail))
      return
    }
    const recent = this.stmts.recent.all(id, since, this.d.failureWindow) as {
      status: string
      code: number | null
      detail: string | null
    }[]
    if (recent.length >= Math.min(FLOOD_MIN_SAMPLE, this.d.failureWindow)) {
      const failed = recent.filter((r) => r.status === 'failed')
      if (failed.length / recent.length >= this.d.failurePauseRatio) {
        const byCode = new Map<number | null, number>()
        for (const f of failed) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1)
        const [code] = [...byCode.entries()].sort((a, b) => b[1] - a[1])[0]!
        const sample = failed.find((f) => f.code === code)
        const why = code !== null ? plainReason(code, sample?.detail) : (sample?.detail ?? 'not sent')
        this.autoPause(c, 'error_flood', `${failed.length} of the last ${recent.length} messages failed. Most common reason: ${why}`)
        return
      }
    }
    if (this.stmts.anyPending.get(id)) {
      this.explainWait(c)
      return
    }
    if ((this.stmts.active.get(id) as { n: number }).n > 0) return
    this.d.events.transact((batch) => {
      const now = this.d.now()
      const done = this.d.campaigns.sql.updateById(this.d.campaigns.codec, id, {
        status: 'completed',
        completedAt: now,
        note: null,
        updatedAt: now,
      })!
      if (done) batch.emit(c.workspaceId, 'campaign.updated', { campaign: this.d.analytics.dto(done) })
    })
  }

  private explainWait(c: CampaignRow): void {
    const now = this.d.now()
    if (c.channelId !== null && this.d.limiter.pausedUntil(c.channelId) > now) {
      const s = Math.ceil((this.d.limiter.pausedUntil(c.channelId) - now) / 1000)
      this.note(c.id, `WhatsApp asked this number to slow down (130429); sending resumes in ${s} s.`)
      return
    }
    const r = this.stmts.retrying.get(c.id, now) as { n: number; why: string | null; code: number | null }
    if (r.n > 0) {
      const why = r.code !== null ? plainReason(r.code) : (r.why ?? 'WhatsApp could not be reached')
      this.note(c.id, `${r.n} message${r.n === 1 ? '' : 's'} waiting to be retried: ${why}`)
      return
    }
    if ((this.templateBlockedUntil.get(c.channelId ?? -1) ?? 0) > now) return
    this.note(c.id, null)
  }

  private autoPause(c: CampaignRow, code: string, reason: string): void {
    this.d.log.warn({ campaignId: c.id, code }, 'campaign paused itself')
    try {
      this.d.campaigns.pause(c.workspaceId, c.id, code, reason)
    } catch (err) {
      if (!(err instanceof AppError)) throw err // already paused or cancelled
    }
  }

  /** Sets the running campaign's "why it waits" note; published only when it changed. */
  private note(id: number, text: string | null): void {
    if (this.stmts.setNote.run(text, id, text).changes > 0) this.d.analytics.touch(id)
  }
}
