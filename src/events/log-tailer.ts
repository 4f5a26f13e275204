// How one of several processes learns of every committed event (issue 17): it tails the
// log — `id > tail ORDER BY id` — and fans each page out to its own streams. The ids are
// dense and visible in commit order (store/pg/events.ts), so the tail never skips one.
// Four things wake it, none trusted alone (scale-out.md §2): its own commits; a NOTIFY from
// another process, only a hint (it can be lost with its connection, and LISTEN does not pass
// a transaction pooler); a short timer; and a catch-up read whenever the listening
// connection comes back.
import type { StoredEvent } from '../store/events.ts'

export type WakeReason = 'commit' | 'notify' | 'timer' | 'reconnect' | 'start'

export interface TailerOptions {
  /** Every workspace's events after `afterId`, oldest first. */
  read(afterId: number, limit: number): Promise<StoredEvent[]>
  /** Each page in id order; never the same event twice, never one out of order. */
  publish(events: StoredEvent[]): void
  pollMs: number
  pageSize?: number
  onError(err: unknown): void
}

export class LogTailer {
  /** The highest id published. */
  tail = 0
  /** What woke a read that found new events, by reason: the health page and the tests read it. */
  readonly found: Record<WakeReason, number> = { commit: 0, notify: 0, timer: 0, reconnect: 0, start: 0 }
  private reading = false
  private again: WakeReason | null = null
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly pageSize: number

  constructor(private readonly opts: TailerOptions) {
    this.pageSize = opts.pageSize ?? 500
  }

  start(fromId: number): void {
    this.tail = fromId
    this.timer = setInterval(() => this.wake('timer'), this.opts.pollMs)
    this.timer.unref()
    this.wake('start')
  }

  /** A hint that events after `id` exist (a NOTIFY's payload); ignored when already published. */
  hint(id: number, reason: WakeReason): void {
    if (id > this.tail) this.wake(reason)
  }

  wake(reason: WakeReason): void {
    if (this.stopped) return
    if (this.reading) {
      this.again ??= reason
      return
    }
    void this.run(reason)
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  private async run(reason: WakeReason): Promise<void> {
    this.reading = true
    let current: WakeReason | null = reason
    try {
      while (current !== null && !this.stopped) {
        this.again = null
        let page: StoredEvent[]
        let first = true
        do {
          page = await this.opts.read(this.tail, this.pageSize)
          if (page.length === 0) break
          if (first) this.found[current]++
          first = false
          this.tail = page[page.length - 1]!.id
          this.opts.publish(page)
        } while (page.length === this.pageSize && !this.stopped)
        current = this.again
      }
    } catch (err) {
      // The next wake (the timer at the latest) reads again from the same tail: nothing is lost.
      this.opts.onError(err)
    } finally {
      this.reading = false
    }
  }
}
