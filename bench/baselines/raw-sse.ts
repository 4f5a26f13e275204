// Baseline: a raw node:http SSE server, the floor for fan-out and per-stream memory.
// Same headers and first write as Parley's /stream, no auth, no framework; a broadcast
// writes one pre-serialized Buffer to every open response. /replay reads the same
// events table as Parley (the physical limit of reading and writing 10,000 events).
// POST /webhooks/whatsapp is the floor for delivery (workload 2): no signature, no
// storage, no durability — each message or status of the webhook becomes one frame of
// about the size of Parley's events, written to every stream (batched per loop turn,
// as Parley batches per group commit) before the 200.
import http from 'node:http'
import Database from 'better-sqlite3'
import { serve } from '../lib/proc.ts'
import { nowMs } from '../lib/hist.ts'

const conns = new Set<http.ServerResponse>()
let replayDb: { epoch: string; page: Database.Statement } | undefined

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/stream') {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    res.write('retry: 3000\n: connected\n\n')
    res.socket?.setNoDelay(true)
    conns.add(res)
    res.on('close', () => conns.delete(res))
    return
  }
  if (url.pathname === '/webhooks/whatsapp' && req.method === 'POST') {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => fanOutWebhook(Buffer.concat(parts), res))
    return
  }
  if (url.pathname === '/replay' && replayDb) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' })
    void replay(res, Number(url.searchParams.get('after') ?? 0))
    return
  }
  res.writeHead(404).end()
})

let lastId = 0
// Parley's message.created is about 0.9 KB on the wire (workload 3), message.updated less.
const PAD = { in: 'x'.repeat(850), status: 'x'.repeat(550) }
// Batched like Parley's group commit: the frames of every webhook that arrived in one
// turn of the event loop go out as one write per stream, then those webhooks are
// answered. Without it, 1,000 webhooks/s × 1,000 streams is a million writes a second.
let batch = ''
let waiting: http.ServerResponse[] = []

function fanOutWebhook(body: Buffer, res: http.ServerResponse): void {
  const payload = JSON.parse(body.toString('utf8')) as {
    entry?: Array<{ changes?: Array<{ value?: { messages?: Array<{ id: string }>; statuses?: Array<{ id: string }> } }> }>
  }
  for (const e of payload.entry ?? [])
    for (const c of e.changes ?? []) {
      for (const m of c.value?.messages ?? [])
        batch += `id: raw:${++lastId}\nevent: message.created\ndata: {"message":{"providerMessageId":${JSON.stringify(m.id)},"pad":"${PAD.in}"}}\n\n`
      for (const st of c.value?.statuses ?? [])
        batch += `id: raw:${++lastId}\nevent: message.updated\ndata: {"message":{"providerMessageId":${JSON.stringify(st.id)},"pad":"${PAD.status}"}}\n\n`
    }
  waiting.push(res)
  if (waiting.length === 1) setImmediate(flushBatch)
}

function flushBatch(): void {
  const frames = batch
  const answered = waiting
  batch = ''
  waiting = []
  if (frames) {
    const bytes = Buffer.from(frames)
    for (const c of conns) c.write(bytes)
  }
  for (const res of answered) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
}

async function replay(res: http.ServerResponse, after: number): Promise<void> {
  const { epoch, page } = replayDb!
  let from = after
  for (;;) {
    const rows = page.all(from, 1000) as Array<{ id: number; type: string; data: string }>
    if (rows.length === 0) break
    let chunk = ''
    for (const ev of rows) chunk += `id: ${epoch}:${ev.id}\nevent: ${ev.type}\ndata: ${ev.data}\n\n`
    from = rows[rows.length - 1]!.id
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
  }
}

const rpc = serve(
  {
    broadcast: (a: { frame: string }) =>
      new Promise((resolve) => {
        const t0 = nowMs()
        const bytes = Buffer.from(a.frame)
        for (const res of conns) res.write(bytes)
        const durMs = nowMs() - t0
        // Each response was corked by the first write and is written out in a nextTick
        // queued during the loop; this tick runs after all of them.
        process.nextTick(() => resolve({ startMs: t0, durMs, flushMs: nowMs() - t0, conns: conns.size }))
      }),
    mem: () => {
      globalThis.gc?.()
      globalThis.gc?.()
      const m = process.memoryUsage()
      return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, streams: conns.size }
    },
    streams: () => conns.size,
    openDb: (a: { file: string; epoch: string }) => {
      const db = new Database(a.file, { readonly: true })
      replayDb = {
        epoch: a.epoch,
        page: db.prepare('SELECT id, type, payload AS data FROM events WHERE workspace_id = 1 AND id > ? ORDER BY id LIMIT ?'),
      }
      return true
    },
  },
  () => {
    for (const c of conns) c.destroy()
    server.close()
  },
)
server.listen(0, '127.0.0.1', () => {
  const addr = server.address()
  rpc.ready({ port: typeof addr === 'object' && addr ? addr.port : 0 })
})
