// Load generator child for the cluster workload (issue 17), one module in two roles (one
// process each): `send` posts signed WhatsApp webhooks, one inbound message each, from
// `concurrency` closed-loop senders (Meta's retrying senders: the next one leaves when the
// previous is answered) and stamps when each left and whether it got a 200; `open` / `wait` /
// `settle` hold SSE streams and stamp when each stream got each message's message.created
// event. Every stamp is CLOCK_MONOTONIC (hist.ts nowMs), shared by the processes.
import http from 'node:http'
import { Hist, nowMs } from './hist.ts'
import { serve, sleep } from './proc.ts'
import { customer, encode, envelope, inboundText } from './wa.ts'

/** The wamid of the run's webhook k; warm-up webhooks use another prefix. */
const MARK = '"providerMessageId":"wamid.HBgLCLU'
const wamidOf = (k: number) => `wamid.HBgLCLU${k}Z`

function webhook(k: number, prefix: string, contacts: number) {
  const from = customer((k * 7919) % contacts)
  return encode(
    envelope({
      contacts: [{ profile: { name: `Customer ${from.slice(-4)}` }, wa_id: from }],
      messages: [
        inboundText(
          from,
          prefix === 'run' ? wamidOf(k) : `wamid.HBgLWARM${prefix}x${k}Z`,
          `Olá, pedido #${k} 👍`,
          String(Math.floor(Date.now() / 1000)),
        ),
      ],
    }),
  )
}

function post(agent: http.Agent, url: URL, body: string, signature: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: '/webhooks/whatsapp',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-hub-signature-256': signature },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', () => resolve(0))
      },
    )
    req.on('error', () => resolve(0))
    req.end(body)
  })
}

interface Stream {
  req: http.ClientRequest
  /** per webhook k: first arrival (0: not yet) */
  at: Float64Array
  got: number
  dup: number
  closed: boolean
  pending: string
}

let streams: Stream[] = []
let stopping = false

function onData(s: Stream, chunk: string, t: number): void {
  const text = s.pending + chunk
  let pos = 0
  for (;;) {
    const e = text.indexOf('\n\n', pos)
    if (e < 0) break
    const frame = text.slice(pos, e)
    pos = e + 2
    if (!frame.includes('\nevent: message.created\n')) continue
    const m = frame.indexOf(MARK)
    if (m < 0) continue // a warm-up message
    const k = Number.parseInt(frame.slice(m + MARK.length, m + MARK.length + 12), 10)
    if (!(k >= 0 && k < s.at.length)) continue
    if (s.at[k]) s.dup++
    else {
      s.at[k] = t
      s.got++
    }
  }
  s.pending = text.slice(pos)
}

function openOne(url: string, token: string, webhooks: number): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` }, agent: false })
    const s: Stream = { req, at: new Float64Array(webhooks), got: 0, dup: 0, closed: false, pending: '' }
    let ok = false
    req.on('error', (err) => (ok ? (s.closed = true) : reject(err)))
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`${url}: status ${res.statusCode}`))
        return
      }
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const t = nowMs()
        // Open once the server wrote its first bytes: it holds the stream from then on.
        if (!ok) {
          ok = true
          resolve(s)
        }
        onData(s, chunk, t)
      })
      res.on('close', () => {
        if (!stopping) s.closed = true
      })
    })
  })
}

serve({
  send: async (a: { url: string; webhooks: number; concurrency: number; prefix: string; contacts: number }) => {
    const url = new URL(a.url)
    const agent = new http.Agent({ keepAlive: true, maxSockets: a.concurrency })
    const bodies = Array.from({ length: a.webhooks }, (_, k) => webhook(k, a.prefix, a.contacts))
    const sentAt = new Float64Array(a.webhooks)
    const acked = new Uint8Array(a.webhooks)
    const answer = new Hist()
    const statuses: Record<string, number> = {}
    let next = 0
    const t0 = nowMs()
    const worker = async () => {
      while (next < a.webhooks) {
        const k = next++
        sentAt[k] = nowMs()
        const status = await post(agent, url, bodies[k]!.body, bodies[k]!.signature)
        answer.record(nowMs() - sentAt[k]!)
        statuses[status] = (statuses[status] ?? 0) + 1
        if (status === 200) acked[k] = 1
      }
    }
    await Promise.all(Array.from({ length: a.concurrency }, worker))
    const seconds = (nowMs() - t0) / 1000
    agent.destroy()
    let ackedN = 0
    for (const x of acked) ackedN += x
    return { sentAt, acked, ackedN, seconds, answer: answer.toJSON(), statuses }
  },

  /** One stream per entry of `urls` (the process it goes to), with `token`. */
  open: async (a: { urls: string[]; token: string; webhooks: number }) => {
    stopping = false
    streams = await Promise.all(a.urls.map((u) => openOne(u, a.token, a.webhooks)))
    return { opened: streams.length }
  },

  /** Until every stream holds every acknowledged webhook's message, or the deadline. */
  wait: async (a: { acked: Uint8Array; timeoutMs: number }) => {
    let want = 0
    for (const x of a.acked) want += x
    const end = nowMs() + a.timeoutMs
    const done = () => streams.every((s) => s.got >= want || s.closed)
    while (!done() && nowMs() < end) await sleep(20)
    return { done: done() }
  },

  settle: (a: { sentAt: Float64Array; acked: Uint8Array }) => {
    const latency = new Hist()
    let missing = 0
    let streamsMissing = 0
    let unacked = 0
    let dup = 0
    for (const s of streams) {
      let miss = 0
      for (let k = 0; k < s.at.length; k++) {
        if (!s.at[k]) {
          if (a.acked[k]) miss++
          continue
        }
        if (!a.acked[k]) unacked++
        latency.record(s.at[k]! - a.sentAt[k]!)
      }
      missing += miss
      if (miss) streamsMissing++
      dup += s.dup
    }
    return {
      latency: latency.toJSON(),
      missing,
      streamsMissing,
      duplicated: dup,
      // Delivered although the webhook was not answered 200 (Meta would send it again).
      unacked,
      closed: streams.filter((s) => s.closed).length,
    }
  },

  closeAll: async () => {
    stopping = true
    for (const s of streams) s.req.destroy()
    streams = []
    await sleep(50)
    return true
  },
}).ready()
