// The outbox worker: claims due rows (state committed as `sending` with a lease before
// each call), sends them through the channel's provider within each number's rate, and
// commits the outcome. What happens on failure is decided by meta-errors.ts:
//   transient (5xx, 131000, 131057, network before sending) → retry, full-jitter backoff
//   throttle (130429)                                      → the whole number pauses
//   permanent (131047, 131026, 132xxx, 190, 100, 368, …)    → failed after one attempt
//   ambiguous (the request left, no answer came)           → unknown, never resent by itself
// Every read and transition is one of the outbox's units of work, run in its own transaction
// through the UnitLog (issue 17): the same worker on SQLite and PostgreSQL.
import type { FastifyBaseLogger } from 'fastify'
import { GraphError } from '../../channels/graph-http.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { ChannelRow } from '../../store/inbox-store.ts'
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { Q } from '../../store/unit.ts'
import { classify, localReasons, plainReason } from './meta-errors.ts'
import type { Failure, Outbox, OutboxRow } from './outbox.ts'
import { retryDelay, type SendRateLimiter } from './outbox-rate.ts'
import { Wakeup } from '../wakeup.ts'

/** A failure found before or around a call that has a reason for the agent. */
export class LocalSendError extends Error {
  constructor(
    readonly reason: string,
    readonly retryable: boolean,
  ) {
    super(reason)
  }
}

export interface MediaUploader {
  /** Meta's media id for a local upload, uploading it first when needed. */
  providerIdFor(localMediaId: number, channel: ChannelRow, token: string): Promise<string>
}

/** What became of one send attempt (issue 16: metrics and the health page count these). */
export interface SendOutcome {
  channelId: number
  channelKind: ChannelRow['kind']
  result: 'sent' | 'meta_error' | 'throttled' | 'network' | 'http' | 'ambiguous' | 'local'
  /** Meta's error code, when Meta answered with one. */
  code: number | null
}

export interface WorkerOptions {
  retryBaseMs: number
  retryCapMs: number
  maxAttempts: number
  graphTimeoutMs: number
  ratePerSecond: number
  /** A send's lease (default SEND_LEASE_MS), renewed while its call is open. */
  sendLeaseMs?: number
}

export interface WorkerDeps {
  /** The channel a row goes out on (its token, its kind): a repository unit (store/channels.ts). */
  channels: { byId(id: number): Q<ChannelRow | undefined> }
  outbox: Outbox
  /** Runs the outbox's units, each in its own transaction, and publishes their events after the commit. */
  units: UnitLog
  /** Each channel's provider sends what it stored (channels/provider.ts). */
  providers: Pick<ChannelProviders, 'for'>
  limiter: SendRateLimiter
  media: MediaUploader
  now: () => number
  log: FastifyBaseLogger
  options: WorkerOptions
  random?: () => number
  /** Told of every attempt's outcome (a counter's increment: it runs on every send). */
  onOutcome?: (o: SendOutcome) => void
  /**
   * Issue 17, several processes: whether this process sends for the channel now (its
   * `channel:<id>` lease, ownership.ts). Asked for each pass's due channels and again right
   * before each claim. Absent: every channel is this process's (SQLite, one process).
   */
  owns?: (channelId: number) => boolean
}

// Even when idle the worker looks again this often: a safety net for any wake-up missed.
const SAFETY_TICK_MS = 5000
// A send's lease, renewed every third of it while the call is open: a sender that dies (or is
// cut off from the database) has its sends turned `unknown` by the others within one lease —
// issue 17 asks 20 s — instead of after the longest call it could have made (upload and send,
// each up to GRAPH_TIMEOUT_MS). The same length as a number's ownership lease, which moves
// with it.
export const SEND_LEASE_MS = 15_000

export class OutboxWorker {
  // The one timer (wakeup.ts): woken by kick(), by its own next due time, and by the safety tick.
  private readonly wakeup: Wakeup
  private readonly inFlight = new Map<number, Promise<void>>()
  private readonly perChannel = new Map<number, number>()
  private readonly random: () => number
  private readonly leaseMs: number
  private readonly maxInFlight: number
  private renewTimer: NodeJS.Timeout | undefined
  private renewing = false

  constructor(private readonly deps: WorkerDeps) {
    this.random = deps.random ?? Math.random
    this.leaseMs = deps.options.sendLeaseMs ?? SEND_LEASE_MS
    // Enough to keep a number at its full rate while Meta takes up to a second to answer.
    this.maxInFlight = Math.max(4, deps.options.ratePerSecond)
    this.wakeup = new Wakeup(() => this.run(), { now: deps.now, safetyMs: SAFETY_TICK_MS })
  }

  private get stopped(): boolean {
    return this.wakeup.stopped
  }

  start(): void {
    // On SQLite the transaction runs at once, inside this call: no pass claims before it.
    // On PostgreSQL only expired leases are abandoned (outbox.ts), as every pass does too.
    void this.transact((b) => this.deps.outbox.abandonSending(b)).then(
      (abandoned) => {
        if (abandoned > 0)
          this.deps.log.warn({ count: abandoned }, 'outbox: sends interrupted by the last stop are now unknown (not resent)')
      },
      (err: unknown) => this.deps.log.error({ err }, 'outbox: abandoning interrupted sends failed'),
    )
    this.wakeup.start()
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(1, Math.floor(this.leaseMs / 3)))
    this.renewTimer.unref()
  }

  /** The leases of this process's sends in flight run one lease from now again (SEND_LEASE_MS). */
  private async renewLeases(): Promise<void> {
    if (this.renewing || this.inFlight.size === 0) return
    this.renewing = true
    const ids = [...this.inFlight.keys()]
    try {
      await this.transact(() => this.deps.outbox.renewLeases(ids, this.leaseMs))
    } catch (err) {
      // The next renewal tries again; past the lease the others take the sends as `unknown`.
      if (!this.stopped) this.deps.log.error({ err, count: ids.length }, 'outbox: renewing the leases of sends in flight failed')
    } finally {
      this.renewing = false
    }
  }

  private transact<T>(unit: (batch: Emitter) => Q<T>): Promise<T> {
    return this.deps.units.transact(unit)
  }

  /** Stops claiming; waits up to `graceMs` for calls in flight (their rows stay `sending` otherwise). */
  async stop(graceMs: number): Promise<void> {
    this.wakeup.stop()
    if (this.inFlight.size > 0) {
      let t: NodeJS.Timeout | undefined
      await Promise.race([Promise.allSettled([...this.inFlight.values()]), new Promise<void>((r) => (t = setTimeout(r, graceMs)))])
      clearTimeout(t)
    }
    // Renewed through the grace (the database is still open); not after.
    clearInterval(this.renewTimer)
    this.renewTimer = undefined
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  kick(): void {
    this.wakeup.soon(0)
  }

  /**
   * This process now owns the channel (ownership's onGained): another process may have been
   * sending on it until a moment ago, so its rate window starts full (outbox-rate.ts,
   * startEmpty) and the first send waits one window; then the worker looks at once. There is
   * no `lost`: owns() answers false from then on and nothing new is claimed; the rows already
   * claimed finish here (they hold their outbox lease and are never sent twice).
   */
  gained(channelId: number): void {
    this.deps.limiter.startEmpty(channelId, this.deps.now())
    this.kick()
  }

  private owns(channelId: number): boolean {
    return this.deps.owns ? this.deps.owns(channelId) : true
  }

  /** One pass: claims what is due; returns when to look again (ms), Infinity when nothing waits. */
  private async run(): Promise<number> {
    try {
      let wake = Infinity
      const now = this.deps.now()
      const { outbox } = this.deps
      const skip = new Set(this.inFlight.keys())
      // One transaction for the pass's look: the leases that ran out, what is due, the next
      // retry (claims below touch only rows due by `now`, never the next retry's).
      const { due, next } = await this.transact(function* (b) {
        yield* outbox.abandonSending(b, now, skip)
        return { due: yield* outbox.dueChannels(now), next: yield* outbox.nextDueAt(now) }
      })
      // Another process's numbers are left to it (issue 17): their rows are not looked at.
      for (const channelId of due) {
        if (!this.owns(channelId)) continue
        wake = Math.min(wake, await this.claimFor(channelId))
      }
      if (next !== null) wake = Math.min(wake, next)
      // From the clock now: the pass's transactions took a while (round trips on PostgreSQL).
      return wake === Infinity ? Infinity : wake - this.deps.now()
    } catch (err) {
      this.deps.log.error({ err }, 'outbox: worker pass failed')
      return 1000
    }
  }

  /** Claims what this number may send now; returns when to look again. */
  private async claimFor(channelId: number): Promise<number> {
    const { limiter, outbox, channels } = this.deps
    // The limiter reads the clock now, not at the pass's start: on PostgreSQL every step before
    // took a round trip, and a send recorded earlier than it starts would free its slot early.
    const now = this.deps.now()
    const busy = this.perChannel.get(channelId) ?? 0
    // Evenly paced, never a burst (outbox-rate.ts).
    const free = limiter.paced(channelId, now)
    const n = Math.min(free, this.maxInFlight - busy)
    if (free <= 0) return limiter.nextPacedAt(channelId, now)
    if (n <= 0) return Infinity // a completion kicks the worker
    const leaseMs = this.leaseMs
    const owns = (id: number) => this.owns(id)
    const { channel, rows } = await this.transact(function* (b) {
      const channel = yield* channels.byId(channelId)
      // Asked again right before the claim (on PostgreSQL the read above took a round trip):
      // a number lost meanwhile is claimed by its new owner only.
      if (!owns(channelId)) return { channel, rows: [] as OutboxRow[] }
      return { channel, rows: yield* outbox.claim(b, channelId, n, leaseMs) }
    })
    // The sends start now, after the claim's commit: that is when they take their slots.
    const startedAt = this.deps.now()
    for (const row of rows) {
      limiter.take(channelId, startedAt)
      this.launch(row, channel)
    }
    if (rows.length < n) return Infinity
    return limiter.paced(channelId, startedAt) > 0 ? startedAt : limiter.nextPacedAt(channelId, startedAt)
  }

  private launch(row: OutboxRow, channel: ChannelRow | undefined): void {
    this.perChannel.set(row.channelId, (this.perChannel.get(row.channelId) ?? 0) + 1)
    const p = this.process(row, channel)
      // After stop() the database may be closed: the row stays `sending` and becomes
      // `unknown` at the next start, which is the truth (the answer was not recorded).
      .catch((err) => {
        if (!this.stopped) this.deps.log.error({ err, outboxId: row.id }, 'outbox: send bookkeeping failed')
      })
      .finally(() => {
        this.inFlight.delete(row.id)
        this.perChannel.set(row.channelId, (this.perChannel.get(row.channelId) ?? 1) - 1)
        this.kick()
      })
    this.inFlight.set(row.id, p)
  }

  private async process(row: OutboxRow, channel: ChannelRow | undefined): Promise<void> {
    const { outbox } = this.deps
    if (!channel || !channel.enabled) {
      await this.failed(row.id, { code: null, title: 'Channel disabled', reason: `The ${this.label(channel)} is disconnected.` })
      return
    }
    const token = channel.accessToken
    if (!token) {
      await this.failed(row.id, {
        code: null,
        title: 'No access token',
        reason: `The ${this.label(channel)} has no access token; an admin must configure it.`,
      })
      return
    }
    const startedAt = this.deps.now()
    try {
      // The channel's provider unpacks what it stored at enqueue and speaks its own API.
      const res = await this.deps.providers.for(channel.kind).send(channel, token, row.payload, {
        callbackData: outbox.callbackData(row),
        // Uploading first is safe to repeat (an unused media id costs nothing), so its
        // failures are never "unknown": they retry or fail like any request not sent.
        mediaId: (localMediaId) =>
          this.deps.media
            .providerIdFor(localMediaId, channel, token)
            .catch((err: unknown) => Promise.reject(err instanceof GraphError && err.kind === 'ambiguous' ? asNotSent(err) : err)),
      })
      await this.transact((b) => outbox.markSent(b, row.id, res.wamid))
      this.deps.limiter.succeeded(row.channelId)
      this.deps.onOutcome?.({ channelId: row.channelId, channelKind: channel.kind, result: 'sent', code: null })
    } catch (err) {
      await this.handleError(row, err, startedAt, channel.kind)
    }
  }

  private failed(id: number, failure: Failure): Promise<void> {
    return this.transact((b) => this.deps.outbox.markFailed(b, id, failure))
  }

  /** What agents call the channel: its provider's word for it. */
  private label(channel: ChannelRow | undefined): string {
    return channel ? this.deps.providers.for(channel.kind).label : 'WhatsApp number'
  }

  private handleError(row: OutboxRow, err: unknown, startedAt: number, kind: ChannelRow['kind'] = 'whatsapp'): Promise<void> {
    const { outbox, limiter, log } = this.deps
    const now = this.deps.now()
    const told = (result: SendOutcome['result'], code: number | null = null) =>
      this.deps.onOutcome?.({ channelId: row.channelId, channelKind: kind, result, code })
    if (err instanceof LocalSendError) {
      told('local')
      if (err.retryable) return this.retry(row, null, err.reason, kind)
      return this.failed(row.id, { code: null, title: 'Not sent', reason: err.reason })
    }
    if (!(err instanceof GraphError)) {
      told('local')
      log.error({ err, outboxId: row.id }, 'outbox: unexpected error while sending')
      return this.failed(row.id, { code: null, title: 'Not sent', reason: 'Parley hit an internal error while sending.' })
    }
    log.warn({ outboxId: row.id, kind: err.kind, code: err.code, httpStatus: err.httpStatus }, 'outbox: send failed')
    told(resultOf(err), err.kind === 'meta' ? err.code : null)
    switch (err.kind) {
      case 'ambiguous':
        return this.transact((b) => outbox.markUnknown(b, row.id, err.message))
      case 'not_sent':
        return this.retry(row, null, localReasons(kind).network, kind)
      case 'http':
        if ((err.httpStatus ?? 0) >= 500) return this.retry(row, null, `HTTP ${err.httpStatus}`, kind)
        return this.failed(row.id, { code: null, title: `HTTP ${err.httpStatus}`, reason: localReasons(kind).http })
      case 'meta': {
        const cls = classify(err.code)
        if (cls === 'throttle') {
          const before = limiter.margin(row.channelId, now)
          const at = limiter.throttled(row.channelId, startedAt, now)
          const marginMs = limiter.margin(row.channelId, now)
          // Worth a line of its own: a number whose margin keeps widening has a jittery
          // link to Meta (or a rate set above Meta's), and runs slower for it.
          if (marginMs !== before) log.warn({ channelId: row.channelId, marginMs }, 'outbox: 130429, pacing margin widened')
          const title = err.title ?? err.message
          return this.transact((b) => outbox.scheduleRetry(b, row.id, at, err.code, title, false))
        }
        // An unlisted code on a 5xx is Meta's own trouble: worth another try.
        if (cls === 'transient' || (err.httpStatus ?? 0) >= 500) return this.retry(row, err.code, err.title ?? err.message, kind)
        return this.failed(row.id, { code: err.code, title: err.title, reason: plainReason(err.code, err.details, kind) })
      }
    }
    return Promise.resolve()
  }

  private retry(row: OutboxRow, code: number | null, text: string, kind: ChannelRow['kind'] = 'whatsapp'): Promise<void> {
    const { outbox, options } = this.deps
    if (row.attempts >= options.maxAttempts) {
      const reasons = localReasons(kind)
      const why = code !== null ? plainReason(code, null, kind).replace(/[;,]? ?Parley will try again\.$/, '.') : reasons.unreachable
      return this.failed(row.id, { code, title: text, reason: `${why} ${reasons.exhausted}` })
    }
    const at = this.deps.now() + retryDelay(row.attempts, options.retryBaseMs, options.retryCapMs, this.random)
    return this.transact((b) => outbox.scheduleRetry(b, row.id, at, code, text))
  }
}

/** A Graph failure as the metrics count it. */
function resultOf(err: GraphError): SendOutcome['result'] {
  if (err.kind === 'meta') return classify(err.code) === 'throttle' ? 'throttled' : 'meta_error'
  return err.kind === 'not_sent' ? 'network' : err.kind
}

function asNotSent(err: GraphError): GraphError {
  return new GraphError('not_sent', err.message, err.code, err.httpStatus, err.title, err.details)
}
