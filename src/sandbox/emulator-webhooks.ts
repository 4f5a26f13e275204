// Webhook delivery, as Meta does it: compact JSON with non-ASCII, "/", "<", "%" and "@"
// escaped, signed with X-Hub-Signature-256 over exactly those bytes, POSTed to the
// callback URL; anything but HTTP 200 is retried with growing waits (Meta: up to 7
// days). Deliveries run concurrently, so their order is not guaranteed — like Meta's.
import { createHmac } from 'node:crypto'
import type { EmulatorState, PendingWebhook } from './emulator-state.ts'

export interface WebhookSenderOptions {
  appSecret: string
  url: () => string | undefined
  retryBaseMs: number
  retryCapMs: number
  timeoutMs: number
  now: () => number
  onDelivered?: (item: PendingWebhook, ok: boolean) => void
}

// Several in flight, as Meta delivers concurrently; bounded so a burst of statuses does
// not open hundreds of sockets to one small server.
const CONCURRENCY = 8

/** Meta's escaping before signing (meta-platform-facts.md §1, Signature). */
export function escapeLikeMeta(json: string): string {
  return json.replace(/[\u0080-\uffff/<%@]/g, (ch) => (ch === '/' ? '\\/' : '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')))
}

export function sign(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

export class WebhookSender {
  paused = false
  delivered = 0
  failedAttempts = 0
  private timer: NodeJS.Timeout | undefined
  private inFlight = new Set<number>()
  private waiters = new Map<number, (ok: boolean) => void>()
  private stopped = false

  constructor(
    private readonly state: EmulatorState,
    private readonly opts: WebhookSenderOptions,
  ) {}

  enqueue(payload: unknown, label: string, delayMs = 0): PendingWebhook {
    const item: PendingWebhook = {
      id: ++this.state.webhookSeq,
      body: escapeLikeMeta(JSON.stringify(payload)),
      attempts: 0,
      nextAt: this.opts.now() + delayMs,
      label,
    }
    this.state.webhooks.push(item)
    this.state.changed()
    this.schedule()
    return item
  }

  /** Enqueues and resolves after the first delivery attempt (true: answered 200). */
  enqueueAndWait(payload: unknown, label: string): Promise<boolean> {
    const item = this.enqueue(payload, label)
    if (this.paused) return Promise.resolve(false)
    return new Promise((resolve) => this.waiters.set(item.id, resolve))
  }

  pending(): number {
    return this.state.webhooks.length
  }

  start(): void {
    this.stopped = false
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    for (const [, w] of this.waiters) w(false)
    this.waiters.clear()
  }

  resume(): void {
    this.paused = false
    // Whatever was waiting for Parley goes now.
    const now = this.opts.now()
    for (const w of this.state.webhooks) w.nextAt = Math.min(w.nextAt, now)
    this.schedule()
  }

  schedule(): void {
    if (this.stopped || this.paused) return
    clearTimeout(this.timer)
    const now = this.opts.now()
    let next = Infinity
    for (const w of this.state.webhooks) {
      if (this.inFlight.has(w.id)) continue
      if (w.nextAt <= now && this.inFlight.size < CONCURRENCY) {
        this.inFlight.add(w.id)
        void this.deliver(w)
      } else if (w.nextAt > now) {
        next = Math.min(next, w.nextAt)
      }
    }
    if (next !== Infinity) {
      this.timer = setTimeout(() => this.schedule(), Math.max(0, next - now))
      this.timer.unref()
    }
  }

  private async deliver(item: PendingWebhook): Promise<void> {
    const url = this.opts.url()
    let ok = false
    if (url) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(this.opts.appSecret, item.body) },
          body: item.body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        })
        await res.arrayBuffer().catch(() => undefined)
        // Strictly 200: Meta treats 201/202/204 as failures too.
        ok = res.status === 200
      } catch {
        ok = false
      }
    }
    this.inFlight.delete(item.id)
    item.attempts += 1
    if (ok) {
      this.delivered += 1
      const i = this.state.webhooks.indexOf(item)
      if (i >= 0) this.state.webhooks.splice(i, 1)
    } else {
      this.failedAttempts += 1
      const wait = Math.min(this.opts.retryCapMs, this.opts.retryBaseMs * 2 ** (item.attempts - 1))
      item.nextAt = this.opts.now() + wait
    }
    this.state.changed()
    this.opts.onDelivered?.(item, ok)
    const w = this.waiters.get(item.id)
    if (w) {
      this.waiters.delete(item.id)
      w(ok)
    }
    this.schedule()
  }
}
