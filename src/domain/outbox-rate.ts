// Throughput per WhatsApp number. Meta allows 80 messages/s per number by default and
// answers 130429 above it (meta-platform-facts.md §3, W-THROUGHPUT).
//
// A token bucket whose capacity equals its rate lets twice the rate through in the
// first second after a quiet spell — exactly the burst Meta refuses. This is the same
// bucket with the burst bounded by a sliding window: at most `perSecond` sends start in
// any window of one second plus a margin, so network jitter between Parley and Meta
// cannot squeeze two windows' worth of sends into one of Meta's seconds.
//
// On 130429 the whole number pauses (every message to every customer), with an
// exponential, jittered pause that resets after the next success.

// Sends that leave a few milliseconds apart can arrive further apart or closer together;
// 10% of a second absorbs that on a busy host at the cost of 10% of peak throughput.
export const WINDOW_MARGIN_MS = 100
const WINDOW_MS = 1000 + WINDOW_MARGIN_MS
// First pause after 130429, doubled per repeat, capped: Meta's limit is per second, so
// a minute is already far past any window it measures.
export const THROTTLE_PAUSE_BASE_MS = 1000
export const THROTTLE_PAUSE_CAP_MS = 60_000

interface NumberState {
  /** Start times of the last sends, oldest first (at most perSecond entries). */
  starts: number[]
  pausedUntil: number
  pausedAt: number
  streak: number
}

export class SendRateLimiter {
  private readonly numbers = new Map<number, NumberState>()

  constructor(
    private readonly perSecond: number,
    private readonly random: () => number = Math.random,
  ) {}

  private state(channelId: number): NumberState {
    let s = this.numbers.get(channelId)
    if (!s) {
      s = { starts: [], pausedUntil: 0, pausedAt: 0, streak: 0 }
      this.numbers.set(channelId, s)
    }
    return s
  }

  private prune(s: NumberState, now: number): void {
    while (s.starts.length > 0 && s.starts[0]! <= now - WINDOW_MS) s.starts.shift()
  }

  /** How many sends may start on this number now. */
  available(channelId: number, now: number): number {
    const s = this.state(channelId)
    if (s.pausedUntil > now) return 0
    this.prune(s, now)
    return Math.max(0, this.perSecond - s.starts.length)
  }

  take(channelId: number, now: number): void {
    this.state(channelId).starts.push(now)
  }

  /** When this number may start its next send. */
  nextFreeAt(channelId: number, now: number): number {
    const s = this.state(channelId)
    if (s.pausedUntil > now) return s.pausedUntil
    this.prune(s, now)
    if (s.starts.length < this.perSecond) return now
    return s.starts[s.starts.length - this.perSecond]! + WINDOW_MS
  }

  pausedUntil(channelId: number): number {
    return this.state(channelId).pausedUntil
  }

  /**
   * Meta said 130429. A send that started before the current pause began is an echo
   * of the same burst: it waits out that pause without lengthening it.
   */
  throttled(channelId: number, requestStartedAt: number, now: number): number {
    const s = this.state(channelId)
    if (requestStartedAt < s.pausedAt && s.pausedUntil > now) return s.pausedUntil
    s.streak += 1
    const ceiling = Math.min(THROTTLE_PAUSE_CAP_MS, THROTTLE_PAUSE_BASE_MS * 2 ** (s.streak - 1))
    // Half fixed, half random: never zero (that would hammer Meta), never in lockstep.
    s.pausedAt = now
    s.pausedUntil = now + Math.round(ceiling / 2 + (this.random() * ceiling) / 2)
    return s.pausedUntil
  }

  succeeded(channelId: number): void {
    this.state(channelId).streak = 0
  }
}

/** Full jitter (AWS architecture blog): a random wait under the capped exponential. */
export function retryDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(random() * ceiling)
}
