// One stream per browser (realtime.md rule 13): HTTP/1.1 allows six connections per
// origin, so a seventh tab with its own EventSource would hang. The tabs elect a leader
// with Web Locks; only the leader holds the EventSource and relays every event (and its
// connection state) to the other tabs over a BroadcastChannel. When the leader tab
// closes, the browser grants the lock to another tab, which opens the stream from its
// own cursor — every tab applied every relayed event, so its cursor is as far along.
//
// A tab that joins while the leader is running listens on the channel before it loads
// its first page: anything the leader relays after that is applied on top of the page
// (the per-entity event ids make the overlap harmless), and anything before it is in
// the page. So no event falls between.
import { createStreamClient, type AuthCheck, type ConnectionState, type StreamEvent } from './stream.ts'

const CHANNEL = 'parley-stream'
const LOCK = 'parley-stream-leader'

type Relay = { t: 'event'; ev: StreamEvent } | { t: 'status'; s: ConnectionState } | { t: 'hello' } | { t: 'logout' } | { t: 'expired' }

export interface SharedStreamOptions {
  cursor: () => string | null
  onEvent: (ev: StreamEvent) => void
  onStatus: (s: ConnectionState) => void
  checkAuth: () => Promise<AuthCheck>
  /** Someone signed out (here or in another tab). */
  onLoggedOut: () => void
  /** The session expired or was revoked (the stream was refused): sign in again in place. */
  onExpired?: () => void
}

export function createSharedStream(o: SharedStreamOptions) {
  const shared = typeof BroadcastChannel !== 'undefined' && typeof navigator !== 'undefined' && !!navigator.locks
  let channel: BroadcastChannel | null = null
  let leader = false
  let stopLeading: (() => void) | null = null
  let abort: AbortController | null = null
  let status: ConnectionState = 'connecting'

  const client = createStreamClient({
    cursor: o.cursor,
    checkAuth: o.checkAuth,
    onEvent(ev) {
      o.onEvent(ev)
      channel?.postMessage({ t: 'event', ev } satisfies Relay)
    },
    onStatus(s) {
      status = s
      o.onStatus(s)
      channel?.postMessage({ t: 'status', s } satisfies Relay)
    },
    onUnauthorized() {
      channel?.postMessage({ t: 'expired' } satisfies Relay)
      o.onExpired?.()
    },
  })

  function lead() {
    leader = true
    client.start()
  }

  /** Starts listening (call before the first page load), then joins the election. */
  function listen() {
    if (!shared) return
    channel = new BroadcastChannel(CHANNEL)
    channel.onmessage = (e: MessageEvent<Relay>) => {
      const m = e.data
      if (m.t === 'event') {
        if (!leader) o.onEvent(m.ev)
      } else if (m.t === 'status') {
        if (!leader) o.onStatus(m.s)
      } else if (m.t === 'hello') {
        if (leader) channel?.postMessage({ t: 'status', s: status } satisfies Relay)
      } else if (m.t === 'logout') {
        o.onLoggedOut()
      } else if (m.t === 'expired') {
        o.onExpired?.()
      }
    }
  }

  /** Joins the election once this tab's state has its cursor. */
  function start() {
    if (!shared) return lead()
    if (!channel) listen()
    abort = new AbortController()
    navigator.locks
      .request(LOCK, { signal: abort.signal }, () => {
        lead()
        // Held until this tab stops or closes; the browser then hands it on.
        return new Promise<void>((resolve) => (stopLeading = resolve))
      })
      .catch(() => {
        /* aborted by stop(): this tab logged out before it led */
      })
    channel!.postMessage({ t: 'hello' } satisfies Relay)
  }

  function stop() {
    client.stop()
    leader = false
    stopLeading?.()
    stopLeading = null
    abort?.abort()
    abort = null
    channel?.close()
    channel = null
  }

  return {
    listen,
    start,
    stop,
    isLeader: () => leader,
    reconnectNow: () => (leader ? client.reconnectNow() : undefined),
    /** Tells every other tab the session ended. */
    broadcastLogout: () => channel?.postMessage({ t: 'logout' } satisfies Relay),
  }
}
