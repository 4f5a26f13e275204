// Load generator child: socket.io clients of the peer (websocket transport, token in
// the handshake, as the naive inboxes' browsers connect). Same accounting as the SSE
// receivers: each `appMessage` carries a wamid whose digits are the plan item.
import { io, type Socket } from 'socket.io-client'
import { serve, sleep } from '../lib/proc.ts'
import { Hist, nowMs } from '../lib/hist.ts'
import { deliveryPlan } from '../lib/wa.ts'
import { Tracker, emptyAccounting } from '../lib/tracker.ts'

interface Conn {
  socket: Socket
  events: number
  closed: boolean
  tracker: Tracker | null
}
let conns: Conn[] = []

const itemOfWamid = (w: unknown): number => {
  const m = typeof w === 'string' ? /^wamid\.HBgL[A-Z]+(\d+)Z$/.exec(w) : null
  return m ? Number(m[1]) : -1
}

function openOne(url: string, token: string, track: boolean, capacity: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ['websocket'],
      auth: { token },
      forceNew: true,
      reconnection: false,
      timeout: 20_000,
    })
    const c: Conn = { socket, events: 0, closed: false, tracker: track ? new Tracker(capacity) : null }
    socket.on('connect', () => resolve(c))
    socket.on('connect_error', (err) => reject(err))
    socket.on('disconnect', () => (c.closed = true))
    socket.on('appMessage', (e: { message?: { id?: unknown } }) => {
      const t = nowMs()
      c.events++
      c.tracker?.item(itemOfWamid(e.message?.id), t)
    })
  })
}

serve({
  open: async (a: { url: string; tokens: string[]; count: number; concurrency?: number; mode: 'track' | 'count'; capacity?: number }) => {
    const t0 = nowMs()
    let next = 0
    let failed = 0
    let firstError = ''
    const worker = async () => {
      while (next < a.count) {
        const i = next++
        try {
          conns.push(await openOne(a.url, a.tokens[i % a.tokens.length]!, a.mode === 'track', a.capacity ?? 1024))
        } catch (err) {
          failed++
          firstError ||= String(err)
        }
      }
    }
    await Promise.all(Array.from({ length: a.concurrency ?? 50 }, worker))
    return { opened: conns.length, failed, firstError, ms: nowMs() - t0 }
  },
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
    return { clients: conns.length, min: conns.length ? min : 0, max, sum, closed: conns.filter((c) => c.closed).length }
  },
  settle: (a: { webhooks: number; sendMs: Float64Array; acked: Uint8Array; skipBelow: number }) => {
    const plan = deliveryPlan(a.webhooks)
    const hist = new Hist()
    const acc = emptyAccounting()
    for (const c of conns)
      c.tracker!.settle({ webhookOf: plan.webhookOf, sendMs: a.sendMs, acked: a.acked, skipBelow: a.skipBelow }, hist, acc)
    return { hist: hist.toJSON(), acc, closed: conns.filter((c) => c.closed).length }
  },
  closeAll: async () => {
    for (const c of conns) c.socket.disconnect()
    conns = []
    await sleep(50)
    return true
  },
}).ready()
