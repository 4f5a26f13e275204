// Campaign analytics (issue 7), derived — never counted separately — from the one
// truth: each recipient row and the status of the message it became. The counters in
// `campaign.updated` and the per-recipient table run the same status expression over
// the same rows, so they cannot disagree. Updates go out on the ordinary event stream,
// at most a few times a second per campaign, whenever a campaign's messages change.
import type { CommittedEvent, UnitLog } from '../../events/event-log.ts'
import type {
  CampaignAudience,
  CampaignCounts,
  CampaignDTO,
  CampaignParams,
  CampaignRecipientDTO,
  RecipientStatus,
} from '../../events/types.ts'
import { campaignIdOf } from '../../events/types.ts'
import type { RecipientJoin } from '../../store/campaign-recipients.ts'
import type { CampaignRepos, CampaignRow } from '../../store/campaigns.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import { plainReason } from '../sending/meta-errors.ts'
import { recipientFailure } from './campaign-recipient.ts'

export type { CampaignRow } from '../../store/campaigns.ts'
// The status rule and its filters are SQL: they live with the recipients' queries.
export { RECIPIENT_FILTERS, STATUS_SQL } from '../../store/campaign-recipients.ts'

export const SKIP_LABELS: Record<string, string> = {
  opted_out: 'Opted out',
  no_phone: 'No WhatsApp number',
  missing_value: 'A template value is missing',
  invalid_value: 'A template value was not accepted',
  cancelled: 'Campaign cancelled before sending',
}

// Send rate: messages handed to WhatsApp per second over this window.
const RATE_WINDOW_MS = 10_000
// How often changed campaigns are published, and how often a running one is refreshed
// even when nothing changed (its rate decays to 0 instead of freezing at the last value).
export const FLUSH_MS = 250
const RUNNING_REFRESH_MS = 1000

export function toRecipientDTO(x: RecipientJoin): CampaignRecipientDTO {
  return {
    id: x.id,
    contact: { id: x.contactId, name: x.name, phone: x.phone ?? x.externalId },
    status: x.status as RecipientStatus,
    skip: x.skipReason ? { reason: x.skipReason, label: SKIP_LABELS[x.skipReason] ?? x.skipReason, detail: x.skipDetail } : null,
    error: x.status === 'failed' ? recipientFailure(x.errorCode, x.errorDetail) : null,
    queuedAt: x.queuedAt,
    sentAt: x.sentAt,
    deliveredAt: x.deliveredAt,
    readAt: x.readAt,
    failedAt: x.failedAt,
    repliedAt: x.repliedAt,
    conversationId: x.conversationId,
    messageId: x.messageId,
  }
}

export class CampaignAnalytics {
  private readonly samples = new Map<number, { at: number; n: number }[]>()
  private readonly dirty = new Set<number>()
  private readonly lastSent = new Map<number, string>()
  private timer: NodeJS.Timeout | undefined
  private refresher: NodeJS.Timeout | undefined
  private stopped = true

  constructor(
    private readonly repos: CampaignRepos,
    private readonly unitLog: UnitLog,
    private readonly now: () => number,
    /** Reads (the running campaigns, refreshed now and then). */
    private readonly units: UnitRunner,
    private readonly hooks: { onCampaignMessage?: () => void; onError: (err: unknown) => void },
  ) {}

  start(): void {
    this.stopped = false
    this.refresher = setInterval(() => void this.refreshRunning(), RUNNING_REFRESH_MS)
    this.refresher.unref()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearInterval(this.refresher)
  }

  /** Every running campaign is looked at again (a safety net for a missed event); never throws. */
  private async refreshRunning(): Promise<void> {
    try {
      const ids = await this.units.read(() => this.repos.campaigns.runningIds())
      if (this.stopped) return
      for (const id of ids) this.dirty.add(id)
      this.schedule()
    } catch (err) {
      if (!this.stopped) this.hooks.onError(err)
    }
  }

  *countsUnit(campaignId: number): Q<CampaignCounts> {
    const c: CampaignCounts = {
      total: 0,
      queued: 0,
      sending: 0,
      unknown: 0,
      sent: 0,
      delivered: 0,
      read: 0,
      failed: 0,
      skipped: 0,
      replied: 0,
    }
    for (const row of yield* this.repos.recipients.statusCounts(campaignId)) {
      c.total += row.n
      c.replied += row.replied ?? 0
      if (row.s in c) c[row.s as keyof CampaignCounts] += row.n
    }
    return c
  }

  /** Messages handed to WhatsApp (accepted or refused, or in doubt). */
  private processed(c: CampaignCounts): number {
    return c.sent + c.delivered + c.read + c.failed + c.unknown
  }

  rate(campaignId: number, c: CampaignCounts): number {
    const now = this.now()
    const xs = this.samples.get(campaignId) ?? []
    const n = this.processed(c)
    if (!xs.length || xs[xs.length - 1]!.at < now) xs.push({ at: now, n })
    while (xs.length > 2 && xs[0]!.at < now - RATE_WINDOW_MS) xs.shift()
    this.samples.set(campaignId, xs)
    const first = xs[0]!
    const dt = now - first.at
    // Too short a window says more about timer jitter than about the rate.
    return dt >= 1000 ? Math.max(0, Math.round((((n - first.n) * 1000) / dt) * 10) / 10) : 0
  }

  *dtoUnit(row: CampaignRow): Q<CampaignDTO> {
    const counts = yield* this.countsUnit(row.id)
    const failures = (yield* this.repos.recipients.failureCounts(row.id)).map((f) => ({
      code: f.code,
      reason: f.code !== null ? plainReason(f.code, f.detail) : (f.detail ?? 'Not sent'),
      count: f.n,
    }))
    const skips = (yield* this.repos.recipients.skipCounts(row.id)).map((s) => ({
      reason: s.reason ?? 'unknown',
      label: SKIP_LABELS[s.reason ?? ''] ?? s.reason ?? 'Skipped',
      count: s.n,
    }))
    const waiting = counts.queued + counts.sending
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      channelId: row.channelId,
      template: { name: row.templateName, language: row.templateLanguage },
      params: row.params as unknown as CampaignParams,
      audience: row.audience as unknown as CampaignAudience,
      scheduledAt: row.scheduledAt,
      startedAt: row.startedAt,
      completedAt: row.completedAt,
      cancelledAt: row.cancelledAt,
      pausedAt: row.pausedAt,
      pause: row.pauseCode ? { code: row.pauseCode, reason: row.pauseReason ?? '' } : null,
      note: row.status === 'running' ? row.note : null,
      followUpOf: row.followUpOf,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      counts,
      failures,
      skips,
      // Only a running campaign has a send rate; a finished one's last sample would linger.
      rate: row.status === 'running' ? this.rate(row.id, counts) : 0,
      progress: counts.total === 0 ? 0 : Math.round(((counts.total - waiting) / counts.total) * 1000) / 1000,
    }
  }

  *recipientsUnit(campaignId: number, opts: { afterId?: number; limit: number; status?: string }): Q<CampaignRecipientDTO[]> {
    return (yield* this.repos.recipients.page(campaignId, opts)).map(toRecipientDTO)
  }

  /** Publishes this campaign soon (a change the event stream did not show). */
  touch(campaignId: number): void {
    this.dirty.add(campaignId)
    this.schedule()
  }

  /**
   * After each commit (registered in app.ts): campaign messages carry `context.campaign`
   * (sent ones and attributed replies alike), so the committed events say which
   * campaigns changed.
   */
  readonly observe = (batch: readonly CommittedEvent[]): void => {
    let changed = false
    let claimed = false
    for (const ev of batch) {
      if (ev.type !== 'message.updated' && ev.type !== 'message.created') continue
      const id = campaignIdOf(ev.payload.message)
      if (id === null) continue
      this.dirty.add(id)
      changed = true
      // The outbox claimed a campaign message: its backlog shrank.
      if (ev.type === 'message.updated' && ev.payload.message.status === 'sending') claimed = true
    }
    if (claimed) this.hooks.onCampaignMessage?.()
    if (changed) this.schedule()
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.dirty.size === 0) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, FLUSH_MS)
    this.timer.unref()
  }

  /** Publishes the changed campaigns in one unit; never throws (errors go to onError). */
  async flush(): Promise<void> {
    const ids = [...this.dirty]
    this.dirty.clear()
    const self = this
    // Remembered once committed: a unit that rolls back published nothing.
    const sent: [number, string][] = []
    try {
      await this.unitLog.transact(function* (batch) {
        for (const id of ids) {
          const row = yield* self.repos.campaigns.byId(id)
          if (!row) continue
          const dto = yield* self.dtoUnit(row)
          // Unchanged (a refresh of an idle campaign): nothing to publish.
          const key = JSON.stringify({ ...dto, updatedAt: 0 })
          if (self.lastSent.get(id) === key) continue
          sent.push([id, key])
          batch.emit(row.workspaceId, 'campaign.updated', { campaign: dto })
        }
      })
      for (const [id, key] of sent) this.lastSent.set(id, key)
    } catch (err) {
      this.hooks.onError(err)
    }
  }
}
