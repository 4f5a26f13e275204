// Who is viewing or typing in which conversation (issue 14, "Viewing and typing").
//
// Ephemeral by design: kept in this process's memory only, sent live to the streams that
// may see the conversation's channel (StreamHub.publishEphemeral), never written to the
// event log and never replayed. A restart forgets it, and browsers refresh it within
// seconds. Each (conversation, person) has a viewing and a typing deadline; what the
// others see is the strongest one still running: typing, else viewing, else idle.
//
// Expiry runs on one timer for everyone, a wheel of one-second slots (never a timer per
// entry), reading the app's clock: a test with a fake clock moves time and the next turn
// of the wheel sends the `idle`.
import type { PresenceFrame } from '../../events/types.ts'

/** How long a state lasts without a refresh. The browser refreshes viewing every 5 s, so one lost refresh is survived. */
export const VIEWING_TTL_MS = 10_000
/** Typing stops showing this long after the last keystroke signal (the browser sends one at most every 3 s while typing). */
export const TYPING_TTL_MS = 6_000
/** Issue 14: at most one typing signal per person per conversation every 3 s reaches the streams. */
export const TYPING_THROTTLE_MS = 3_000
/** A viewing refresh that changes nothing visible goes out at most this often (it only moves expiresAt). */
const REFRESH_THROTTLE_MS = 3_000
/** The wheel's slot: an entry lapses at most this late. */
const SLOT_MS = 1_000

export type PresenceState = PresenceFrame['state']
export type PresenceMode = NonNullable<PresenceFrame['mode']>

/** Where the frames go: the conversation's channel audience (the hub's publishEphemeral). */
export type PresenceSink = (workspaceId: number, channelId: number, frame: PresenceFrame) => void

export interface ConversationPresenceOptions {
  now: () => number
  publish: PresenceSink
}

export interface PresenceSignal {
  workspaceId: number
  channelId: number
  conversationId: number
  userId: number
  state: PresenceState
  mode?: PresenceMode
  /** Their display name (the frame names who is viewing): needed when `knows` says no. */
  name?: string
}

interface Entry {
  workspaceId: number
  channelId: number
  conversationId: number
  userId: number
  name: string
  viewingUntil: number
  typingUntil: number
  mode: PresenceMode
  /** What the streams were last told, and when. */
  sent: { state: PresenceState; mode: PresenceMode | undefined; expiresAt: number }
  sentAt: number
  lastTypingSentAt: number
  /** The wheel slot it is filed under (its visible state's deadline). */
  slot: number
}

const keyOf = (conversationId: number, userId: number) => `${conversationId}:${userId}`

export class ConversationPresence {
  private readonly entries = new Map<string, Entry>()
  private readonly names = new Map<number, string>()
  /** Slot number (deadline / SLOT_MS, rounded up) → the entries that may lapse in it. */
  private readonly wheel = new Map<number, Set<string>>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly opts: ConversationPresenceOptions) {}

  /**
   * Whether this person's name is known (the route need not read it): kept from their first
   * signal until their last stream closes, so a typing burst reads it once.
   */
  knowsName(userId: number): boolean {
    return this.names.has(userId)
  }

  /** A person's signal (POST /api/conversations/:id/presence). Returns whether a frame went out. */
  signal(s: PresenceSignal): boolean {
    if (this.stopped) return false
    const now = this.opts.now()
    if (s.name !== undefined) this.names.set(s.userId, s.name)
    const key = keyOf(s.conversationId, s.userId)
    let e = this.entries.get(key)
    if (s.state === 'idle') {
      if (!e) return false
      this.drop(key, e)
      return this.send(e, { state: 'idle', mode: undefined, expiresAt: now }, now)
    }
    if (!e) {
      e = {
        workspaceId: s.workspaceId,
        channelId: s.channelId,
        conversationId: s.conversationId,
        userId: s.userId,
        name: this.names.get(s.userId) ?? 'Someone',
        viewingUntil: 0,
        typingUntil: 0,
        mode: 'reply',
        sent: { state: 'idle', mode: undefined, expiresAt: 0 },
        sentAt: -Infinity,
        lastTypingSentAt: -Infinity,
        slot: 0,
      }
      this.entries.set(key, e)
    }
    // The conversation may have moved channel since the entry was made: the newest wins.
    e.channelId = s.channelId
    // Typing implies having it open: when typing lapses, the person shows as viewing.
    e.viewingUntil = Math.max(e.viewingUntil, now + VIEWING_TTL_MS)
    // "Viewing" from someone who was typing: they sent or cleared their text, and the
    // others stop seeing "typing" now rather than when it lapses.
    if (s.state === 'viewing') e.typingUntil = 0
    if (s.state === 'typing') {
      // A throttled signal is accepted but changes nothing: the streams saw typing under 3 s ago.
      if (now - e.lastTypingSentAt < TYPING_THROTTLE_MS) {
        this.file(key, e, now)
        return false
      }
      e.typingUntil = now + TYPING_TTL_MS
      e.mode = s.mode ?? 'reply'
      e.lastTypingSentAt = now
    }
    const next = this.visible(e, now)
    this.file(key, e, now)
    const changed = next.state !== e.sent.state || next.mode !== e.sent.mode
    if (!changed && s.state === 'viewing' && now - e.sentAt < REFRESH_THROTTLE_MS) return false
    return this.send(e, next, now)
  }

  /** A person's last stream closed: whatever they had open goes idle for the others. */
  userGone(userId: number): void {
    const now = this.opts.now()
    this.names.delete(userId)
    for (const [key, e] of [...this.entries]) {
      if (e.userId !== userId) continue
      this.drop(key, e)
      this.send(e, { state: 'idle', mode: undefined, expiresAt: now }, now)
    }
  }

  /** The current states a newly opened stream may be told about (the hub filters by channel). */
  snapshot(workspaceId: number): Array<{ channelId: number; frame: PresenceFrame }> {
    const now = this.opts.now()
    const out: Array<{ channelId: number; frame: PresenceFrame }> = []
    for (const e of this.entries.values()) {
      if (e.workspaceId !== workspaceId) continue
      const v = this.visible(e, now)
      if (v.state !== 'idle') out.push({ channelId: e.channelId, frame: this.frameOf(e, v) })
    }
    return out
  }

  /** How many (conversation, person) states are held (tests, bench). */
  get size(): number {
    return this.entries.size
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
    this.timer = undefined
    this.entries.clear()
    this.wheel.clear()
  }

  /** One turn of the wheel: every entry whose shown state lapsed is told anew (viewing or idle). */
  sweep(): void {
    const now = this.opts.now()
    const due = Math.floor(now / SLOT_MS)
    for (const [slot, keys] of [...this.wheel]) {
      if (slot > due) continue
      this.wheel.delete(slot)
      for (const key of keys) {
        const e = this.entries.get(key)
        if (!e || e.slot !== slot) continue
        const v = this.visible(e, now)
        if (v.state === 'idle') {
          this.drop(key, e)
          this.send(e, { state: 'idle', mode: undefined, expiresAt: now }, now)
        } else {
          // Typing lapsed while viewing holds: the streams see "viewing" again.
          if (v.state !== e.sent.state || v.mode !== e.sent.mode) this.send(e, v, now)
          this.file(key, e, now)
        }
      }
    }
    if (this.entries.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private visible(e: Entry, now: number): { state: PresenceState; mode: PresenceMode | undefined; expiresAt: number } {
    if (e.typingUntil > now) return { state: 'typing', mode: e.mode, expiresAt: e.typingUntil }
    if (e.viewingUntil > now) return { state: 'viewing', mode: undefined, expiresAt: e.viewingUntil }
    return { state: 'idle', mode: undefined, expiresAt: now }
  }

  /** Files the entry under the slot of its shown state's deadline; starts the wheel. */
  private file(key: string, e: Entry, now: number): void {
    const v = this.visible(e, now)
    const slot = Math.ceil(v.expiresAt / SLOT_MS)
    if (slot !== e.slot) {
      this.wheel.get(e.slot)?.delete(key)
      e.slot = slot
      let set = this.wheel.get(slot)
      if (!set) this.wheel.set(slot, (set = new Set()))
      set.add(key)
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), SLOT_MS)
      // Presence never keeps the process alive.
      this.timer.unref()
    }
  }

  private drop(key: string, e: Entry): void {
    this.entries.delete(key)
    const set = this.wheel.get(e.slot)
    if (set?.delete(key) && set.size === 0) this.wheel.delete(e.slot)
  }

  private frameOf(e: Entry, v: { state: PresenceState; mode: PresenceMode | undefined; expiresAt: number }): PresenceFrame {
    return {
      conversationId: e.conversationId,
      user: { id: e.userId, name: e.name },
      state: v.state,
      ...(v.mode ? { mode: v.mode } : {}),
      expiresAt: v.expiresAt,
    }
  }

  private send(e: Entry, v: { state: PresenceState; mode: PresenceMode | undefined; expiresAt: number }, now: number): boolean {
    e.sent = v
    e.sentAt = now
    this.opts.publish(e.workspaceId, e.channelId, this.frameOf(e, v))
    return true
  }
}
