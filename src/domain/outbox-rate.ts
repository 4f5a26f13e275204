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
//
// Sends are also spread evenly (issue 7): one start every window ÷ rate, a few at once
// only to catch up after a late wake-up. A burst of 80 concurrent requests reaches Meta
// spread over tens of milliseconds on a busy host, and a burst straddling Meta's
// second is exactly what it refuses; evenly paced sends arrive one by one, so the
// margin only has to absorb the jitter of a single request. That is what lets a
// 10,000-recipient campaign run at 98% of the number's rate instead of 90%, and an
// agent's reply is claimed at the next slot, milliseconds away, never after a burst.

// Sends that leave a few milliseconds apart can arrive further apart or closer together;
// 10% of a second absorbs that on a busy host at the cost of 10% of peak throughput.
// With evenly paced sends a smaller margin (WHATSAPP_RATE_MARGIN_MS, set through
// setMargin) trades that safety for throughput: 20 ms runs a number at 98% of its rate
// where the link to Meta is steady.
export const WINDOW_MARGIN_MS = 100
// After a late wake-up (timer slack, a busy event loop, a descheduled process) this many
// slots may start at once: about 100 ms of lateness at 80/s is made up, not lost.
const CATCH_UP_SLOTS = 8
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
  /** When the next evenly paced start is due. */
  nextSlot: number
}

export class SendRateLimiter {
  private readonly numbers = new Map<number, NumberState>()
  private windowMs = 1000 + WINDOW_MARGIN_MS

  constructor(
    private readonly perSecond: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The safety margin added to Meta's one-second window (see WINDOW_MARGIN_MS). */
  setMargin(ms: number): void {
    this.windowMs = 1000 + Math.max(0, ms)
  }

  private state(channelId: number): NumberState {
    let s = this.numbers.get(channelId)
    if (!s) {
      s = { starts: [], pausedUntil: 0, pausedAt: 0, streak: 0, nextSlot: 0 }
      this.numbers.set(channelId, s)
    }
    return s
  }

  private prune(s: NumberState, now: number): void {
    while (s.starts.length > 0 && s.starts[0]! <= now - this.windowMs) s.starts.shift()
  }

  /** How many sends may start on this number now. */
  available(channelId: number, now: number): number {
    const s = this.state(channelId)
    if (s.pausedUntil > now) return 0
    this.prune(s, now)
    return Math.max(0, this.perSecond - s.starts.length)
  }

  take(channelId: number, now: number): void {
    const s = this.state(channelId)
    s.starts.push(now)
    const spacing = this.windowMs / this.perSecond
    s.nextSlot = Math.max(s.nextSlot, now - spacing * (CATCH_UP_SLOTS - 1)) + spacing
  }

  /** How many sends may start now, evenly paced (the window's bound applies too). */
  paced(channelId: number, now: number): number {
    const free = this.available(channelId, now)
    const s = this.state(channelId)
    if (free <= 0 || now < s.nextSlot) return 0
    const due = 1 + Math.floor((now - s.nextSlot) / (this.windowMs / this.perSecond))
    return Math.min(free, due, CATCH_UP_SLOTS)
  }

  /** When the next evenly paced send may start. */
  nextPacedAt(channelId: number, now: number): number {
    return Math.max(this.nextFreeAt(channelId, now), this.state(channelId).nextSlot)
  }

  /** When this number may start its next send. */
  nextFreeAt(channelId: number, now: number): number {
    const s = this.state(channelId)
    if (s.pausedUntil > now) return s.pausedUntil
    this.prune(s, now)
    if (s.starts.length < this.perSecond) return now
    return s.starts[s.starts.length - this.perSecond]! + this.windowMs
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
