// The one EventSource of this browser, wrapped. Rules from realtime.md:
// - 8: reconnect with exponential backoff and full jitter, so a server restart does not
//   bring every agent back in the same second;
// - 9: a browser EventSource dies for good on any non-200, and a new EventSource does not
//   send Last-Event-ID. So the wrapper closes it on every error, checks whether the
//   session still holds (401 → login), and opens a new one with ?lastEventId=<cursor>;
// - 7: the server sends a named `ping`; a watchdog reconnects a stream that went quiet
//   (a half-open connection after a laptop sleeps or a NAT box drops it).

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline'

/** One event as the stream delivers it (data already parsed from JSON). */
export interface StreamEvent {
  id: string | null
  type: string
  data: unknown
}

export const STREAM_EVENT_TYPES = [
  'message.created',
  'message.updated',
  'conversation.updated',
  // Issue 13: something was assigned to this person (their own audience).
  'conversation.assigned',
  // Contacts and campaigns (issue 7): relayed to their screens (web/src/campaigns/live.ts).
  'campaign.updated',
  'contact.updated',
  'contacts.imported',
  // Settings (issue 11): a channel's credential check result.
  'channel.updated',
  // The team (issue 13): a person's role, channels, state, name or availability.
  'user.updated',
  // Issue 14: who is viewing or typing. Live only, sent WITHOUT an id (never a cursor).
  'presence',
  // Issue 14: the workspace's labels (the whole list): the chips and the picker follow it.
  'labels.changed',
  // Issue 14: a note deleted (its channel); a mention of this person, their mentions read (their own audience).
  'message.deleted',
  'mention.created',
  'mentions.read',
  'reset',
  'ping',
] as const

/** Frames sent without an `id:` line: never a position in the log, never deduplicated. */
const LIVE_ONLY: ReadonlySet<string> = new Set(['ping', 'presence'])

export type AuthCheck = 'ok' | 'unauthorized' | 'unreachable'

export interface StreamClientOptions {
  url?: string
  cursor: () => string | null
  onEvent: (ev: StreamEvent) => void
  onStatus: (s: ConnectionState) => void
  checkAuth: () => Promise<AuthCheck>
  onUnauthorized: () => void
  /** First retry waits up to this long; each failure doubles it up to `backoffMaxMs`. */
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** The server pings every 30 s by default (SSE_PING_SECONDS); silence past this is a dead stream. */
  watchdogMs?: number
}

const DEFAULT_BACKOFF_BASE_MS = 500
// Long enough that a fleet of browsers does not hammer a struggling server, short
// enough that an agent is never out of date for long after it comes back.
const DEFAULT_BACKOFF_MAX_MS = 20_000
const DEFAULT_WATCHDOG_MS = 75_000
// A tab that comes back to the foreground after this much silence reconnects at once
// instead of waiting for the watchdog (the laptop probably slept).
const WAKE_SILENCE_MS = 40_000

/** Full jitter: a random wait between half and all of the exponential step. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16))
  return Math.round(step / 2 + (random() * step) / 2)
}

export function createStreamClient(o: StreamClientOptions) {
  const url = o.url ?? '/stream'
  const base = o.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS
  const max = o.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS
  const watchdogMs = o.watchdogMs ?? DEFAULT_WATCHDOG_MS
  let es: EventSource | null = null
  let attempts = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let watchdog: ReturnType<typeof setInterval> | undefined
  let lastActivity = 0
  let stopped = true
  let status: ConnectionState = 'connecting'

  const setStatus = (s: ConnectionState) => {
    if (s !== status) o.onStatus((status = s))
  }
  const offline = () => typeof navigator !== 'undefined' && navigator.onLine === false

  function open() {
    clearTimeout(timer)
    if (stopped) return
    es?.close()
    const c = o.cursor()
    const current = new EventSource(c ? `${url}?lastEventId=${encodeURIComponent(c)}` : url)
    es = current
    lastActivity = Date.now()
    current.onopen = () => {
      if (es !== current) return
      attempts = 0
      lastActivity = Date.now()
      setStatus('live')
    }
    for (const type of STREAM_EVENT_TYPES) {
      current.addEventListener(type, (e) => {
        if (es !== current) return
        lastActivity = Date.now()
        const me = e as MessageEvent<string>
        let data: unknown
        try {
          data = JSON.parse(me.data)
        } catch {
          return
        }
        // A ping or a presence frame has no id of its own; EventSource would report the previous one.
        o.onEvent({ id: LIVE_ONLY.has(type) ? null : me.lastEventId || null, type, data })
      })
    }
    current.onerror = () => {
      if (es === current) fail()
    }
  }

  function fail() {
    es?.close()
    es = null
    if (stopped) return
    clearTimeout(timer)
    if (offline()) {
      // Wait for the browser's `online` event instead of spinning.
      setStatus('offline')
      return
    }
    setStatus('reconnecting')
    timer = setTimeout(() => void retry(), backoffDelay(attempts++, base, max))
  }

  async function retry() {
    if (stopped) return
    if (offline()) return setStatus('offline')
    const auth = await o.checkAuth()
    if (stopped) return
    if (auth === 'unauthorized') {
      stop()
      o.onUnauthorized()
      return
    }
    if (auth === 'unreachable') {
      setStatus('reconnecting')
      timer = setTimeout(() => void retry(), backoffDelay(attempts++, base, max))
      return
    }
    open()
  }

  function reconnectNow() {
    if (stopped) return
    attempts = 0
    es?.close()
    es = null
    void retry()
  }

  const onOnline = () => {
    if (!es || status !== 'live') reconnectNow()
  }
  const onOffline = () => {
    es?.close()
    es = null
    clearTimeout(timer)
    setStatus('offline')
  }
  const onVisible = () => {
    if (document.visibilityState === 'visible' && Date.now() - lastActivity > WAKE_SILENCE_MS) reconnectNow()
  }

  function start() {
    if (!stopped) return
    stopped = false
    addEventListener('online', onOnline)
    addEventListener('offline', onOffline)
    document.addEventListener('visibilitychange', onVisible)
    watchdog = setInterval(() => {
      if (es && Date.now() - lastActivity > watchdogMs) fail()
    }, 5000)
    if (offline()) setStatus('offline')
    else open()
  }

  function stop() {
    stopped = true
    clearTimeout(timer)
    clearInterval(watchdog)
    removeEventListener('online', onOnline)
    removeEventListener('offline', onOffline)
    document.removeEventListener('visibilitychange', onVisible)
    es?.close()
    es = null
  }

  return { start, stop, reconnectNow, status: () => status }
}
