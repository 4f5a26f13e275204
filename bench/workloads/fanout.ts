// 3. Fan-out and memory: N idle authenticated streams; RSS per stream, and the time to
// deliver one event to all of them — the server's write loop and the end-to-end time
// to the last client — against a raw node:http SSE server doing the same writes.
import Database from 'better-sqlite3'
import path from 'node:path'
import { nofileLimits, sleep, type Child } from '../lib/proc.ts'
import { nowMs } from '../lib/hist.ts'
import { login, startBaseline, startParley, startReceivers, type Running } from '../lib/servers.ts'
import { collectArrivals, openStreams, postWebhook, type Arrivals, type Mem, type PublishSample } from '../lib/streams.ts'
import { customer, encode, envelope, inboundText } from '../lib/wa.ts'
import { kb, median, ms, num, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

async function postOne(url: string, n: number): Promise<void> {
  const from = customer(900_000 + n)
  const e = encode(
    envelope({
      contacts: [{ profile: { name: 'Fan-out' }, wa_id: from }],
      messages: [
        inboundText(from, `wamid.HBgLFANOUT${n}x${Date.now()}Z`, 'Olá! Is my order on its way? 📦', String(Math.floor(Date.now() / 1000))),
      ],
    }),
  )
  await postWebhook(url, e)
}

async function open(ctx: Ctx, server: Running, receivers: Child[], n: number, tokens: string[], addr: number): Promise<number> {
  const openMs = await openStreams(server, receivers, n, tokens, 40 + addr)
  ctx.log(`fanout: ${server.name} holds ${n} streams (opened in ${(openMs / 1000).toFixed(1)} s)`)
  return openMs
}

/** Waits until all n clients have event `id` (or the deadline); returns the last arrival. */
async function lastArrival(receivers: Child[], n: number, timeoutMs: number): Promise<{ id: number; max: number; got: number }> {
  const end = nowMs() + timeoutMs
  const acc: Arrivals = new Map()
  for (;;) {
    await collectArrivals(receivers, acc)
    const done = [...acc.entries()].find(([, a]) => a.n >= n)
    if (done) return { id: done[0], max: done[1].max, got: done[1].n }
    if (nowMs() > end) {
      const best = [...acc.entries()].sort((a, b) => b[1].n - a[1].n)[0]
      return { id: best?.[0] ?? -1, max: NaN, got: best?.[1].n ?? 0 }
    }
    await sleep(25)
  }
}

interface Side {
  kind: 'parley' | 'raw'
  server: Running
  receivers: Child[]
  tokens: string[]
  base?: Mem
  mem?: Mem
  openMs: number
  /** loop + hand-over to the kernel */
  write: number[]
  /** the synchronous loop alone */
  loop: number[]
  e2e: number[]
}

/** One event through one system: returns the write-loop time and the time to the last client. */
async function once(side: Side, n: number, seq: number, frame: string): Promise<void> {
  let start: number
  if (side.kind === 'parley') {
    await postOne(side.server.url, seq)
    const samples = await side.server.child.call<PublishSample[]>('samples')
    const s = samples.find((x) => x.events === 1 && x.conns === n)
    if (!s) throw new Error(`no publish sample for ${n} streams (got ${JSON.stringify(samples)})`)
    side.write.push(s.flushMs)
    side.loop.push(s.durMs)
    start = s.startMs
  } else {
    const r = await side.server.child.call<PublishSample>('broadcast', { frame: frame.replace(/^id: ([^:\n]*):\d+/, `id: $1:${seq}`) })
    side.write.push(r.flushMs)
    side.loop.push(r.durMs)
    start = r.startMs
  }
  const last = await lastArrival(side.receivers, n, 20_000)
  if (last.got < n) throw new Error(`${side.server.name}: only ${last.got} of ${n} clients got the event`)
  side.e2e.push(last.max - start)
}

/** The bytes Parley wrote for its last event, so the raw server writes the same. */
function lastFrame(dataDir: string): string {
  const db = new Database(path.join(dataDir, 'parley.db'), { readonly: true })
  const ev = db.prepare('SELECT id, type, payload FROM events ORDER BY id DESC LIMIT 1').get() as {
    id: number
    type: string
    payload: string
  }
  const epoch = (db.prepare(`SELECT value FROM meta WHERE key = 'epoch'`).get() as { value: string }).value
  db.close()
  return `id: ${epoch}:${ev.id}\nevent: ${ev.type}\ndata: ${ev.payload}\n\n`
}

// Both systems run at once and take turns, so drift in the machine's load (other
// helpers' work) falls on both alike.
async function runPair(ctx: Ctx, n: number): Promise<{ parley: Side; raw: Side; frame: string }> {
  const { reps, perProcess } = ctx.sizes.fanout
  const parleyServer = await startParley('parley-fanout', { profileDir: ctx.profileDir && path.join(ctx.profileDir, `fanout-${n}`) })
  const rawServer = await startBaseline('raw-sse', 'baselines/raw-sse.ts')
  const all: Child[] = []
  try {
    const sides: Side[] = []
    for (const [kind, server] of [
      ['parley', parleyServer],
      ['raw', rawServer],
    ] as const) {
      const receivers = await startReceivers('sse', n, perProcess)
      all.push(...receivers)
      sides.push({
        kind,
        server,
        receivers,
        tokens: kind === 'parley' ? await login(server.url, 8) : ['none'],
        openMs: 0,
        write: [],
        loop: [],
        e2e: [],
      })
    }
    const [parley, raw] = sides as [Side, Side]
    await parley.server.child.call('record', { on: true })
    // Warm-up: a few streams and events through every path, then close them.
    let seq = 1
    await open(ctx, parley.server, parley.receivers.slice(0, 1), 100, parley.tokens, 0)
    await postOne(parley.server.url, seq++)
    await lastArrival(parley.receivers.slice(0, 1), 100, 5000)
    const frame = lastFrame(parley.server.dataDir)
    await open(ctx, raw.server, raw.receivers.slice(0, 1), 100, raw.tokens, 20)
    for (const side of sides) {
      for (let i = 0; i < 3; i++)
        await once({ ...side, receivers: side.receivers.slice(0, 1), write: [], loop: [], e2e: [] }, 100, seq++, frame)
      await side.receivers[0]!.call('closeAll')
      while ((await side.server.child.call<number>('streams')) > 0) await sleep(20)
    }
    await sleep(300)
    for (const side of sides) side.base = await side.server.child.call<Mem>('mem')
    parley.openMs = await open(ctx, parley.server, parley.receivers, n, parley.tokens, 0)
    raw.openMs = await open(ctx, raw.server, raw.receivers, n, raw.tokens, 20)
    await sleep(1000)
    for (const side of sides) side.mem = await side.server.child.call<Mem>('mem')
    // One unrecorded round at full size (first writes to fresh sockets), then the reps.
    for (const side of sides) await once({ ...side, write: [], loop: [], e2e: [] }, n, seq++, frame)
    for (let i = 0; i < reps; i++) {
      for (const side of sides) {
        await once(side, n, seq++, frame)
        await sleep(150)
      }
    }
    return { parley, raw, frame }
  } finally {
    for (const c of all) c.kill()
    await parleyServer.stop()
    await rawServer.stop()
  }
}

export async function fanout(ctx: Ctx): Promise<Section> {
  const rows: string[][] = []
  const targets = []
  const notes: string[] = []
  for (const n of ctx.sizes.fanout.sizes) {
    ctx.log(`fanout: ${n} streams`)
    const pair = await runPair(ctx, n)
    const per = (x: Side) => ({
      ...x,
      perStream: (x.mem!.rss - x.base!.rss) / n,
      heapPerStream: (x.mem!.heapUsed - x.base!.heapUsed) / n,
    })
    const p = per(pair.parley)
    const raw = per(pair.raw)
    const frame = pair.frame
    const memRatio = p.perStream / raw.perStream
    const writeRatio = median(p.write) / median(raw.write)
    const reps = (xs: number[]) => `${ms(median(xs))} (${xs.map((x) => x.toFixed(1)).join(', ')})`
    for (const [name, x] of [
      [`Parley, ${num(n)} streams`, p],
      [`raw node:http SSE, ${num(n)} streams`, raw],
    ] as const)
      rows.push([
        name,
        kb(x.perStream),
        kb(x.heapPerStream),
        `${(x.openMs / 1000).toFixed(1)} s`,
        reps(x.write),
        ms(median(x.loop)),
        reps(x.e2e),
      ])
    rows.push([
      'Parley ÷ raw',
      ratio(memRatio),
      ratio(p.heapPerStream / raw.heapPerStream),
      ratio(p.openMs / raw.openMs),
      ratio(writeRatio),
      ratio(median(p.loop) / median(raw.loop)),
      ratio(median(p.e2e) / median(raw.e2e)),
    ])
    targets.push(
      {
        name: `memory per idle stream (${num(n)})`,
        target: '≤ 1.3× raw Node SSE',
        value: `${kb(p.perStream)} vs ${kb(raw.perStream)} = ${ratio(memRatio)}`,
        met: memRatio <= 1.3,
      },
      {
        name: `one event to ${num(n)} streams`,
        target: '≤ 1.5× the raw write time',
        value: `${ms(median(p.write))} vs ${ms(median(raw.write))} = ${ratio(writeRatio)} (to the last client: ${ms(median(p.e2e))} vs ${ms(median(raw.e2e))})`,
        met: writeRatio <= 1.5,
      },
    )
    if (n === ctx.sizes.fanout.sizes[0])
      notes.push(
        `The event: one inbound text message (message.created with its conversation), ${num(Buffer.byteLength(frame))} bytes on the wire; the raw server writes the same bytes. Both servers run at once and take turns (${ctx.sizes.fanout.reps} events each, after one unrecorded round).`,
      )
  }
  notes.push(
    "RSS per stream: (RSS with N streams − RSS after warm-up with none) / N, each after a full GC, in the server process; kernel socket buffers are not in RSS. Write time: from the start of the server's loop over its connections (Parley: StreamHub.publish, timed by wrapping it on the instance; raw: a loop of res.write) until every response has been handed to the kernel (Node corks a response on write and flushes it in a nextTick; a tick queued after the loop runs after all of them). The loop alone is shown beside it. To the last client: from the start of that loop to the last client's receipt, clients in separate processes.",
    `The largest size is what the descriptor limit allows (hard limit ${nofileLimits().hard}, one descriptor per stream in the server, room kept for its database and listener).`,
  )
  return {
    title: '3. Fan-out and memory: idle authenticated streams',
    head: [
      'system',
      'RSS per stream',
      'JS heap per stream',
      'time to open all',
      'one event: write time (median; reps)',
      'loop alone (median)',
      'one event: to the last client (median; reps)',
    ],
    rows,
    targets,
    notes,
  }
}
