// Run-wide settings: the sizes of each workload in the default and --quick runs.
import { nofileLimits } from './proc.ts'

export interface Sizes {
  ingest: { levels: number[]; seconds: number; sqliteSeconds: number; warmSeconds: number }
  delivery: {
    streams: number
    rate: number
    seconds: number
    perProcess: number
    warmWebhooks: number
    lowRates?: number[]
    lowSeconds?: number
  }
  fanout: { sizes: number[]; reps: number; perProcess: number }
  replay: { events: number; perWebhook: number; reps: number }
  reads: { conversations: number; messages: number; seconds: number; concurrency: number[] }
  peer: { clients: number; connections: number; seconds: number; warmSeconds: number }
  /** Per-user streams (issue 13): streams of `users` agents over `channels` channels. */
  audience: { streams: number; users: number; channels: number; perProcess: number; reps: number; replayEvents: number; perWebhook: number }
  /** Issue 14: `agents` agents' streams, typing every 3 s, while `rate` webhooks/s arrive for `seconds`. */
  presence: { agents: number; rate: number; seconds: number; warmWebhooks: number }
  /** Issue 15: search and reports over a long history; ingest with and without the search index. */
  history: {
    conversations: number
    messages: number
    seconds: number
    ingestSeconds: number
    ingestRounds: number
    ingestWarmSeconds: number
  }
  /** Issue 17: the event log's commits/s and publish latency, W writers for `seconds` per cell, `rounds` interleaved. */
  pglog: { levels: number[]; seconds: number; warmSeconds: number; rounds: number }
}

export interface Ctx {
  quick: boolean
  sizes: Sizes
  workDir: string
  /** When set, the Parley server writes a CPU profile per workload here. */
  profileDir?: string
  log(msg: string): void
}

/** As many streams as the server's descriptor limit allows, keeping room for its
 * database, listener and log. The limit is raised to the hard limit for children. */
export function maxStreams(): number {
  return Math.max(1000, Math.floor((nofileLimits().hard - 600) / 500) * 500)
}

export function sizes(quick: boolean): Sizes {
  if (quick) {
    return {
      ingest: { levels: [8, 64], seconds: 1.5, sqliteSeconds: 1, warmSeconds: 1 },
      delivery: { streams: 100, rate: 300, seconds: 2, perProcess: 100, warmWebhooks: 500 },
      fanout: { sizes: [1000], reps: 3, perProcess: 1000 },
      replay: { events: 10_000, perWebhook: 50, reps: 2 },
      reads: { conversations: 10_000, messages: 100_000, seconds: 0.7, concurrency: [4] },
      peer: { clients: 50, connections: 32, seconds: 2, warmSeconds: 1 },
      audience: { streams: 1000, users: 40, channels: 20, perProcess: 1000, reps: 3, replayEvents: 2000, perWebhook: 50 },
      presence: { agents: 200, rate: 200, seconds: 10, warmWebhooks: 300 },
      history: { conversations: 10_000, messages: 100_000, seconds: 1, ingestSeconds: 1.5, ingestRounds: 2, ingestWarmSeconds: 1 },
      pglog: { levels: [1, 8], seconds: 1, warmSeconds: 0.5, rounds: 1 },
    }
  }
  const max = maxStreams()
  return {
    ingest: { levels: [1, 8, 32, 128, 256], seconds: 6, sqliteSeconds: 3, warmSeconds: 4 },
    delivery: { streams: 1000, rate: 1000, seconds: 15, perProcess: 500, warmWebhooks: 3000, lowRates: [200, 50], lowSeconds: 8 },
    fanout: { sizes: max > 10_000 ? [10_000, max] : [10_000], reps: 5, perProcess: 5000 },
    replay: { events: 10_000, perWebhook: 50, reps: 7 },
    reads: { conversations: 100_000, messages: 1_000_000, seconds: 4, concurrency: [1, 8] },
    peer: { clients: 100, connections: 64, seconds: 8, warmSeconds: 4 },
    audience: { streams: 10_000, users: 200, channels: 20, perProcess: 5000, reps: 5, replayEvents: 10_000, perWebhook: 50 },
    presence: { agents: 200, rate: 200, seconds: 15, warmWebhooks: 1000 },
    history: { conversations: 100_000, messages: 1_000_000, seconds: 3, ingestSeconds: 4, ingestRounds: 7, ingestWarmSeconds: 3 },
    pglog: { levels: [1, 8, 32], seconds: 4, warmSeconds: 2, rounds: 2 },
  }
}
