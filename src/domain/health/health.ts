// The health of an install, for its admins (GET /api/admin/health, the Health page) and
// for Prometheus (GET /metrics), issue 16. Each channel and the system get a list of
// items, green or red (or grey: nothing to judge yet); every red item says, in `fix`,
// what to do about it. Facts come from the tracker (this process's memory: webhooks,
// signature failures, Meta's answers to sends) and from the database at the moment asked:
// one unit of work reads those (`factsUnit`, on SQLite or PostgreSQL, issue 17), then the
// report or the metrics are put together from them outside it (they stat the disk).
import { statSync, statfsSync } from 'node:fs'
import type { CampaignCounts } from '../../events/types.ts'
import type { Backlog, ChannelRef, HealthRepo, PausedCampaign } from '../../store/health.ts'
import type { Q } from '../../store/unit.ts'
import type { MetricsSnapshot, ParleyMetrics } from './metrics.ts'
import { type HealthTracker, type SignatureFacts, UNKNOWN_CHANNEL } from './tracker.ts'

export type ItemStatus = 'ok' | 'red' | 'info'

export interface HealthItem {
  key: string
  label: string
  status: ItemStatus
  /** What is the case, in words. */
  text: string
  /** What to do (every red item has one). */
  fix?: string
}

export interface ChannelHealth {
  id: number | null
  kind: 'whatsapp' | 'messenger'
  name: string
  externalId: string | null
  enabled: boolean
  status: ItemStatus
  lastWebhookAt: number | null
  signatureFailures: { lastHour: number; lastAt: number | null; cause: string | null }
  tokenErrors: { count: number; lastAt: number | null; rejected: boolean }
  queue: { depth: number; oldestAt: number | null; oldestAgeSeconds: number | null }
  pauses: {
    throttles: number
    lastThrottleAt: number | null
    pausedUntil: number | null
    campaigns: { id: number; name: string; code: string | null; reason: string | null; pausedAt: number | null }[]
  }
  items: HealthItem[]
}

export interface HealthReport {
  status: 'ok' | 'attention'
  checkedAt: number
  /** The tracker's memory starts here (webhooks, signature failures, send errors). */
  since: number
  channels: ChannelHealth[]
  system: {
    disk: { freeBytes: number; totalBytes: number } | null
    backup: { lastAt: number | null; ageSeconds: number | null }
    eventLog: { events: number; oldestAt: number | null }
    database: { bytes: number; walBytes: number }
    media: { bytes: number }
    openStreams: number
    items: HealthItem[]
  }
}

/** What the database says, read in one unit of work (`Health.factsUnit`). */
export interface HealthFacts {
  /** When they were read (ms): the report's `checkedAt`. */
  at: number
  channels: ChannelRef[]
  backlog: Backlog[]
  paused: PausedCampaign[]
  /** Read for /metrics only (empty for the report), with each one's counts. */
  running: { id: number; name: string; counts: CampaignCounts }[]
  eventLog: { events: number; oldestAt: number | null }
  lastBackupAt: number | null
  /** Null when the figure read last is still fresh (it is a sum over media, read at most every SIZES_TTL_MS). */
  mediaBytes: number | null
  /** PostgreSQL's database size, read with mediaBytes; null on SQLite (the file is measured). */
  databaseBytes: number | null
}

export interface HealthDeps {
  tracker: HealthTracker
  metrics: ParleyMetrics
  repo: HealthRepo
  now: () => number
  dataDir: string
  databaseFile: string
  eventRetentionDays: number
  openStreams: () => number
  /** A number's 130429 pause, while it lasts. */
  pausedUntil: (channelId: number) => number | null
  /** A campaign's counts, read inside the facts unit (the campaigns' own unit). */
  campaignCounts: (campaignId: number) => Q<CampaignCounts>
  /** The SQLite code of a failing webhook commit (ingest-queue.ts), else null. */
  storageFailure: () => string | null
}

/** The `meta` key the backup writes when it finishes (ms since the epoch). */
export const LAST_BACKUP_KEY = 'last_backup_at'

// Thresholds: past these an item turns red.
const QUEUE_OLD_MS = 5 * 60_000
const BACKUP_OLD_MS = 48 * 3600_000
const DISK_LOW_BYTES = 1024 ** 3
const DISK_LOW_SHARE = 0.05
// Campaign gauges and paused campaigns listed: bounded whatever the workspace holds.
const MAX_CAMPAIGNS = 20
// Size facts (a stat, a sum over media) are read at most this often.
const SIZES_TTL_MS = 30_000

const SECRET_FIX =
  "Copy the App Secret of the Meta app this channel's webhooks come from (Meta App Dashboard → App settings → Basic) into the channel's settings (Settings → Channels → App secret); for the number set by WHATSAPP_PHONE_NUMBER_ID it is META_APP_SECRET."

export class Health {
  private sizes: { at: number; media: number; db: number; wal: number } | null = null

  constructor(private readonly d: HealthDeps) {}

  get tracker(): HealthTracker {
    return this.d.tracker
  }

  /**
   * The database's part of a report or a scrape, in one unit (reads only: run it with
   * `units.read`). `metrics`: also the running campaigns, for their gauges.
   */
  *factsUnit(opts: { metrics?: boolean } = {}): Q<HealthFacts> {
    const { repo } = this.d
    const at = this.d.now()
    const channels = yield* repo.channels()
    const backlog = yield* repo.backlog()
    const paused = opts.metrics ? [] : yield* repo.pausedCampaigns(MAX_CAMPAIGNS)
    const running = []
    if (opts.metrics)
      for (const c of yield* repo.runningCampaigns(MAX_CAMPAIGNS)) running.push({ ...c, counts: yield* this.d.campaignCounts(c.id) })
    const eventLog = yield* repo.eventLog()
    const backup = Number(yield* repo.meta(LAST_BACKUP_KEY))
    const lastBackupAt = Number.isFinite(backup) && backup > 0 ? backup : null
    const fresh = this.sizesFresh(at)
    const mediaBytes = fresh ? null : yield* repo.mediaBytes()
    const databaseBytes = fresh ? null : yield* repo.databaseBytes()
    return { at, channels, backlog, paused, running, eventLog, lastBackupAt, mediaBytes, databaseBytes }
  }

  /** The Prometheus text of every metric, gauges from `facts` (factsUnit({ metrics: true })) read now. */
  async metricsText(facts: HealthFacts): Promise<{ contentType: string; body: string }> {
    this.refreshMetrics(facts)
    const r = this.d.metrics.registry
    return { contentType: r.contentType, body: await r.metrics() }
  }

  /** What an admin of this workspace sees (the system part is the install's). */
  report(workspaceId: number, facts: HealthFacts): HealthReport {
    const now = facts.at
    const backlog = new Map(facts.backlog.map((b) => [b.channelId, b]))
    const paused = facts.paused.filter((c) => c.workspaceId === workspaceId)
    const channels = facts.channels.filter((c) => c.workspaceId === workspaceId).map((c) => this.channel(c, now, backlog.get(c.id), paused))
    for (const kind of ['whatsapp', 'messenger'] as const) {
      const unknown = this.d.tracker.webhookFacts(kind, UNKNOWN_CHANNEL)
      if (unknown && unknown.signature.times.length > 0) channels.push(this.unattributed(kind, unknown.signature, now))
    }
    const system = this.system(now, facts)
    const red = channels.some((c) => c.status === 'red') || system.items.some((i) => i.status === 'red')
    return { status: red ? 'attention' : 'ok', checkedAt: now, since: this.d.tracker.startedAt, channels, system }
  }

  /** Fills the gauges for a scrape of /metrics. */
  refreshMetrics(facts: HealthFacts): void {
    const now = facts.at
    const backlog = new Map(facts.backlog.map((b) => [b.channelId, b]))
    const sizes = this.sizesAt(now, facts.mediaBytes, facts.databaseBytes)
    const backup = facts.lastBackupAt
    const snapshot: MetricsSnapshot = {
      now,
      openStreams: this.d.openStreams(),
      channels: facts.channels.map((c) => {
        const b = backlog.get(c.id)
        return {
          id: c.id,
          kind: c.kind,
          externalId: c.externalId,
          depth: b?.depth ?? 0,
          oldestAgeSeconds: b?.oldestAt != null ? Math.max(0, (now - b.oldestAt) / 1000) : null,
        }
      }),
      campaigns: facts.running.map(({ id, counts }) => {
        const waiting = counts.queued + counts.sending
        const { total: _total, replied: _replied, ...states } = counts
        return { id, counts: states, progress: counts.total === 0 ? 0 : (counts.total - waiting) / counts.total }
      }),
      databaseBytes: { db: sizes.db, wal: sizes.wal },
      mediaBytes: sizes.media,
      lastBackupAt: backup,
      diskFreeBytes: this.disk()?.freeBytes ?? null,
      eventLogEvents: facts.eventLog.events,
    }
    this.d.metrics.refresh(snapshot)
  }

  private channel(
    c: ChannelRef,
    now: number,
    backlog: { depth: number; oldestAt: number | null } | undefined,
    paused: PausedCampaign[],
  ): ChannelHealth {
    const label = c.kind === 'whatsapp' ? 'number' : 'Page'
    const hooks = this.d.tracker.webhookFacts(c.kind, c.externalId)
    const sends = this.d.tracker.sendFactsOf(c.id)
    const items: HealthItem[] = []

    const lastWebhookAt = hooks?.lastWebhookAt ?? null
    items.push(
      lastWebhookAt === null
        ? {
            key: 'webhooks',
            label: 'Webhooks',
            status: 'info',
            text: `No webhook for this ${label} since Parley started (${iso(this.d.tracker.startedAt)}).`,
          }
        : { key: 'webhooks', label: 'Webhooks', status: 'ok', text: `Last webhook received ${iso(lastWebhookAt)}.` },
    )

    const sig = signatureItem(hooks?.signature, lastWebhookAt, label)
    items.push(sig.item)

    const rejected = c.credentialsStatus === 'rejected'
    const lastTokenErrorAt = sends?.lastTokenErrorAt ?? null
    // Cleared by a send that went through since, or by Meta verifying a (new) token since.
    const verifiedSince = c.credentialsStatus === 'verified' && (c.credentialsCheckedAt ?? 0) > (lastTokenErrorAt ?? 0)
    const tokenFailing = lastTokenErrorAt !== null && (sends?.lastSentAt ?? 0) < lastTokenErrorAt && !verifiedSince
    items.push(
      rejected || tokenFailing
        ? {
            key: 'token',
            label: 'Access token',
            status: 'red',
            text: tokenFailing
              ? `Meta refused the access token (error 190) at ${iso(lastTokenErrorAt!)}; nothing has been sent on this ${label} since.`
              : `Meta rejected the saved access token: ${c.credentialsDetail ?? 'no reason given'}`,
            fix: `Create a new permanent token (a System User token in Meta Business Settings, with the ${
              c.kind === 'whatsapp' ? 'whatsapp_business_messaging' : 'pages_messaging'
            } permission) and paste it into this channel's settings (Settings → Channels). Then send the failed messages again from their conversations, and resume campaigns paused for the token.`,
          }
        : { key: 'token', label: 'Access token', status: 'ok', text: 'No token errors from Meta.' },
    )

    const depth = backlog?.depth ?? 0
    const oldestAt = backlog?.oldestAt ?? null
    const oldestAgeSeconds = oldestAt === null ? null : Math.max(0, Math.round((now - oldestAt) / 1000))
    items.push(
      oldestAt !== null && now - oldestAt > QUEUE_OLD_MS
        ? {
            key: 'queue',
            label: 'Send queue',
            status: 'red',
            text: `${depth} message${depth === 1 ? '' : 's'} waiting; the oldest for ${ageWords(oldestAgeSeconds!)}.`,
            fix: 'Messages are waiting longer than they should: look at the access token and pause items of this channel; if Meta cannot be reached, check the server’s internet connection and GRAPH_API_URL. Parley keeps trying by itself.',
          }
        : {
            key: 'queue',
            label: 'Send queue',
            status: 'ok',
            text: depth === 0 ? 'Nothing waiting to be sent.' : `${depth} waiting; the oldest for ${ageWords(oldestAgeSeconds ?? 0)}.`,
          },
    )

    const pausedUntil = c.kind === 'whatsapp' ? this.d.pausedUntil(c.id) : null
    const campaigns = paused
      .filter((p) => p.channelId === c.id)
      .map((p) => ({ id: p.id, name: p.name, code: p.code, reason: p.reason, pausedAt: p.pausedAt }))
    const stuck = campaigns.filter((p) => p.code !== 'manual')
    if (pausedUntil !== null) {
      items.push({
        key: 'throttle',
        label: 'Sending paused',
        status: 'red',
        text: `Meta answered 130429 (too many messages per second): this number pauses until ${iso(pausedUntil)} (${sends?.throttles ?? 0} pause${sends?.throttles === 1 ? '' : 's'} since Parley started).`,
        fix: 'Parley resumes by itself. If this keeps happening, set WHATSAPP_SEND_RATE_PER_SECOND to the throughput Meta gives this number, or widen WHATSAPP_RATE_MARGIN_MS.',
      })
    } else if (sends && sends.throttles > 0) {
      items.push({
        key: 'throttle',
        label: 'Throttling',
        status: 'ok',
        text: `${sends.throttles} pause${sends.throttles === 1 ? '' : 's'} for 130429 since Parley started, the last ${iso(sends.lastThrottleAt!)}; sending again.`,
      })
    }
    for (const p of stuck) {
      items.push({
        key: `campaign:${p.id}`,
        label: `Campaign “${p.name}” paused`,
        status: 'red',
        text: p.reason || `Paused (${p.code}).`,
        fix: campaignFix(p.code),
      })
    }
    if (campaigns.length > stuck.length) {
      const n = campaigns.length - stuck.length
      items.push({ key: 'campaigns', label: 'Campaigns', status: 'info', text: `${n} campaign${n === 1 ? '' : 's'} paused by hand.` })
    }

    return {
      id: c.id,
      kind: c.kind,
      name: c.name,
      externalId: c.externalId,
      enabled: c.enabled,
      status: items.some((i) => i.status === 'red') ? 'red' : 'ok',
      lastWebhookAt,
      signatureFailures: sig.facts,
      tokenErrors: { count: sends?.tokenErrors ?? 0, lastAt: lastTokenErrorAt, rejected },
      queue: { depth, oldestAt, oldestAgeSeconds },
      pauses: { throttles: sends?.throttles ?? 0, lastThrottleAt: sends?.lastThrottleAt ?? null, pausedUntil, campaigns },
      items,
    }
  }

  /** Refused webhooks that name no connected number or Page. */
  private unattributed(kind: 'whatsapp' | 'messenger', s: SignatureFacts, _now: number): ChannelHealth {
    const n = s.times.length
    const item: HealthItem = {
      key: 'signature',
      label: 'Signature check',
      status: 'red',
      text: `${n} webhook${n === 1 ? '' : 's'} in the last hour failed the signature check and named no connected ${kind === 'whatsapp' ? 'number' : 'Page'}.`,
      fix: `If they are from a ${kind === 'whatsapp' ? 'number' : 'Page'} you use, connect it in Settings → Channels with its app's App Secret. Otherwise something other than Meta is posting to /webhooks/${kind}: Parley refuses it and nothing is stored.`,
    }
    return {
      id: null,
      kind,
      name: kind === 'whatsapp' ? 'Unknown WhatsApp number' : 'Unknown Page',
      externalId: null,
      enabled: false,
      status: 'red',
      lastWebhookAt: null,
      signatureFailures: { lastHour: n, lastAt: s.times.at(-1) ?? null, cause: item.text },
      tokenErrors: { count: 0, lastAt: null, rejected: false },
      queue: { depth: 0, oldestAt: null, oldestAgeSeconds: null },
      pauses: { throttles: 0, lastThrottleAt: null, pausedUntil: null, campaigns: [] },
      items: [item],
    }
  }

  private system(now: number, facts: HealthFacts): HealthReport['system'] {
    const items: HealthItem[] = []
    const failure = this.d.storageFailure()
    if (failure !== null) {
      items.push({
        key: 'storage',
        label: 'Storage',
        status: 'red',
        text: `The last webhook commit failed (${failure}): webhooks are answered 503 and Meta retries them.`,
        fix: 'Free disk space on the disk holding DATA_DIR (or fix the disk): the next commit that succeeds clears this, and Meta delivers what it held back.',
      })
    }
    const disk = this.disk()
    if (disk) {
      const low = disk.freeBytes < DISK_LOW_BYTES || disk.freeBytes < disk.totalBytes * DISK_LOW_SHARE
      items.push(
        low
          ? {
              key: 'disk',
              label: 'Disk',
              status: 'red',
              text: `Only ${bytes(disk.freeBytes)} free of ${bytes(disk.totalBytes)} on the disk holding the data.`,
              fix: `Free space on the disk holding ${this.d.dataDir}: move old backups off it (data/backups), or grow the disk. A full disk stops webhooks (Meta retries them for up to 7 days).`,
            }
          : { key: 'disk', label: 'Disk', status: 'ok', text: `${bytes(disk.freeBytes)} free of ${bytes(disk.totalBytes)}.` },
      )
    }
    const lastAt = facts.lastBackupAt
    const ageSeconds = lastAt === null ? null : Math.max(0, Math.round((now - lastAt) / 1000))
    items.push(
      lastAt === null
        ? {
            key: 'backup',
            label: 'Backup',
            status: 'red',
            text: 'No backup has been recorded.',
            fix: 'Set BACKUP_INTERVAL_HOURS for scheduled backups (or run `npm run backup` from cron), and copy the backups off this server.',
          }
        : now - lastAt > BACKUP_OLD_MS
          ? {
              key: 'backup',
              label: 'Backup',
              status: 'red',
              text: `The last backup finished ${ageWords(ageSeconds!)} ago (${iso(lastAt)}).`,
              fix: 'Backups have stopped: check the log for backup errors and the free disk space, or run `npm run backup` now.',
            }
          : { key: 'backup', label: 'Backup', status: 'ok', text: `Last backup ${ageWords(ageSeconds!)} ago (${iso(lastAt)}).` },
    )
    const eventLog = facts.eventLog
    const overdue = eventLog.oldestAt !== null && now - eventLog.oldestAt > (this.d.eventRetentionDays + 2) * 86400_000
    items.push(
      overdue
        ? {
            key: 'event_log',
            label: 'Event log',
            status: 'red',
            text: `${eventLog.events} events, the oldest from ${iso(eventLog.oldestAt!)}: older than EVENT_RETENTION_DAYS (${this.d.eventRetentionDays}) allows.`,
            fix: 'Pruning is behind: look for "event pruning failed" in the log (often a full disk), then restart Parley.',
          }
        : {
            key: 'event_log',
            label: 'Event log',
            status: 'ok',
            text: `${eventLog.events} events${eventLog.oldestAt === null ? '' : `, the oldest from ${iso(eventLog.oldestAt)}`}.`,
          },
    )
    const sizes = this.sizesAt(now, facts.mediaBytes, facts.databaseBytes)
    items.push({
      key: 'size',
      label: 'Data',
      status: 'info',
      text: `Database ${bytes(sizes.db + sizes.wal)} (write-ahead log ${bytes(sizes.wal)}), media ${bytes(sizes.media)}.`,
    })
    return {
      disk,
      backup: { lastAt, ageSeconds },
      eventLog,
      database: { bytes: sizes.db, walBytes: sizes.wal },
      media: { bytes: sizes.media },
      openStreams: this.d.openStreams(),
      items,
    }
  }

  private disk(): { freeBytes: number; totalBytes: number } | null {
    try {
      const s = statfsSync(this.d.dataDir)
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }
    } catch {
      return null
    }
  }

  private sizesFresh(now: number): boolean {
    return this.sizes !== null && now - this.sizes.at < SIZES_TTL_MS && now >= this.sizes.at
  }

  /** `mediaBytes`: as factsUnit read it at `now` (null: the last figure was fresh then). */
  private sizesAt(now: number, mediaBytes: number | null, databaseBytes: number | null): { media: number; db: number; wal: number } {
    if (this.sizes && (mediaBytes === null || this.sizesFresh(now))) return this.sizes
    const size = (p: string) => {
      try {
        return statSync(p).size
      } catch {
        return 0
      }
    }
    // PostgreSQL's size comes from the server (its WAL is the server's, not this database's).
    this.sizes =
      databaseBytes !== null
        ? { at: now, media: mediaBytes ?? 0, db: databaseBytes, wal: 0 }
        : { at: now, media: mediaBytes ?? 0, db: size(this.d.databaseFile), wal: size(`${this.d.databaseFile}-wal`) }
    return this.sizes
  }
}

/** The signature item of a channel, with the likely cause of its failures in words. */
function signatureItem(
  s: SignatureFacts | undefined,
  lastWebhookAt: number | null,
  label: string,
): { item: HealthItem; facts: ChannelHealth['signatureFailures'] } {
  const n = s?.times.length ?? 0
  if (!s || n === 0) {
    return {
      item: { key: 'signature', label: 'Signature check', status: 'ok', text: 'No signature failures in the last hour.' },
      facts: { lastHour: 0, lastAt: null, cause: null },
    }
  }
  const first = s.times[0]!
  const last = s.times[n - 1]!
  const passedSince = lastWebhookAt !== null && lastWebhookAt > first
  const count = `${n} webhook${n === 1 ? '' : 's'} for this ${label} failed the signature check in the last hour`
  if (lastWebhookAt !== null && lastWebhookAt > last && s.lastProblem !== 'other_app') {
    // Passing again since the last failure (a secret fixed, or a stray request): nothing to do.
    const cause = `${count}; webhooks pass again since ${iso(lastWebhookAt)}.`
    return {
      item: { key: 'signature', label: 'Signature check', status: 'info', text: cause },
      facts: { lastHour: n, lastAt: last, cause },
    }
  }
  let cause: string
  let fix: string
  if (s.lastProblem === 'missing') {
    cause = `${count}: they came without a signature. A proxy in front of Parley may drop the X-Hub-Signature-256 header, or something other than Meta posts to the webhook URL.`
    fix =
      'Make the proxy pass every request header through unchanged (see the Deploy section of the README); if Meta’s own deliveries are signed, the unsigned ones are not from Meta and are refused.'
  } else if (s.lastProblem === 'other_app') {
    cause = `${count}: they were signed with the secret of another Meta app than the one saved for this ${label}, so the app secret is probably wrong.`
    fix = SECRET_FIX
  } else if (!passedSince) {
    cause = `${count} and none passed since ${iso(first)}: the app secret is probably wrong.`
    fix = SECRET_FIX
  } else {
    cause = `${count}, while others passed: something other than Meta may be posting to the webhook URL, or a proxy changes the bodies on the way.`
    fix =
      'Make sure the proxy passes request bodies unchanged (no re-encoding, no compression); failures from elsewhere are refused and need nothing from you.'
  }
  return {
    item: { key: 'signature', label: 'Signature check', status: 'red', text: cause, fix },
    facts: { lastHour: n, lastAt: last, cause },
  }
}

function campaignFix(code: string | null): string {
  switch (code) {
    case 'token_invalid':
      return 'Renew the channel’s access token (Settings → Channels), then resume the campaign.'
    case 'account_blocked':
      return 'Meta restricted the WhatsApp Business account: resolve it in Meta Business Manager (Account Quality), then resume the campaign.'
    case 'template_rejected':
      return 'The template is paused or rejected by Meta: pick another approved template, or fix it in WhatsApp Manager, then resume.'
    case 'error_flood':
      return 'Most of its last sends failed: open the campaign, read the failure reasons, fix the list or the template, then resume.'
    default:
      return 'Open the campaign, read why it paused, fix that, then resume it.'
  }
}

const iso = (ms: number) => new Date(ms).toISOString()

function ageWords(s: number): string {
  if (s < 90) return `${s} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86400)} days`
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}
