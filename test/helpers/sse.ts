// A raw SSE client over node:http: it reads the stream byte for byte as a browser
// would, records every event with its id, and lets a test stop reading (slow client).
import http from 'node:http'
import https from 'node:https'

export interface SseEvent {
  id: string | undefined
  event: string
  data: string
}

export interface SseClient {
  status: number
  headers: http.IncomingHttpHeaders
  events: SseEvent[]
  comments: string[]
  retry: number | undefined
  /** Resolves when `n` events of `type` (or any type) have arrived. */
  waitFor(pred: (events: SseEvent[]) => boolean, timeoutMs?: number): Promise<void>
  closed: Promise<void>
  isClosed(): boolean
  lastId(): string | undefined
  pause(): void
  resume(): void
  close(): void
  /** Events other than ping. */
  data<T = unknown>(type?: string): T[]
}

export function connectSse(
  url: string,
  /** `ca`: the certificate authority an https:// URL is trusted by (a proxy's own CA). */
  opts: { token?: string; cookie?: string; lastEventId?: string; ca?: string } = {},
): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    if (opts.cookie) headers.cookie = opts.cookie
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId
    const req = url.startsWith('https:') ? https.get(url, { headers, ca: opts.ca }) : http.get(url, { headers })
    req.on('error', reject)
    req.on('response', (res) => {
      const client = makeClient(res, req)
      resolve(client)
    })
  })
}

function makeClient(res: http.IncomingMessage, req: http.ClientRequest): SseClient {
  const events: SseEvent[] = []
  const comments: string[] = []
  const waiters = new Set<() => void>()
  let buf = ''
  let closed = false
  let closedResolve!: () => void
  const closedP = new Promise<void>((r) => (closedResolve = r))
  const client: SseClient = {
    status: res.statusCode ?? 0,
    headers: res.headers,
    events,
    comments,
    retry: undefined,
    closed: closedP,
    isClosed: () => closed,
    lastId() {
      for (let i = events.length - 1; i >= 0; i--) if (events[i]!.id !== undefined) return events[i]!.id
      return undefined
    },
    waitFor(pred, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        if (pred(events)) return resolve()
        const check = () => {
          if (pred(events)) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve()
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting; have ${events.length} events`))
        }, timeoutMs)
        waiters.add(check)
      })
    },
    pause() {
      res.pause()
    },
    resume() {
      res.resume()
    },
    close() {
      req.destroy()
    },
    data(type) {
      return events.filter((e) => e.event !== 'ping' && (!type || e.event === type)).map((e) => JSON.parse(e.data))
    },
  }
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => {
    buf += chunk
    let idx: number
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx)
      buf = buf.slice(idx + 2)
      let id: string | undefined
      let event = 'message'
      const data: string[] = []
      let hasField = false
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          comments.push(line.slice(1).trim())
          continue
        }
        const c = line.indexOf(':')
        const field = c < 0 ? line : line.slice(0, c)
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '')
        if (field === 'id') (id = value), (hasField = true)
        else if (field === 'event') (event = value), (hasField = true)
        else if (field === 'data') data.push(value), (hasField = true)
        else if (field === 'retry') client.retry = Number(value)
      }
      if (hasField && data.length) events.push({ id, event, data: data.join('\n') })
    }
    for (const w of [...waiters]) w()
  })
  const done = () => {
    closed = true
    closedResolve()
    for (const w of [...waiters]) w()
  }
  res.on('end', done)
  res.on('close', done)
  res.on('error', done)
  return client
}
