// Load generator child: many SSE clients over raw node:http, as a browser's
// EventSource reads them. Frames are parsed on Buffers without decoding or JSON
// parsing (a receiver that parsed every event would need more CPU than the server it
// measures). Modes: `track` (every event's plan item and arrival time, for latency
// and exactly-once), `count` (events per client), `fanout` (arrival of each event id
// across all clients).
import http from 'node:http'
import { serve, sleep } from '../lib/proc.ts'
import { Hist, nowMs } from '../lib/hist.ts'
import { deliveryPlan, itemOf } from '../lib/wa.ts'
import { Tracker, emptyAccounting, type SettleContext } from '../lib/tracker.ts'

const DELIM = Buffer.from('\n\n')

interface Conn {
  url: string
  headers: Record<string, string>
  localAddress: string | undefined
  req: http.ClientRequest
  pending: Buffer | null
  connected: boolean
  closed: boolean
  events: number
  /** Issue 14: live-only `presence` frames (no id), counted and otherwise ignored. */
  presence: number
  /** epoch part of the last id seen, and its number: the cursor to resume from */
  epoch: string
  lastId: number
  reconnects: number
  tracker: Tracker | null
}

type Mode = 'track' | 'count' | 'fanout'
let conns: Conn[] = []
let mode: Mode = 'count'
let stopping = false
const fanout = new Map<number, { n: number; min: number; max: number }>()

function onFrames(c: Conn, buf: Buffer, t: number): void {
  let pos = 0
  for (;;) {
    const e = buf.indexOf(DELIM, pos)
    if (e < 0) break
    // Only frames with an id are events of the log (ping and comments carry none).
    // A frame is `id: <epoch>:<n>\nevent: <type>\ndata: …`.
    if (buf[pos] === 105 && buf[pos + 1] === 100 && buf[pos + 2] === 58) {
      let nl = buf.indexOf(10, pos)
      if (nl < 0 || nl > e) nl = e
      let i = nl - 1
      let id = 0
      let mul = 1
      while (i > pos + 3 && buf[i]! >= 48 && buf[i]! <= 57) {
        id += (buf[i]! - 48) * mul
        mul *= 10
        i--
      }
      if (!c.epoch && buf[i] === 58) c.epoch = buf.toString('latin1', pos + 4, i)
      c.events++
      c.lastId = id
      // `event: reset`: the type's first letters sit right after `\nevent: `.
      const isReset = buf[nl + 8] === 114 && buf[nl + 9] === 101 && buf[nl + 10] === 115
      if (isReset) {
        if (c.tracker) c.tracker.resets++
      } else if (mode === 'track') {
        c.tracker!.id(id)
        c.tracker!.item(itemOf(buf, nl, e), t)
      } else if (mode === 'fanout') {
        const f = fanout.get(id)
        if (!f) fanout.set(id, { n: 1, min: t, max: t })
        else {
          f.n++
          if (t < f.min) f.min = t
          if (t > f.max) f.max = t
        }
      }
    }
    // `event: presence` (no id line): counted, never an event of the log.
    else if (buf[pos] === 101 && buf[pos + 7] === 112 && buf.toString('latin1', pos + 7, pos + 15) === 'presence') c.presence++
    pos = e + 2
  }
  c.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null
}

/** Connects (or reconnects, resuming from the last id as a browser's EventSource does);
 * resolves on the first bytes of a 200. */
function connect(c: Conn): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers = { ...c.headers }
    if (c.epoch) headers['last-event-id'] = `${c.epoch}:${c.lastId}`
    const req = http.get(c.url, { headers, agent: false, localAddress: c.localAddress })
    c.req = req
    c.pending = null
    let got = false
    const lost = () => {
      if (!got) return
      got = false
      c.connected = false
      // A server that cut this client (it fell behind) expects it back with its cursor.
      if (stopping || mode === 'fanout') {
        c.closed = true
        return
      }
      c.reconnects++
      setTimeout(() => void connect(c).catch(() => (c.closed = true)), 50 + Math.random() * 100)
    }
    req.on('error', (err) => {
      if (!got) reject(err)
      else lost()
    })
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`status ${res.statusCode}`))
        return
      }
      res.on('data', (chunk: Buffer) => {
        const t = nowMs()
        if (!got) {
          got = true
          c.connected = true
          resolve()
        }
        onFrames(c, c.pending ? Buffer.concat([c.pending, chunk]) : chunk, t)
      })
      res.on('close', lost)
    })
  })
}

async function openOne(url: string, headers: Record<string, string>, localAddress: string | undefined, capacity: number): Promise<Conn> {
  const c: Conn = {
    url,
    headers,
    localAddress,
    req: undefined as unknown as http.ClientRequest,
    pending: null,
    connected: false,
    closed: false,
    events: 0,
    presence: 0,
    epoch: '',
    lastId: 0,
    reconnects: 0,
    tracker: mode === 'track' ? new Tracker(capacity) : null,
  }
  if (headers['last-event-id']) {
    const v = headers['last-event-id']
    c.epoch = v.slice(0, v.lastIndexOf(':'))
    c.lastId = Number(v.slice(v.lastIndexOf(':') + 1))
    delete headers['last-event-id']
  }
  await connect(c)
  return c
}

serve({
  open: async (a: {
    url: string
    tokens: string[]
    count: number
    lastEventId?: string
    localAddress?: string
    concurrency?: number
    mode: Mode
    capacity?: number
  }) => {
    mode = a.mode
    stopping = false
    const t0 = nowMs()
    let next = 0
    let failed = 0
    let firstError = ''
    const worker = async () => {
      while (next < a.count) {
        const i = next++
        const headers: Record<string, string> = {
          accept: 'text/event-stream',
          authorization: `Bearer ${a.tokens[i % a.tokens.length]}`,
        }
        if (a.lastEventId) headers['last-event-id'] = a.lastEventId
        try {
          conns.push(await openOne(a.url, headers, a.localAddress, a.capacity ?? 1024))
        } catch (err) {
          failed++
          firstError ||= String(err)
        }
      }
    }
    await Promise.all(Array.from({ length: a.concurrency ?? 100 }, worker))
    return { opened: conns.length, failed, firstError, ms: nowMs() - t0 }
  },

  /** Waits until every open client holds `expected` events (or the deadline). */
  wait: async (a: { expected: number; timeoutMs: number }) => {
    const end = nowMs() + a.timeoutMs
    const done = () => conns.every((c) => (c.tracker ? c.tracker.count() : c.events) >= a.expected || c.closed)
    while (!done() && nowMs() < end) await sleep(20)
    return { done: done(), closed: conns.filter((c) => c.closed).length }
  },

  counts: () => {
    let min = Infinity
    let max = 0
    let sum = 0
    for (const c of conns) {
      min = Math.min(min, c.events)
      max = Math.max(max, c.events)
      sum += c.events
    }
    return {
      clients: conns.length,
      min: conns.length ? min : 0,
      max,
      sum,
      closed: conns.filter((c) => c.closed).length,
      reconnects: conns.reduce((a, c) => a + c.reconnects, 0),
      presence: conns.reduce((a, c) => a + c.presence, 0),
    }
  },

  settle: (a: { webhooks: number; sendMs: Float64Array; acked: Uint8Array; skipBelow: number; idRange?: { from: number; to: number } }) => {
    const plan = deliveryPlan(a.webhooks)
    const ctx: SettleContext = { webhookOf: plan.webhookOf, sendMs: a.sendMs, acked: a.acked, skipBelow: a.skipBelow, idRange: a.idRange }
    const hist = new Hist()
    const acc = emptyAccounting()
    for (const c of conns) c.tracker!.settle(ctx, hist, acc)
    return {
      hist: hist.toJSON(),
      acc,
      closed: conns.filter((c) => c.closed).length,
      reconnects: conns.reduce((a, c) => a + c.reconnects, 0),
    }
  },

  fanout: () => {
    const out = [...fanout.entries()].map(([id, f]) => ({ id, ...f }))
    fanout.clear()
    return out
  },

  closeAll: async () => {
    stopping = true
    for (const c of conns) c.req.destroy()
    conns = []
    await sleep(50)
    return true
  },

  /** One client resuming from a cursor: time from request to the `expect`-th event. */
  replay: (a: { url: string; token?: string; lastEventId?: string; expect: number; timeoutMs: number }) =>
    new Promise((resolve, reject) => {
      const t0 = nowMs()
      const headers: Record<string, string> = { accept: 'text/event-stream' }
      if (a.token) headers.authorization = `Bearer ${a.token}`
      if (a.lastEventId) headers['last-event-id'] = a.lastEventId
      const req = http.get(a.url, { headers, agent: false })
      let pending: Buffer | null = null
      let n = 0
      let firstByteMs = 0
      let bytes = 0
      const timer = setTimeout(() => {
        req.destroy()
        reject(new Error(`replay got ${n}/${a.expect} events in ${a.timeoutMs} ms`))
      }, a.timeoutMs)
      req.on('error', (err) => (clearTimeout(timer), reject(err)))
      req.on('response', (res) => {
        res.on('data', (chunk: Buffer) => {
          if (!firstByteMs) firstByteMs = nowMs() - t0
          bytes += chunk.length
          const buf = pending ? Buffer.concat([pending, chunk]) : chunk
          let pos = 0
          for (;;) {
            const e = buf.indexOf(DELIM, pos)
            if (e < 0) break
            if (buf[pos] === 105 && buf[pos + 1] === 100 && buf[pos + 2] === 58) n++
            pos = e + 2
          }
          pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null
          if (n >= a.expect) {
            const ms = nowMs() - t0
            clearTimeout(timer)
            req.destroy()
            resolve({ ms, firstByteMs, events: n, bytes })
          }
        })
      })
    }),
}).ready()
