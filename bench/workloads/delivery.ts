// 2. End-to-end delivery: N authenticated streams open while webhooks arrive at a
// fixed rate; time from each webhook's request to each client's receipt of each of
// its events, and exactly-once accounting for every client. The same run against the
// socket.io peer is part of workload 6 (runDelivery is shared).
import path from 'node:path'
import { availableParallelism } from 'node:os'
import { readFileSync } from 'node:fs'
import { Child, cpuMsOf, sleep, type CpuUse } from '../lib/proc.ts'
import { Hist, type HistJSON } from '../lib/hist.ts'
import { cursorOf, login, split, startBaseline, startParley, startPeer, startReceivers, type Running } from '../lib/servers.ts'
import { deliveryPlan, planOutboundTargets } from '../lib/wa.ts'
import { peerToken } from '../lib/peer-token.ts'
import { emptyAccounting, mergeAccounting, type Accounting } from '../lib/tracker.ts'
import { ms, num, pcts, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

export interface DeliveryResult {
  system: string
  streams: number
  rate: number
  webhooks: number
  items: number
  acked: number
  unanswered: number
  sendSeconds: number
  latency: Hist
  ack: Hist
  late: Hist
  acc: Accounting
  /** events that reached every client, per second of sending */
  deliveredPerSec: number
  cpu: Record<string, CpuUse | undefined>
  idChecked: boolean
  /** streams the server cut (a slow reader) that came back with their cursor */
  reconnects: number
  /** clients whose connection was gone at the end */
  closed: number
  loop?: LoopStats
  /** per webhook: ms from due to answer */
  answerMs: number[]
  /** server CPU (user + system) from the first webhook until the sender was done */
  serverCpuMs: number
  /** Over the same window: every process's CPU and the wall time, i.e. the machine's load. */
  window: { wallMs: number; serverMs: number; receiversMs: number; senderMs: number; machineBusy?: number }
  /** Issue 14 (`o.team`): the event log's rows before and after, and what the typing agents did. */
  team?: {
    rowsBefore: number
    rowsAfter: number
    presenceRows: number
    typing?: { sent: number; status204: number; other: number; errors: number; answerP50: number; answerP99: number }
    /** presence frames the streams received */
    frames: number
  }
}

export interface LoopStats {
  commits: number
  jobsPerCommit: number
  commitP50: number
  commitP99: number
  commitMax: number
  commitTotalMs: number
  delayP99: number
  delayMax: number
  fsyncP50?: number
  fsyncP99?: number
  fsyncMax?: number
  fanoutP50?: number
  fanoutP99?: number
  fanoutMax?: number
}

export const loopText = (r: DeliveryResult) =>
  r.loop
    ? `${num(r.loop.commits)} group commits of ${r.loop.jobsPerCommit.toFixed(1)} webhooks on average; each held the event loop ${ms(r.loop.commitP50)} (p50) / ${ms(r.loop.commitP99)} (p99) / ${ms(r.loop.commitMax)} (max), ${(r.loop.commitTotalMs / 1000).toFixed(1)} s in all; event-loop delay p99 ${ms(r.loop.delayP99)}, max ${ms(r.loop.delayMax)}${r.loop.fsyncP99 !== undefined ? `; the COMMIT statement alone (its fsync, synchronous=FULL) took ${ms(r.loop.fsyncP50!)} (p50) / ${ms(r.loop.fsyncP99)} (p99) / ${ms(r.loop.fsyncMax!)} (max), a floor under any webhook → client time` : ''}${r.loop.fanoutP99 !== undefined ? `; writing one commit's events to all ${num(r.streams)} streams (the loop until the bytes are with the kernel) took ${ms(r.loop.fanoutP50!)} (p50) / ${ms(r.loop.fanoutP99)} (p99) / ${ms(r.loop.fanoutMax!)} (max)` : ''}`
    : ''

export async function runDelivery(
  ctx: Ctx,
  system: 'parley' | 'peer' | 'raw',
  o: {
    streams: number
    rate: number
    seconds: number
    perProcess: number
    warmWebhooks: number
    /**
     * Issue 14 (Parley only): the streams are `agents` agents' own, members of the webhooks'
     * channel, instead of the admin's; with `typingEveryMs`, each agent also sends a typing
     * signal that often in a conversation of the channel while the webhooks arrive.
     */
    team?: { agents: number; typingEveryMs?: number }
  },
): Promise<DeliveryResult> {
  const webhooks = Math.round(o.rate * o.seconds)
  const plan = deliveryPlan(webhooks)
  const items = plan.items.length
  const server: Running =
    system === 'parley'
      ? await startParley('parley-delivery', {
          env: { BENCH_OBSERVE_SQL: '1' },
          profileDir: ctx.profileDir && path.join(ctx.profileDir, 'delivery'),
        })
      : system === 'raw'
        ? await startBaseline('raw-sse', 'baselines/raw-sse.ts')
        : await startPeer()
  const children: Child[] = []
  const cpu: Record<string, CpuUse | undefined> = {}
  try {
    if (system !== 'raw') await server.child.call('seedOutbound', { targets: planOutboundTargets(plan) }, 120_000)
    // Warm-up, before any stream opens and before the start cursor: a server that has
    // been running is warm, and a cold JIT would build a backlog the run never clears.
    const sender = await Child.start({ name: 'sender', module: 'gen/sender.ts' })
    children.push(sender)
    await sender.call('burst', { url: server.url, webhooks: o.warmWebhooks, perWebhook: 1, concurrency: 16, tag: 'warm' }, 120_000)
    const tokens = system === 'parley' ? await login(server.url, 4) : system === 'raw' ? ['none'] : [1, 2, 3, 4].map((u) => peerToken(u, 1))
    const team = system === 'parley' && o.team ? await agentsOf(server, tokens[0]!, o.team.agents) : undefined
    const start = system === 'parley' ? await cursorOf(server.url, tokens[0]!) : undefined
    const rowsBefore = team ? (await server.child.call<{ rows: number }>('eventRows')).rows : 0
    const receivers = await startReceivers(system === 'peer' ? 'sio' : 'sse', o.streams, o.perProcess)
    children.push(...receivers)
    ctx.log(`delivery/${system}: opening ${o.streams} streams`)
    const opened = await Promise.all(
      receivers.map((r, i) =>
        r.call<{ opened: number; failed: number; firstError: string }>(
          'open',
          {
            url: system === 'peer' ? server.url : `${server.url}/stream`,
            tokens: team ? team.map((a) => a.token) : tokens,
            count: split(o.streams, receivers.length, i),
            lastEventId: start?.cursor,
            localAddress: `127.0.0.${20 + i}`,
            mode: 'track',
            capacity: items + 64,
          },
          120_000,
        ),
      ),
    )
    const failed = opened.reduce((a, r) => a + r.failed, 0)
    if (failed) throw new Error(`${failed} streams failed to open: ${opened.find((r) => r.failed)?.firstError}`)
    const serverStreams = await server.child.call<number>('streams')
    if (serverStreams !== o.streams) throw new Error(`server holds ${serverStreams} streams, expected ${o.streams}`)

    if (system === 'parley') await server.child.call('loop')
    const cpu0 = cpuMsOf(server.child.proc.pid)
    const receiversCpu = () => receivers.reduce((a, r) => a + cpuMsOf(r.proc.pid), 0)
    const rcv0 = receiversCpu()
    const snd0 = cpuMsOf(sender.proc.pid)
    const wall0 = performance.now()
    const stat0 = machineStat()
    let typer: Child | undefined
    if (team && o.team?.typingEveryMs) {
      typer = await Child.start({ name: 'typing', module: 'gen/presence.ts' })
      children.push(typer)
      await typer.call('start', { url: server.url, agents: team, everyMs: o.team.typingEveryMs })
      ctx.log(`delivery/${system}: ${team.length} agents typing every ${o.team.typingEveryMs} ms`)
    }
    ctx.log(`delivery/${system}: ${webhooks} webhooks at ${o.rate}/s`)
    const sent = await sender.call<{
      due: Float64Array
      acked: Uint8Array
      answeredAt: Float64Array
      ackedN: number
      sendSeconds: number
      ack: HistJSON
      late: HistJSON
      unanswered: number
    }>('fixedRate', { url: server.url, rate: o.rate, webhooks, drainMs: 30_000 }, (o.seconds + 90) * 1000)
    const typing = typer ? await typer.call<NonNullable<DeliveryResult['team']>['typing']>('stop') : undefined
    const loop = system === 'parley' ? await server.child.call<LoopStats>('loop') : undefined
    const serverCpuMs = cpuMsOf(server.child.proc.pid) - cpu0
    const window = {
      wallMs: performance.now() - wall0,
      serverMs: serverCpuMs,
      receiversMs: receiversCpu() - rcv0,
      senderMs: cpuMsOf(sender.proc.pid) - snd0,
      machineBusy: busyBetween(stat0, machineStat()),
    }
    // Let the server finish what it took (answered or not) before reading where the log ends.
    let end = system === 'parley' ? await cursorOf(server.url, tokens[0]!) : undefined
    for (let i = 0; end && i < 120; i++) {
      await sleep(500)
      const next = await cursorOf(server.url, tokens[0]!)
      if (next.id === end.id) break
      end = next
    }
    let expectedItems = 0
    for (let k = 0; k < webhooks; k++) if (sent.acked[k]) expectedItems += plan.start[k + 1]! - plan.start[k]!
    await Promise.all(receivers.map((r) => r.call('wait', { expected: expectedItems, timeoutMs: ctx.quick ? 15_000 : 60_000 }, 90_000)))
    const settled = await Promise.all(
      receivers.map((r) =>
        r.call<{ hist: HistJSON; acc: Accounting; reconnects?: number; closed: number }>(
          'settle',
          {
            webhooks,
            sendMs: sent.due,
            acked: sent.acked,
            // The first second warms the JIT and the connections: counted for loss, not latency.
            skipBelow: Math.min(o.rate, Math.floor(webhooks / 4)),
            // An agent's stream carries its channel's events only: no contiguous id range to check.
            idRange: start && end && !team ? { from: start.id, to: end.id } : undefined,
          },
          120_000,
        ),
      ),
    )
    const latency = new Hist()
    let acc = emptyAccounting()
    let reconnects = 0
    let closed = 0
    for (const s of settled) {
      latency.merge(s.hist)
      acc = mergeAccounting(acc, s.acc)
      reconnects += s.reconnects ?? 0
      closed += s.closed
    }
    let teamOut: DeliveryResult['team']
    if (team) {
      const rows = await server.child.call<{ rows: number; presence: number }>('eventRows')
      const counted = await Promise.all(receivers.map((r) => r.call<{ presence: number }>('counts')))
      teamOut = {
        rowsBefore,
        rowsAfter: rows.rows,
        presenceRows: rows.presence,
        ...(typing ? { typing } : {}),
        frames: counted.reduce((a, c) => a + c.presence, 0),
      }
    }
    cpu.sender = await sender.stop()
    for (const [i, r] of receivers.entries()) cpu[`receivers ${i}`] = await r.stop()
    return {
      ...(teamOut ? { team: teamOut } : {}),
      serverCpuMs,
      window,
      answerMs: Array.from(sent.due, (d, k) => sent.answeredAt[k]! - d),
      system,
      streams: o.streams,
      rate: o.rate,
      webhooks,
      items,
      acked: sent.ackedN,
      unanswered: sent.unanswered,
      sendSeconds: sent.sendSeconds,
      latency,
      ack: Hist.from(sent.ack),
      late: Hist.from(sent.late),
      acc,
      // From the first webhook's due time to the last event's arrival at any client.
      deliveredPerSec: expectedItems / Math.max((acc.lastMs - sent.due[0]!) / 1000, sent.sendSeconds),
      cpu,
      idChecked: Boolean(start && end && !team),
      reconnects,
      closed,
      loop,
    }
  } finally {
    for (const c of children) c.kill()
    cpu.server = await server.stop()
  }
}

/**
 * Issue 14: `n` agents of the webhooks' channel, each with a session (the server's `team`
 * command, no login per agent), and a conversation of the channel each may type in.
 */
async function agentsOf(server: Running, adminToken: string, n: number): Promise<Array<{ token: string; conversationId: number }>> {
  const get = async <T>(p: string) => {
    const res = await fetch(`${server.url}${p}`, { headers: { authorization: `Bearer ${adminToken}` } })
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`)
    return (await res.json()) as T
  }
  const { channels } = await get<{ channels: Array<{ id: number }> }>('/api/channels')
  const { conversations } = await get<{ conversations: Array<{ id: number }> }>('/api/conversations?limit=200')
  if (conversations.length === 0) throw new Error('no conversation to type in (the warm-up made none)')
  const agents = await server.child.call<Array<{ token: string }>>('team', { users: n, channelIds: [channels[0]!.id] })
  return agents.map((a, i) => ({ token: a.token, conversationId: conversations[i % conversations.length]!.id }))
}

export const lossText = (r: DeliveryResult) => {
  const a = r.acc
  const parts = [
    `${a.missing} missing in ${a.clientsMissing} clients`,
    `${a.duplicated} duplicated`,
    ...(a.resets ? [`${a.resets} resets`] : []),
    ...(a.foreign ? [`${a.foreign} foreign`] : []),
    ...(r.idChecked ? [`${a.idRangeWrong} clients with a wrong id sequence`] : []),
    ...(r.reconnects ? [`${r.reconnects} reconnects after a cut`] : []),
    ...(r.closed ? [`${r.closed} clients disconnected at the end`] : []),
  ]
  return parts.join(', ')
}
export const lossFree = (r: DeliveryResult) =>
  r.acc.missing === 0 && r.acc.duplicated === 0 && r.acc.resets === 0 && r.acc.idRangeWrong === 0 && r.acked === r.webhooks

/** Busy and total jiffies of the whole machine, from /proc/stat (undefined elsewhere). */
function machineStat(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const idle = (f[3] ?? 0) + (f[4] ?? 0)
    const total = f.reduce((a, b) => a + b, 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}
function busyBetween(a: ReturnType<typeof machineStat>, b: ReturnType<typeof machineStat>): number | undefined {
  return a && b && b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : undefined
}

/** How much of the machine the run asked for while the webhooks were sent and answered. */
export const demandText = (r: DeliveryResult) => {
  const w = r.window
  const cores = (x: number) => (x / w.wallMs).toFixed(2)
  const all = w.serverMs + w.receiversMs + w.senderMs
  return `What bounds it: while the webhooks were sent and answered (${(w.wallMs / 1000).toFixed(1)} s), the processes used ${cores(all)} cores of the machine's ${availableParallelism()} — server ${cores(w.serverMs)}, the ${num(r.streams)} receiving clients ${cores(w.receiversMs)}, the sender ${cores(w.senderMs)}. Every event is written to ${num(r.streams)} sockets and parsed by ${num(r.streams)} clients on the same cores; above about ${availableParallelism()} cores of demand, latency is mostly time spent waiting for a CPU. The machine as a whole (other work included) was ${w.machineBusy === undefined ? '?' : `${(100 * w.machineBusy).toFixed(0)}%`} busy.`
}

export const cpuText = (r: DeliveryResult) =>
  Object.entries(r.cpu)
    .map(([k, v]) => `${k} ${v ? ((v.userMs + v.systemMs) / 1000).toFixed(1) : '?'} s`)
    .join(', ')

export function deliveryRow(r: DeliveryResult): string[] {
  return [
    r.system === 'parley' ? 'Parley (SSE)' : r.system === 'raw' ? 'raw node:http SSE, nothing stored (floor)' : 'socket.io peer',
    `${r.streams} × ${r.rate}/s × ${(r.webhooks / r.rate).toFixed(0)} s`,
    `${num(r.acked)} / ${num(r.webhooks)}${r.unanswered ? ` (${num(r.unanswered)} unanswered 30 s after the last was sent)` : ''}`,
    pcts(r.latency),
    r.ack.n ? `${ms(r.ack.pct(50))} / ${ms(r.ack.pct(99))}` : '–',
    num(r.deliveredPerSec),
    lossText(r),
  ]
}

export const DELIVERY_HEAD = [
  'system',
  'streams × webhooks/s × s',
  'webhooks answered 200',
  'webhook → client p50 / p99 / max',
  'webhook answer p50 / p99',
  'events/s to every client',
  'exactly-once check',
]

let parleyResult: DeliveryResult | undefined
/** The Parley run of this workload, for workload 6 to compare against. */
export const lastParleyDelivery = () => parleyResult

export async function delivery(ctx: Ctx): Promise<Section> {
  const o = ctx.sizes.delivery
  const r = await runDelivery(ctx, 'parley', o)
  parleyResult = r
  // The same streams at lower rates: what fan-out costs when ingest is not the bound,
  // down to a rate where the machine is mostly idle (the floor of webhook → client).
  const lows: DeliveryResult[] = []
  for (const rate of o.lowRates ?? []) lows.push(await runDelivery(ctx, 'parley', { ...o, rate, seconds: o.lowSeconds ?? 8 }))
  // The floor at the target's rate: the same sender, streams and receivers against a
  // server that only writes each webhook's frames to every stream and answers.
  const raw = await runDelivery(ctx, 'raw', o)
  return {
    title: `2. End-to-end delivery: ${o.streams} authenticated streams, webhooks at ${o.rate}/s`,
    head: DELIVERY_HEAD,
    rows: [deliveryRow(r), ...lows.map(deliveryRow), deliveryRow(raw)],
    targets: [
      {
        name: 'delivery latency',
        target: `p99 ≤ 20 ms at ${o.rate} webhooks/s with ${o.streams} streams`,
        value: `p99 ${ms(r.latency.pct(99))} (p50 ${ms(r.latency.pct(50))}, max ${ms(r.latency.max)})`,
        met: r.latency.pct(99) <= 20,
      },
      {
        name: 'zero events lost',
        target: 'every client gets every event id exactly once',
        value: lossText(r),
        met: lossFree(r),
      },
    ],
    notes: [
      `${num(r.items)} events from ${num(r.webhooks)} webhooks (65% one message, 20% one status, 15% batched), sent open-loop at fixed times by a separate process; latency is measured from the time each webhook was due (so a late sender counts against the server: sender lateness p99 ${ms(r.late.pct(99))}) to the moment a client's socket delivered the bytes, on the machine-wide monotonic clock. The first second is warm-up (checked for loss, not timed).`,
      'Every client opened the stream with the cursor taken before the first webhook; the check is per client: each plan item exactly once, and SSE ids strictly increasing covering exactly the ids committed in the run. A client the server cuts for falling behind (over 1 MiB unsent) reconnects after 50–150 ms with its last id, as EventSource does, and must still end with every event exactly once.',
      `CPU used: ${cpuText(r)}; the server used ${(r.serverCpuMs / 1000).toFixed(1)} s while the webhooks were sent and answered (${(r.serverCpuMs / r.acked).toFixed(2)} ms per webhook, ${((1000 * r.serverCpuMs) / (r.acked * r.streams)).toFixed(2)} µs per webhook per stream).`,
      demandText(r),
      `Inside the server during the sending: ${loopText(r)} (a commit's time includes its SQL, the COMMIT with its fsync, and the fan-out loop).`,
      `The floor, at ${r.rate}/s with the same sender, ${num(r.streams)} streams and receivers: a raw node:http server that checks no signature, stores nothing and writes each message or status as one frame of Parley's size to every stream before answering (the webhooks of one event-loop turn in one write per stream, as Parley's group commit batches them). p50 / p99 ${ms(raw.latency.pct(50))} / ${ms(raw.latency.pct(99))}; ${lossFree(raw) ? 'nothing lost' : lossText(raw)}; the processes used ${((raw.window.serverMs + raw.window.receiversMs + raw.window.senderMs) / raw.window.wallMs).toFixed(2)} cores (server ${(raw.window.serverMs / raw.window.wallMs).toFixed(2)}, receivers ${(raw.window.receiversMs / raw.window.wallMs).toFixed(2)}, sender ${(raw.window.senderMs / raw.window.wallMs).toFixed(2)}).`,
      ...lows.map(
        (low) =>
          `At ${low.rate}/s: ${lossFree(low) ? 'nothing lost' : 'EVENTS LOST'}; p99 ${ms(low.latency.pct(99))}; server CPU ${(low.serverCpuMs / low.acked).toFixed(2)} ms per webhook; the processes used ${((low.window.serverMs + low.window.receiversMs + low.window.senderMs) / low.window.wallMs).toFixed(2)} cores (server ${(low.window.serverMs / low.window.wallMs).toFixed(2)}, receivers ${(low.window.receiversMs / low.window.wallMs).toFixed(2)}); ${loopText(low)}.`,
      ),
    ],
  }
}
