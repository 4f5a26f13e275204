// Who else is viewing or typing in a conversation (issue 14), and this browser's own
// signals. The stream carries `presence` frames without an id (never a cursor, never
// deduplicated); each state lapses at its `expiresAt` here too, so a lost `idle` (a
// closed laptop) clears itself. One timer for all the states shown.
import { type Signal, signal } from '@preact/signals'
import type { PresenceFrame } from '../../../src/events/types.ts'
import type { PresenceMode, PresenceState } from '../api/presence.ts'

export type { PresenceMode, PresenceState }

/** Someone else's state in one conversation, as the header and the list show it. */
export interface PresencePerson {
  id: number
  name: string
  state: 'viewing' | 'typing'
  mode: PresenceMode
  /** Local time (ms) when it lapses without a refresh. */
  until: number
}

/** While open and visible, the server is told "viewing" this often (it forgets after 10 s). */
export const VIEWING_REFRESH_MS = 5_000
/** At most one typing signal per conversation this often (the server throttles at 3 s too). */
export const TYPING_SIGNAL_MS = 3_000
/** The server's typing lapse: typed longer ago than this, the viewing refresh takes over again. */
const TYPING_TTL_MS = 6_000
// The server promises ≤ 10 s. An expiresAt outside (now, now + 10 s] means the clocks
// disagree: the state's own lapse from now is used instead.
const MAX_TTL_MS = 10_000
const DEFAULT_TTL_MS: Record<'viewing' | 'typing', number> = { viewing: 10_000, typing: TYPING_TTL_MS }

export interface PresenceOptions {
  /** Who is signed in: their own frames are not shown. */
  me: () => number | null
  /** Tells the server (POST /api/conversations/:id/presence); failures are ignored (the next refresh retries). */
  send: (conversationId: number, state: PresenceState, mode?: PresenceMode) => Promise<unknown>
  now?: () => number
}

const isFrame = (d: unknown): d is PresenceFrame => {
  const f = d as Partial<PresenceFrame> | null
  return (
    !!f &&
    typeof f.conversationId === 'number' &&
    typeof f.user?.id === 'number' &&
    typeof f.user.name === 'string' &&
    (f.state === 'viewing' || f.state === 'typing' || f.state === 'idle') &&
    typeof f.expiresAt === 'number'
  )
}

export function createPresence(o: PresenceOptions) {
  const now = o.now ?? Date.now
  /** Per conversation, created when first read or told about: rows and headers subscribe to their own. */
  const byConversation = new Map<number, Signal<readonly PresencePerson[]>>()
  let expiryTimer: ReturnType<typeof setTimeout> | undefined

  const slot = (id: number) => {
    let s = byConversation.get(id)
    if (!s) byConversation.set(id, (s = signal<readonly PresencePerson[]>([])))
    return s
  }

  /** The others viewing or typing in a conversation (never this person), typing first. */
  function of(conversationId: number): readonly PresencePerson[] {
    return slot(conversationId).value
  }

  /** A `presence` frame from the stream (or relayed by the leader tab). */
  function apply(data: unknown): void {
    if (!isFrame(data) || data.user.id === o.me()) return
    const s = slot(data.conversationId)
    const rest = s.value.filter((p) => p.id !== data.user.id)
    if (data.state === 'idle') {
      if (rest.length !== s.value.length) s.value = rest
      return
    }
    const t = now()
    const ttl = data.expiresAt - t
    const until = ttl > 0 && ttl <= MAX_TTL_MS ? data.expiresAt : t + DEFAULT_TTL_MS[data.state]
    const person: PresencePerson = { id: data.user.id, name: data.user.name, state: data.state, mode: data.mode ?? 'reply', until }
    s.value = [...rest, person].sort((a, b) => (a.state === b.state ? a.name.localeCompare(b.name) : a.state === 'typing' ? -1 : 1))
    schedule()
  }

  /** One timer, set for the earliest lapse among everything shown. */
  function schedule(): void {
    clearTimeout(expiryTimer)
    let next = Infinity
    for (const s of byConversation.values()) for (const p of s.value) next = Math.min(next, p.until)
    if (next === Infinity) return
    expiryTimer = setTimeout(expire, Math.max(0, next - now()) + 10)
  }

  function expire(): void {
    const t = now()
    for (const s of byConversation.values()) {
      if (s.value.some((p) => p.until <= t)) s.value = s.value.filter((p) => p.until > t)
    }
    schedule()
  }

  /** After a reset or a sign-out: nothing shown is trusted; live frames and refreshes bring it back. */
  function clear(): void {
    clearTimeout(expiryTimer)
    for (const s of byConversation.values()) if (s.value.length) s.value = []
  }

  // ---- this browser's own signals -------------------------------------------------
  let viewingId: number | null = null
  let refreshTimer: ReturnType<typeof setInterval> | undefined
  const lastTypingSent = new Map<number, number>()
  const lastTyped = new Map<number, number>()
  const visible = () => typeof document === 'undefined' || document.visibilityState === 'visible'
  const tell = (id: number, state: PresenceState, mode?: PresenceMode) => void o.send(id, state, mode).catch(() => {})

  /** Whether the typing signal covers this conversation now (typing implies viewing on the server). */
  const typingLive = (id: number) => now() - (lastTyped.get(id) ?? -Infinity) < TYPING_TTL_MS

  function refresh(): void {
    if (viewingId === null || !visible()) return
    // A "viewing" would end the typing the others see: while typing, typing signals keep it fresh.
    if (!typingLive(viewingId)) tell(viewingId, 'viewing')
  }

  const onVisibility = () => {
    if (viewingId === null) return
    if (visible()) tell(viewingId, 'viewing')
    else tell(viewingId, 'idle')
  }

  /** The conversation is open on screen: "viewing" now and every 5 s while the tab is visible. */
  function view(conversationId: number): () => void {
    if (viewingId !== null && viewingId !== conversationId) leave(viewingId)
    viewingId = conversationId
    if (visible()) tell(conversationId, 'viewing')
    clearInterval(refreshTimer)
    refreshTimer = setInterval(refresh, VIEWING_REFRESH_MS)
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibility)
    return () => leave(conversationId)
  }

  function leave(conversationId: number): void {
    if (viewingId !== conversationId) return
    viewingId = null
    clearInterval(refreshTimer)
    refreshTimer = undefined
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibility)
    lastTyped.delete(conversationId)
    lastTypingSent.delete(conversationId)
    tell(conversationId, 'idle')
  }

  /** A keystroke in the composer: "typing" at most once per 3 s; an emptied composer says "viewing" at once. */
  function typed(conversationId: number, text: string, mode: PresenceMode = 'reply'): void {
    const t = now()
    if (text.trim() === '') {
      // Sent or cleared: the others stop seeing "typing" now rather than in 6 s.
      if (typingLive(conversationId)) {
        lastTyped.delete(conversationId)
        lastTypingSent.delete(conversationId)
        tell(conversationId, 'viewing')
      }
      return
    }
    lastTyped.set(conversationId, t)
    if (t - (lastTypingSent.get(conversationId) ?? -Infinity) < TYPING_SIGNAL_MS) return
    lastTypingSent.set(conversationId, t)
    tell(conversationId, 'typing', mode)
  }

  function stop(): void {
    if (viewingId !== null) leave(viewingId)
    clear()
  }

  return { of, apply, clear, view, leave, typed, stop }
}

export type PresenceStore = ReturnType<typeof createPresence>
