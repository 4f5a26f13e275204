// The timer of a background pump (inbound media, Messenger profiles): one pending
// wake-up at a time, replaced by a sooner or later one, and none after stop().

export class Wakeup {
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor(private readonly fn: () => void) {}

  get stopped(): boolean {
    return !this.running
  }

  start(): void {
    this.running = true
    this.after(0)
  }

  stop(): void {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /**
   * Runs the pump after `ms` (0: on a later turn, after what is committed now), replacing
   * any wake-up already set. A delayed one (a retry time) does not keep the process alive.
   */
  after(ms: number): void {
    if (!this.running) return
    clearTimeout(this.timer)
    this.timer = setTimeout(this.fn, ms)
    if (ms > 0) this.timer.unref()
  }
}
