// The timer of a background pump (outbox worker, campaign runner, inbound media,
// Messenger profiles): one pending wake-up at a time, none after stop(), and one pass
// at a time — a wake-up during a pass runs it once more right after.
//
// Two ways to ask for a pass:
//   - after(ms) replaces any wake-up already set (a pump that knows its next due time);
//   - soon(ms) keeps the earliest (a pump woken by many events and by its own plan).
// The pump may return when to look again (ms; Infinity or nothing: not by itself).

export interface WakeupOptions {
  /** The clock soon() compares wake-up times with (the app's, so tests can move it). */
  now?: () => number
  /** While started, also wake this often: a safety net for a missed wake-up. */
  safetyMs?: number
}

/** A pass; it may return (or resolve to) when to look again, in ms. Anything else: not by itself. */
export type Pump = () => unknown

export class Wakeup {
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private safety: NodeJS.Timeout | undefined
  private started = false
  private busy = false
  private again = false
  private readonly now: () => number

  constructor(
    private readonly fn: Pump,
    private readonly options: WakeupOptions = {},
  ) {
    this.now = options.now ?? Date.now
  }

  get stopped(): boolean {
    return !this.started
  }

  start(): void {
    this.started = true
    if (this.options.safetyMs !== undefined) {
      this.safety = setInterval(() => this.soon(0), this.options.safetyMs)
      this.safety.unref()
    }
    this.after(0)
  }

  stop(): void {
    this.started = false
    clearTimeout(this.timer)
    clearInterval(this.safety)
    this.timer = undefined
    this.timerAt = Infinity
  }

  /**
   * Runs the pump after `ms` (0: on a later turn, after what is committed now), replacing
   * any wake-up already set. A delayed one (a retry time) does not keep the process alive.
   */
  after(ms: number): void {
    if (!this.started) return
    this.set(ms, this.now() + ms)
    if (ms > 0) this.timer!.unref()
  }

  /** Runs the pump within `ms`: an earlier wake-up already set stands, a later one is moved up. */
  soon(ms: number): void {
    if (!this.started) return
    const delay = Math.max(0, ms)
    const at = this.now() + delay
    if (this.timer && this.timerAt <= at) return
    this.set(delay, at)
  }

  private set(ms: number, at: number): void {
    clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(this.fire, ms)
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    if (!this.started) return
    if (this.busy) {
      this.again = true
      return
    }
    this.busy = true
    let out: unknown
    try {
      out = this.fn()
    } catch (err) {
      this.done(undefined)
      throw err
    }
    if (out instanceof Promise) {
      void out.then(
        (next) => this.done(next),
        (err: unknown) => {
          this.done(undefined)
          throw err
        },
      )
    } else {
      this.done(out)
    }
  }

  private done(next: unknown): void {
    this.busy = false
    if (this.again) {
      this.again = false
      next = 0
    }
    if (typeof next === 'number' && next !== Infinity) this.soon(next)
  }
}
