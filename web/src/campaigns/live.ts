// Live campaign and contact updates, from the browser's one event stream (realtime.md
// rule 13). The inbox's shared stream already holds the EventSource in the leader tab
// and relays every event over a BroadcastChannel; this page only listens to that
// relay (it never joins the leader election), so it adds no connection. Where the
// browser has no BroadcastChannel or Web Locks, the page refreshes what it shows every
// few seconds instead.
import type { ReadonlySignal } from '@preact/signals'
import { createSharedStream } from '../api/shared-stream.ts'
import type { StreamEvent } from '../api/stream.ts'

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

/**
 * Calls `fn` each time the agent has signed in again over the page (the app's `resumed`
 * count): what a page asked while the session was over was refused, so it reads again.
 */
export function onResume(resumed: ReadonlySignal<number>, fn: () => void): () => void {
  const at = resumed.peek()
  // subscribe, not effect: what `fn` reads must not become a reason to call it again.
  return resumed.subscribe((n) => {
    if (n !== at) fn()
  })
}
