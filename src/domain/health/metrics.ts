// Parley's Prometheus metrics (issue 16), in a registry of its own (never prom-client's
// global one: tests build several apps in one process). Counters move on the hot paths
// (a webhook, a commit, a send) and cost an increment; every gauge is filled from a
// snapshot taken when /metrics is scraped (`refresh`), so nothing is polled between scrapes.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export type WebhookResult = 'accepted' | 'bad_signature' | 'unknown_channel' | 'stored_raw'

/** What a scrape reads (health/probe.ts takes it from the database and the process). */
export interface MetricsSnapshot {
  openStreams: number
  channels: { id: number; kind: string; externalId: string; depth: number; oldestAgeSeconds: number | null }[]
  campaigns: { id: number; counts: Record<string, number>; progress: number }[]
  databaseBytes: { db: number; wal: number }
  mediaBytes: number
  lastBackupAt: number | null
  diskFreeBytes: number | null
  eventLogEvents: number
  now: number
}

export class ParleyMetrics {
  readonly registry = new Registry()
  readonly webhooks: Counter<'provider' | 'result'>
  readonly ingestCommit: Histogram
  readonly sends: Counter<'channel_kind' | 'result' | 'code'>
  readonly throttles: Counter<'channel'>
  private readonly openStreams: Gauge
  private readonly outboxDepth: Gauge<'channel' | 'kind' | 'number'>
  private readonly outboxOldest: Gauge<'channel' | 'kind' | 'number'>
  private readonly campaignRecipients: Gauge<'campaign' | 'state'>
  private readonly campaignProgress: Gauge<'campaign'>
  private readonly databaseBytes: Gauge<'file'>
  private readonly mediaBytes: Gauge
  private readonly backupAge: Gauge
  private readonly backupTime: Gauge
  private readonly diskFree: Gauge
  private readonly eventLog: Gauge

  constructor(opts: { processMetrics: boolean }) {
    const registers = [this.registry]
    // Event-loop delay (parley_nodejs_eventloop_lag_*), CPU, memory, handles: prom-client's
    // defaults under Parley's prefix, only when /metrics is on (they keep a timer histogram).
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'parley_' })
    this.webhooks = new Counter({
      name: 'parley_webhooks_total',
      help: 'Webhook deliveries by result: accepted (signed, answered 200), bad_signature (401); unknown_channel and stored_raw count the parts kept raw',
      labelNames: ['provider', 'result'],
      registers,
    })
    this.ingestCommit = new Histogram({
      name: 'parley_ingest_commit_seconds',
      help: 'Time of one webhook group commit (the transaction, fsync included)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
    this.sends = new Counter({
      name: 'parley_sends_total',
      help: 'Send attempts by result (sent, meta_error, throttled, network, http, ambiguous, local) and Meta error code',
      labelNames: ['channel_kind', 'result', 'code'],
      registers,
    })
    this.throttles = new Counter({
      name: 'parley_throttle_pauses_total',
      help: 'Times Meta answered 130429 and the number paused',
      labelNames: ['channel'],
      registers,
    })
    this.openStreams = new Gauge({ name: 'parley_open_streams', help: 'Open event streams (SSE)', registers })
    this.outboxDepth = new Gauge({
      name: 'parley_outbox_depth',
      help: 'Messages waiting to be sent (queued or sending) per channel',
      labelNames: ['channel', 'kind', 'number'],
      registers,
    })
    this.outboxOldest = new Gauge({
      name: 'parley_outbox_oldest_age_seconds',
      help: 'Age of the oldest message waiting to be sent per channel (0 when none waits)',
      labelNames: ['channel', 'kind', 'number'],
      registers,
    })
    this.campaignRecipients = new Gauge({
      name: 'parley_campaign_recipients',
      help: 'Recipients of each running campaign by state',
      labelNames: ['campaign', 'state'],
      registers,
    })
    this.campaignProgress = new Gauge({
      name: 'parley_campaign_progress_ratio',
      help: 'Share of a running campaign’s recipients no longer waiting (0–1)',
      labelNames: ['campaign'],
      registers,
    })
    this.databaseBytes = new Gauge({
      name: 'parley_database_bytes',
      help: "Size of the database: SQLite's file (db) and write-ahead log (wal), or PostgreSQL's database (db)",
      labelNames: ['file'],
      registers,
    })
    this.mediaBytes = new Gauge({ name: 'parley_media_bytes', help: 'Bytes of stored media files', registers })
    this.backupTime = new Gauge({
      name: 'parley_last_backup_timestamp_seconds',
      help: 'When the last backup finished (NaN: none recorded)',
      registers,
    })
    this.backupAge = new Gauge({
      name: 'parley_last_backup_age_seconds',
      help: 'Seconds since the last backup finished (NaN: none recorded)',
      registers,
    })
    this.diskFree = new Gauge({ name: 'parley_data_disk_free_bytes', help: 'Free bytes on the disk holding DATA_DIR', registers })
    this.eventLog = new Gauge({ name: 'parley_event_log_events', help: 'Events kept in the event log', registers })
  }

  /** Sets every gauge from one snapshot; gauges of channels or campaigns gone are dropped. */
  refresh(s: MetricsSnapshot): void {
    this.openStreams.set(s.openStreams)
    this.outboxDepth.reset()
    this.outboxOldest.reset()
    for (const c of s.channels) {
      const labels = { channel: String(c.id), kind: c.kind, number: c.externalId }
      this.outboxDepth.set(labels, c.depth)
      this.outboxOldest.set(labels, c.oldestAgeSeconds ?? 0)
    }
    this.campaignRecipients.reset()
    this.campaignProgress.reset()
    for (const c of s.campaigns) {
      for (const [state, n] of Object.entries(c.counts)) this.campaignRecipients.set({ campaign: String(c.id), state }, n)
      this.campaignProgress.set({ campaign: String(c.id) }, c.progress)
    }
    this.databaseBytes.set({ file: 'db' }, s.databaseBytes.db)
    this.databaseBytes.set({ file: 'wal' }, s.databaseBytes.wal)
    this.mediaBytes.set(s.mediaBytes)
    // NaN (exported as such) when unknown: a 0 would read as "just backed up".
    this.backupTime.set(s.lastBackupAt === null ? Number.NaN : s.lastBackupAt / 1000)
    this.backupAge.set(s.lastBackupAt === null ? Number.NaN : Math.max(0, (s.now - s.lastBackupAt) / 1000))
    this.diskFree.set(s.diskFreeBytes ?? Number.NaN)
    this.eventLog.set(s.eventLogEvents)
  }
}
