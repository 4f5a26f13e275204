// Builds the health parts (issue 16) so app.ts wires them in a few lines: the metrics
// registry, the tracker the webhook routes and the outbox worker feed, and the reader
// behind GET /api/admin/health and GET /metrics. Built before sending and the ingest
// queue (they are told of the tracker); what it reads of them later goes through closures.
import type { Config } from '../../config.ts'
import type { CampaignCounts } from '../../events/types.ts'
import type { ChannelKind } from '../channels/channels.ts'
import { HealthRepo } from '../../store/health.ts'
import type { Q } from '../../store/unit.ts'
import { Health } from './health.ts'
import { ParleyMetrics } from './metrics.ts'
import { HealthTracker } from './tracker.ts'

export interface HealthWiring {
  config: Readonly<Config>
  /** Whether a number or Page is connected: asked on every webhook, so answered from memory (the channel directory). */
  isChannel(kind: ChannelKind, externalId: string): boolean
  now: () => number
  openStreams(): number
  pausedUntil(channelId: number): number | null
  campaignCounts(campaignId: number): Q<CampaignCounts>
  storageFailure(): string | null
}

export function createHealth(w: HealthWiring): Health {
  const metrics = new ParleyMetrics({ processMetrics: w.config.metricsToken !== undefined })
  const repo = new HealthRepo()
  const tracker = new HealthTracker({ metrics, now: w.now, isChannel: w.isChannel })
  // Payloads kept raw (unknown channel, unknown shape, another app's signature) are counted by
  // reason: the webhook routes hand tracker.keptRaw to the ingest (http/meta-webhook.ts).
  return new Health({
    tracker,
    metrics,
    repo,
    now: w.now,
    dataDir: w.config.dataDir,
    databaseFile: w.config.databaseFile,
    eventRetentionDays: w.config.eventRetentionDays,
    openStreams: w.openStreams,
    pausedUntil: w.pausedUntil,
    campaignCounts: w.campaignCounts,
    storageFailure: w.storageFailure,
  })
}
