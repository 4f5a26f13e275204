// Delivering outgoing webhooks (issue 16). Each endpoint has a cursor on the event log and
// one worker, in this process, that sends the endpoint's events one at a time in id order:
//
// - It wakes when an event it wants commits (app.ts's after-commit list), on a timer (a
//   safety net), and when its backoff ends. It reads the next event after its cursor from
//   the database, so a restart carries on where the cursor is: nothing missed, in order.
// - A 2xx moves the cursor past the event. Anything else (another status, a timeout, a
//   refused connection) is retried after a random wait between half and all of
//   base·2^(attempt-1), capped (WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_CAP_MS); the events
//   after it wait, so the order holds.
// - An event still failing WEBHOOK_RETRY_HOURS (a day) after it happened is given up: the
//   attempt is recorded as `skipped` and the cursor moves on to the next event.
// - Delivery is at least once: a request cut off by a stop or a crash after the receiver
//   took it is sent again, with the same `webhook-id`, which receivers use to de-duplicate.
//
// Workers are independent and every request is asynchronous: a slow or dead receiver holds
// only its own endpoint back, never webhook ingest or another endpoint.
//
// Several processes (PostgreSQL, issue 17) each run a worker for every endpoint; one attempt
// goes: a unit of work that reads the next event and claims the endpoint (repo.claim: FOR
// UPDATE SKIP LOCKED, timed on the database's clock), the POST outside any transaction, and
// a second unit that records the outcome only while the claim holds. So one process at a
// time sends an endpoint's events, in order, and an attempt is not sent twice unless its
// process died or hung past the claim (then another sends it again: at least once).
import type { Clock } from '../../events/event-log.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { SecretBox } from '../../store/secret-box.ts'
import type { Q } from '../../store/unit.ts'
import type { ClaimedEndpoint, DeliveryResult, EndpointRow, PendingEvent, WebhookEndpointsRepo } from '../../store/webhook-endpoints.ts'
import { postWebhook, type PostOutcome } from './post.ts'
import { secretKey, signatureHeader, webhookBody, webhookEventId } from './signature.ts'

/** What the workers read of the event log: its committed head, and the epoch that makes ids unique. */
export interface LogHead {
  readonly head: number
  readonly epoch: string
}

export interface DispatcherOptions {
  repo: WebhookEndpointsRepo
  /** Runs the workers' units of work on the app's database. */
  units: UnitRunner
  events: LogHead
  secrets: SecretBox
  clock: Clock
  retryBaseMs: number
  retryCapMs: number
  retryForMs: number
  timeoutMs: number
  allowPrivate: boolean
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void }
  /**
   * How long a claim on an endpoint lasts (PostgreSQL): past it, another process may send the
   * endpoint's event again. By default the request's timeout plus CLAIM_MARGIN_MS.
   */
  claimMs?: number
  /** Test seam for the jitter; Math.random by default. */
  random?: () => number
}

// Every worker is woken this often even with nothing committed: a safety net, cheap (one
// indexed read per endpoint).
const POLL_MS = 30_000
const USER_AGENT = 'Parley-Webhooks/1'
// A claim outlives the attempt's timeout by this much: time to record the outcome. A process
// that is still not done then (stopped dead, or its database connection hung) loses the endpoint.
const CLAIM_MARGIN_MS = 30_000
// Another process holds the endpoint (PostgreSQL): look again after at least this long.
const BUSY_WAIT_MS = 1_000

type NextAttempt =
  | { kind: 'deleted' }
  | { kind: 'idle' }
  | { kind: 'busy'; nextAttemptAt: number | null }
  | { kind: 'send'; row: ClaimedEndpoint; event: PendingEvent; attempt: number }

export class WebhookDispatcher {
  private readonly workers = new Map<number, EndpointWorker>()
  private poll: NodeJS.Timeout | undefined
  private started = false

  constructor(private readonly o: DispatcherOptions) {}

  start(): void {
    this.started = true
    // (On SQLite the read is done within this call, as before; the workers start a moment later.)
    this.o.units
      .read(() => this.o.repo.all())
      .then(
        (rows) => {
          for (const row of rows) this.add(row)
        },
        (err: unknown) => this.o.log.error({ err }, 'webhook endpoints could not be read: no delivery until restart'),
      )
    this.poll = setInterval(() => {
      for (const w of this.workers.values()) w.kick()
    }, POLL_MS)
    this.poll.unref()
  }

  /** Stops every worker: requests in flight get `graceMs` to finish (and be recorded), then are cut off. */
  async stop(graceMs: number): Promise<void> {
    this.started = false
    clearInterval(this.poll)
    const all = [...this.workers.values()]
    this.workers.clear()
    await Promise.all(all.map((w) => w.stop(graceMs)))
  }

  /** A new endpoint starts at once (from its cursor: the log's head when it was created). */
  add(row: EndpointRow): void {
    if (!this.started || this.workers.has(row.id)) return
    let w: EndpointWorker
    try {
      w = new EndpointWorker(row, this.o)
    } catch (err) {
      // Its secret does not open (another PARLEY_SECRET_KEY): nothing is sent unsigned.
      this.o.log.error({ err, webhookEndpointId: row.id }, 'webhook endpoint not started: its secret cannot be opened')
      return
    }
    this.workers.set(row.id, w)
    w.start()
  }

  remove(id: number): void {
    const w = this.workers.get(id)
    if (!w) return
    this.workers.delete(id)
    void w.stop(0)
  }

  /**
   * After a commit: wakes the workers that want one of its events. (With several processes,
   * feed it every process's events, as the log's tailer publishes them, not only this one's.)
   */
  observe = (committed: readonly { workspaceId: number; type: string; userId: number | null }[]): void => {
    if (this.workers.size === 0) return
    for (const w of this.workers.values()) {
      if (committed.some((e) => e.userId === null && w.wants(e.workspaceId, e.type))) w.kick()
    }
  }
}

class EndpointWorker {
  private readonly id: number
  private readonly workspaceId: number
  private readonly url: string
  private readonly types: Set<string>
  private readonly typeList: readonly string[]
  private readonly key: Buffer
  private running: Promise<void> | undefined
  private again = false
  /** Set while a failed event waits for its retry: wakes before it are ignored. */
  private retryTimer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly abort = new AbortController()
  /** Ids up to here were read past with nothing for this endpoint (kept in memory only). */
  private scanned = 0

  constructor(
    private row: EndpointRow,
    private readonly o: DispatcherOptions,
  ) {
    this.id = row.id
    this.workspaceId = row.workspaceId
    this.url = row.url
    this.typeList = JSON.parse(row.events) as string[]
    this.types = new Set(this.typeList)
    this.key = secretKey(o.secrets.open(row.secret))
  }

  wants(workspaceId: number, type: string): boolean {
    return workspaceId === this.workspaceId && this.types.has(type)
  }

  start(): void {
    // A retry that was waiting when Parley stopped waits out what is left of it (at most the cap).
    const due = this.row.nextAttemptAt
    const wait = due === null ? 0 : Math.min(Math.max(0, due - this.o.clock.now()), this.o.retryCapMs)
    if (wait > 0) this.waitForRetry(wait)
    else this.kick()
  }

  kick(): void {
    if (this.stopped || this.retryTimer) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.run()
      .catch((err: unknown) => {
        // The database failed under it (a full disk): try again later, never crash the process.
        this.o.log.error({ err, webhookEndpointId: this.id }, 'webhook delivery worker failed; trying again later')
        if (!this.stopped) this.waitForRetry(Math.min(this.o.retryCapMs, POLL_MS))
      })
      .finally(() => {
        this.running = undefined
        if (this.again && !this.stopped) this.kick()
      })
  }

  async stop(graceMs: number): Promise<void> {
    this.stopped = true
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const running = this.running
    if (!running) return
    let cut: NodeJS.Timeout | undefined
    await Promise.race([running, new Promise<void>((r) => (cut = setTimeout(r, graceMs)))])
    clearTimeout(cut)
    this.abort.abort()
    await running
  }

  private waitForRetry(ms: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.kick()
    }, ms)
    this.retryTimer.unref()
  }

  private async run(): Promise<void> {
    // Yield first: a kick from inside a commit's listeners must not do the reading there.
    await Promise.resolve()
    for (;;) {
      this.again = false
      if (this.stopped) return
      const head = this.o.events.head
      const next = await this.o.units.transact(() => this.claimNext(head))
      if (next.kind === 'deleted') return
      if (next.kind === 'idle') {
        this.scanned = Math.max(this.scanned, head)
        return
      }
      if (next.kind === 'busy') {
        // Another process is sending it, or waits for its retry: look again when that is due
        // (its claim or retry time; it may have died), or a little later.
        const due = next.nextAttemptAt === null ? 0 : next.nextAttemptAt - this.o.clock.now()
        this.waitForRetry(Math.min(Math.max(due, BUSY_WAIT_MS), Math.max(this.o.retryCapMs, BUSY_WAIT_MS), POLL_MS))
        return
      }
      const { row, event, attempt } = next
      this.row = row
      const started = performance.now()
      const outcome = await this.send(event)
      // Recorded even after a stop began (the grace), not after the cut: the database is still open then.
      if (this.abort.signal.aborted) return
      const durationMs = Math.round(performance.now() - started)
      const now = this.o.clock.now()
      const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300
      const deadline = event.createdAt + this.o.retryForMs
      const result: DeliveryResult = ok ? 'delivered' : now >= deadline ? 'skipped' : 'retrying'
      let wait = 0
      if (result === 'retrying') {
        const exp = Math.min(this.o.retryCapMs, this.o.retryBaseMs * 2 ** Math.min(attempt - 1, 40))
        // The last try comes at the deadline, not up to a cap's length after it.
        wait = Math.max(1, Math.min(Math.round(exp * (0.5 + (this.o.random ?? Math.random)() / 2)), deadline - now))
      }
      if (!ok) {
        this.o.log.warn(
          { webhookEndpointId: this.id, eventId: event.id, attempt, statusCode: outcome.statusCode, error: outcome.error, result },
          'webhook delivery failed',
        )
      }
      const delivery = {
        eventId: event.id,
        eventType: event.type,
        attempt,
        result,
        statusCode: outcome.statusCode,
        error: outcome.error ?? (ok ? null : `answered ${outcome.statusCode}`),
        durationMs,
        at: now,
        nextRetryAt: result === 'retrying' ? now + wait : null,
      }
      const written = await this.o.units.transact(() => this.o.repo.record(this.id, delivery, row.claim))
      if (!written) return // deleted while sending (or, on PostgreSQL, its claim ran out: another process has it)
      if (result === 'retrying') {
        this.waitForRetry(wait)
        return
      }
    }
  }

  /**
   * One unit: the next event after the cursor (or what was already read past), and the
   * endpoint claimed to send it. The cursor is read again from the claim: another process
   * may have moved it between the first read and the claim.
   */
  private *claimNext(head: number): Q<NextAttempt> {
    const { repo } = this.o
    const row = yield* repo.byId(this.id)
    if (!row) return { kind: 'deleted' }
    const event = yield* repo.nextEvent(this.workspaceId, Math.max(row.cursor, this.scanned), head, this.typeList)
    if (!event) return { kind: 'idle' }
    const claimed = yield* repo.claim(this.id, this.o.claimMs ?? this.o.timeoutMs + CLAIM_MARGIN_MS)
    if (!claimed) {
      const now = yield* repo.byId(this.id)
      return now ? { kind: 'busy', nextAttemptAt: now.nextAttemptAt } : { kind: 'deleted' }
    }
    let next: PendingEvent | undefined = event
    if (claimed.cursor !== row.cursor) {
      next = yield* repo.nextEvent(this.workspaceId, Math.max(claimed.cursor, this.scanned), head, this.typeList)
      if (!next) {
        yield* repo.release(this.id, claimed.claim)
        return { kind: 'idle' }
      }
    }
    // The retries counted are this event's (one pruned from the log meanwhile takes its count with it).
    const last = claimed.attempts > 0 ? yield* repo.last(this.id) : undefined
    const attempt = last?.eventId === next.id ? claimed.attempts + 1 : 1
    return { kind: 'send', row: claimed, event: next, attempt }
  }

  private send(event: PendingEvent): Promise<PostOutcome> {
    const id = webhookEventId(this.o.events.epoch, event.id)
    const body = webhookBody(event.type, event.createdAt, event.data)
    // The receiver checks the timestamp against its own clock (the spec: 5 minutes either
    // way), so it is the time of this attempt by the wall clock, not by the app's clock.
    const timestamp = Math.floor(Date.now() / 1000)
    return postWebhook(
      this.url,
      {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(this.key, id, timestamp, body),
      },
      body,
      { timeoutMs: this.o.timeoutMs, allowPrivate: this.o.allowPrivate, signal: this.abort.signal },
    )
  }
}
