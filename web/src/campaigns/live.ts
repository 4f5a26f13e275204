// Live campaign and contact updates, from the browser's one event stream (realtime.md
// rule 13). The inbox's shared stream already holds the EventSource in the leader tab
// and relays every event over a BroadcastChannel; this page only listens to that
// relay (it never joins the leader election), so it adds no connection. Where the
// browser has no BroadcastChannel or Web Locks, the page refreshes what it shows every
// few seconds instead.
import { createSharedStream } from '../api/shared-stream.ts'
import type { StreamEvent } from '../state/inbox.ts'

type Listener = (ev: StreamEvent) => void

const listeners = new Set<Listener>()
let started = false
// Without a relay, refresh this often (the server pushes a few updates a second).
export const FALLBACK_REFRESH_MS = 3000
export const hasRelay = typeof BroadcastChannel !== 'undefined' && typeof navigator !== 'undefined' && !!navigator.locks

function start() {
  if (started || !hasRelay) return
  started = true
  const stream = createSharedStream({
    cursor: () => null,
    onEvent: (ev) => {
      for (const l of listeners) l(ev)
    },
    onStatus: () => {},
    checkAuth: async () => 'ok',
    onLoggedOut: () => location.assign('/'),
  })
  stream.listen()
}

/** Calls `fn` for every event of the stream; returns the unsubscribe. */
export function onStreamEvent(fn: Listener): () => void {
  start()
  listeners.add(fn)
  return () => listeners.delete(fn)
}

/** The event's sequence number within the stream's epoch (`<epoch>:<n>`). */
export function seqOf(id: string | null | undefined): number {
  const n = id ? Number(id.slice(id.lastIndexOf(':') + 1)) : NaN
  return Number.isFinite(n) ? n : 0
}
