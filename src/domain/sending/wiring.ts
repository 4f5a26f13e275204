// Builds everything sending needs from the app's basics, so app.ts wires it in one line:
// the channel providers (Meta, or the sandbox's emulator), the outbox and its worker, the
// per-number rate limiter, media, templates, replies and Messenger profiles. What they
// do when a webhook is stored (settle a send, download media, fetch a name) is
// registered in app.ts's list of side effects.
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'
import type { UnitLog } from '../../events/event-log.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { InboxStore } from '../../store/inbox-store.ts'
import { GraphHttp } from '../../channels/graph-http.ts'
import { ChannelProviders } from '../../channels/index.ts'
import { MessengerGraph } from '../../channels/messenger/graph-client.ts'
import { WhatsAppGraph } from '../../channels/whatsapp/graph-client.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import { Outbox } from './outbox.ts'
import { OutboxWorker, type SendOutcome } from './outbox-worker.ts'
import { SendRateLimiter } from './outbox-rate.ts'
import { MediaService } from '../media/media.ts'
import { TemplateService } from './templates.ts'
import { Replies } from './replies.ts'
import { MessengerProfiles } from '../contacts/messenger-profiles.ts'

// A name is not worth waiting long for: a profile call still unanswered after this is
// given up and retried like a network error (a send's GRAPH_TIMEOUT_MS is longer because
// its outcome matters).
const PROFILE_TIMEOUT_MS = 10_000

export interface Sending {
  /** WhatsApp's and Messenger's providers (channels/index.ts): every Graph call goes through them. */
  providers: ChannelProviders
  outbox: Outbox
  worker: OutboxWorker
  limiter: SendRateLimiter
  media: MediaService
  templates: TemplateService
  replies: Replies
  /** Messenger contacts' names from the User Profile API. */
  profiles: MessengerProfiles
  start(): void
  stop(graceMs: number): Promise<void>
}

export interface SendingDeps {
  config: Readonly<Config>
  /** The app's database (issue 17: SQLite or PostgreSQL): reads and transactions, and writes with their events. */
  units: UnitRunner
  unitLog: UnitLog
  /** The event log's epoch (a send's idempotency key carries it). */
  epoch: () => string
  store: InboxStore
  writer: InboxWriter
  now: () => number
  log: FastifyBaseLogger
  /** Where a token's Graph calls go: the sandbox's emulator for its own token, else Meta. */
  graphBaseUrl: (token: string) => string
  /** Issue 16: each send attempt's outcome, for metrics and the health page. */
  onSendOutcome?: (o: SendOutcome) => void
  /** Issue 17, several processes: whether this process sends for a number or Page now (absent: every one). */
  ownsChannel?: (channelId: number) => boolean
}

export function createSending(deps: SendingDeps): Sending {
  const { config, store, now, log } = deps
  const s = config.sending
  const http = new GraphHttp({ baseUrl: deps.graphBaseUrl, timeoutMs: s.graphTimeoutMs })
  const providers = new ChannelProviders(http)
  const { writer } = deps
  // The outbox's units, the worker's transactions and a reply's send run on the unit log.
  const units = deps.unitLog
  const outbox = new Outbox({
    repos: store,
    writer,
    epoch: deps.epoch,
    providers,
    now,
  })
  const limiter = new SendRateLimiter(s.ratePerSecond)
  // The floor of each number's pacing margin (WHATSAPP_RATE_MARGIN_MS); a number widens
  // its own margin on 130429 (outbox-rate.ts). Replies and campaigns share this limiter.
  limiter.setMargin(s.rateMarginMs)
  const media = new MediaService({
    store,
    writer,
    unitLog: deps.unitLog,
    units: deps.units,
    providers,
    mediaDir: config.mediaDir,
    maxBytes: config.media.maxBytes,
    uploadMaxBytes: config.media.uploadMaxBytes,
    now,
    log: log.child({ subsystem: 'media' }),
  })
  const worker = new OutboxWorker({
    channels: store.channels,
    outbox,
    units,
    providers,
    limiter,
    media,
    now,
    log: log.child({ subsystem: 'outbox' }),
    ...(deps.onSendOutcome ? { onOutcome: deps.onSendOutcome } : {}),
    ...(deps.ownsChannel ? { owns: deps.ownsChannel } : {}),
    options: {
      retryBaseMs: s.retryBaseMs,
      retryCapMs: s.retryCapMs,
      maxAttempts: s.maxAttempts,
      graphTimeoutMs: s.graphTimeoutMs,
      ratePerSecond: s.ratePerSecond,
    },
  })
  const profiles = new MessengerProfiles({
    store,
    writer,
    unitLog: deps.unitLog,
    units: deps.units,
    graph: new MessengerGraph(new GraphHttp({ baseUrl: deps.graphBaseUrl, timeoutMs: Math.min(PROFILE_TIMEOUT_MS, s.graphTimeoutMs) })),
    enabled: config.messenger.fetchProfiles,
    now,
    log: log.child({ subsystem: 'messenger-profiles' }),
  })
  const templates = new TemplateService(new WhatsAppGraph(http), s.templateCacheSeconds * 1000, now)
  const replies = new Replies({
    store,
    writer,
    outbox,
    units,
    reads: deps.units,
    worker,
    media,
    templates,
    providers,
    now,
    markRead: s.markRead,
    log: log.child({ subsystem: 'replies' }),
  })
  return {
    providers,
    outbox,
    worker,
    limiter,
    media,
    templates,
    replies,
    profiles,
    start() {
      worker.start()
      media.start()
      profiles.start()
    },
    async stop(graceMs) {
      profiles.stop()
      await Promise.all([media.stop(graceMs), worker.stop(graceMs)])
    },
  }
}
