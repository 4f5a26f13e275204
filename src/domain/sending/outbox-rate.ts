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
// spread over tens of milliseconds on a busy host, and a burst straddling Meta's second
// is exactly what it refuses; evenly paced sends arrive one by one, so the margin only
// has to absorb the jitter of a single request.
// That is what lets a 10,000-recipient campaign run at 98% of the number's rate instead
// of 90%, and an agent's reply is claimed at the next slot, milliseconds away.
//
// The margin adapts per number (issue 7). Meta never tells how close a send came to its
// limit, only that one went over: 130429 is the one signal there is. So each number
// starts at a tight margin (the floor, WHATSAPP_RATE_MARGIN_MS), widens it when Meta
// says 130429 (a link or host jittering more than the margin absorbs), and narrows it
// back step by step after a sustained stretch without one. A steady link runs at 98%
// of its rate; a jittery one pays one short pause and then runs at 96%, 92%… instead
// of drawing 130429 again and again.

// The floor's default: 20 ms of a 1,020 ms window runs a number at 98% of its rate and
// absorbs the jitter of single, evenly paced requests on a steady link. Where that is
// not enough the margin widens by itself (below); WHATSAPP_RATE_MARGIN_MS sets it.
export const WINDOW_MARGIN_MS = 20
// Widest margin the adaptation reaches: 200 ms costs 17% of the rate, already far past
// any jitter a working link shows; a number refused beyond that has a different problem
// (its rate is set above Meta's, for one) and the pauses handle it.
export const MARGIN_CAP_MS = 200
// Each widening at least doubles the margin, by at least this much: from a floor of 0
// (allowed for loopback setups) doubling alone would never move.
export const MARGIN_WIDEN_MIN_STEP_MS = 20
// A minute without 130429 narrows the margin by one step (half of what it has above the
// floor). At 80/s that is 4,800 sends at the wider margin without complaint; one step
// per minute means a widening that was needed is undone over minutes, not seconds, so a
// jitter that comes and goes does not draw a 130429 at every return. From the cap
// (200 ms on a 20 ms floor) it takes eight minutes back to the floor.
export const MARGIN_NARROW_AFTER_MS = 60_000
// After a late wake-up (timer slack, a busy event loop, a descheduled process) this many
// slots may start at once: about 100 ms of lateness at 80/s is made up, not lost.
//
// Considered for the tight margin (issue 7): the sends of such a burst reach Meta spread
// over a few ms (each waits behind the others), which is jitter the margin must absorb.
// Making the lateness up one send at a time at twice the pace instead was measured back
// to back on the shared 2-core host (1,000 recipients, 20 ms margin, CPU pressure 70–95%):
// 26.5 s and 39.5 s against 14.3 s and 23.8 s with bursts of 8, and no 130429 either way.
// On a starved event loop wake-ups are few and late, and one send per wake-up cannot keep
// the rate; a burst of 8 on loopback spreads over a few ms, well inside a 20 ms margin,
// and where it does not the margin widens on the 130429 it draws (above). So it stays 8.
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
  /** This number's margin on Meta's second, between the floor and MARGIN_CAP_MS. */
  marginMs: number
  /** When the margin last widened: a 130429 for a send started by then is an echo. */
  widenedAt: number
  /** Since when the margin has not changed (narrowing counts from here). */
  calmSince: number
}

/** A number's pacing as the settings page shows it. */
export interface PacingStatus {
  perSecond: number
  /** The current margin; above the floor after Meta answered 130429, narrowing back. */
  marginMs: number
  floorMs: number
  /** Set while the whole number waits after a 130429. */
  pausedUntil: number | null
}

export class SendRateLimiter {
  private readonly numbers = new Map<number, NumberState>()
  private floorMs = WINDOW_MARGIN_MS

  constructor(
    private readonly perSecond: number,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The margin every number starts at and narrows back to (WHATSAPP_RATE_MARGIN_MS; see
   * WINDOW_MARGIN_MS). A number's margin never goes below it.
   */
  setMargin(ms: number): void {
    this.floorMs = Math.max(0, ms)
    for (const s of this.numbers.values()) s.marginMs = Math.max(s.marginMs, this.floorMs)
  }

  /** What an operator sees of this number's pacing (the channels API and settings page). */
  status(channelId: number, now: number): PacingStatus {
    const s = this.state(channelId, now)
    return {
      perSecond: this.perSecond,
      marginMs: s.marginMs,
      floorMs: this.floorMs,
      pausedUntil: s.pausedUntil > now ? s.pausedUntil : null,
    }
  }

  /** This number's current margin on Meta's one-second window. */
  margin(channelId: number, now: number): number {
    return this.state(channelId, now).marginMs
  }

  /** The widest margin adaptation reaches: the cap, unless the floor is set above it. */
  private get capMs(): number {
    return Math.max(MARGIN_CAP_MS, this.floorMs)
  }

  private state(channelId: number, now: number): NumberState {
    let s = this.numbers.get(channelId)
    if (!s) {
      s = {
        starts: [],
        pausedUntil: 0,
        pausedAt: 0,
        streak: 0,
        nextSlot: 0,
        marginMs: this.floorMs,
        widenedAt: -Infinity,
        calmSince: now,
      }
      this.numbers.set(channelId, s)
    }
    this.narrow(s, now)
    return s
  }

  /** One step toward the floor per full calm stretch that has passed. */
  private narrow(s: NumberState, now: number): void {
    while (s.marginMs > this.floorMs && now - s.calmSince >= MARGIN_NARROW_AFTER_MS) {
      s.marginMs = this.floorMs + Math.floor((s.marginMs - this.floorMs) / 2)
      s.calmSince += MARGIN_NARROW_AFTER_MS
    }
  }

  private windowMs(s: NumberState): number {
    return 1000 + s.marginMs
  }

  private spacing(s: NumberState): number {
    return this.windowMs(s) / this.perSecond
  }

  private prune(s: NumberState, now: number): void {
    const w = this.windowMs(s)
    while (s.starts.length > 0 && s.starts[0]! <= now - w) s.starts.shift()
  }

  /** How many sends may start on this number now. */
  available(channelId: number, now: number): number {
    const s = this.state(channelId, now)
    if (s.pausedUntil > now) return 0
    this.prune(s, now)
    return Math.max(0, this.perSecond - s.starts.length)
  }

  take(channelId: number, now: number): void {
    const s = this.state(channelId, now)
    s.starts.push(now)
    const spacing = this.spacing(s)
    s.nextSlot = Math.max(s.nextSlot, now - spacing * (CATCH_UP_SLOTS - 1)) + spacing
  }

  /**
   * This process just became the number's sender (issue 17: work ownership moved it here from
   * another process). That process's sends of the last window are unknown here, so the window
   * is taken as full from `now`: the first send starts one window later, then evenly paced
   * (no catch-up burst). Whatever the other process started before `now` then shares no
   * window with this one's sends, and Meta's per-second rate holds across the move. The cost
   * is one window (about a second) of silence per move. The margin and any pause are kept.
   */
  startEmpty(channelId: number, now: number): void {
    const s = this.state(channelId, now)
    s.starts = Array.from({ length: this.perSecond }, () => now)
    s.nextSlot = Math.max(s.nextSlot, now + this.windowMs(s))
  }

  /** How many sends may start now, evenly paced (the window's bound applies too). */
  paced(channelId: number, now: number): number {
    const free = this.available(channelId, now)
    const s = this.state(channelId, now)
    if (free <= 0 || now < s.nextSlot) return 0
    const due = 1 + Math.floor((now - s.nextSlot) / this.spacing(s))
    return Math.min(free, due, CATCH_UP_SLOTS)
  }

  /** When the next evenly paced send may start. */
  nextPacedAt(channelId: number, now: number): number {
    return Math.max(this.nextFreeAt(channelId, now), this.state(channelId, now).nextSlot)
  }

  /** When this number may start its next send. */
  nextFreeAt(channelId: number, now: number): number {
    const s = this.state(channelId, now)
    if (s.pausedUntil > now) return s.pausedUntil
    this.prune(s, now)
    if (s.starts.length < this.perSecond) return now
    return s.starts[s.starts.length - this.perSecond]! + this.windowMs(s)
  }

  pausedUntil(channelId: number): number {
    return this.numbers.get(channelId)?.pausedUntil ?? 0
  }

  /**
   * Meta said 130429. A send that started before the current pause began is an echo
   * of the same burst: it waits out that pause without lengthening it. The margin
   * widens once per burst too: a send that started by the time the margin last widened
   * was paced at the old margin, so its refusal says nothing about the new one.
   */
  throttled(channelId: number, requestStartedAt: number, now: number): number {
    const s = this.state(channelId, now)
    if (requestStartedAt > s.widenedAt) {
      s.marginMs = Math.min(this.capMs, Math.max(s.marginMs * 2, s.marginMs + MARGIN_WIDEN_MIN_STEP_MS))
      s.widenedAt = now
      s.calmSince = now
    }
    if (requestStartedAt < s.pausedAt && s.pausedUntil > now) return s.pausedUntil
    s.streak += 1
    const ceiling = Math.min(THROTTLE_PAUSE_CAP_MS, THROTTLE_PAUSE_BASE_MS * 2 ** (s.streak - 1))
    // Half fixed, half random: never zero (that would hammer Meta), never in lockstep.
    s.pausedAt = now
    s.pausedUntil = now + Math.round(ceiling / 2 + (this.random() * ceiling) / 2)
    return s.pausedUntil
  }

  succeeded(channelId: number): void {
    const s = this.numbers.get(channelId)
    if (s) s.streak = 0
  }
}

/** Full jitter (AWS architecture blog): a random wait under the capped exponential. */
export function retryDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(random() * ceiling)
}
