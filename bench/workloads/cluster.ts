// Issue 17, "Benchmark": ingest and delivery of the real Parley (`node --import tsx
// src/main.ts`, as an operator starts it) in three set-ups —
//   1. one process on SQLite (DATA_DIR);
//   2. one process on PostgreSQL (DATABASE_URL);
//   3. three processes on one PostgreSQL database behind nginx with the upstream of
//      deploy/nginx/parley-several.conf (least_conn, keepalive).
// The same load in each: N webhooks (one signed inbound WhatsApp message each) from C
// closed-loop senders, while S SSE streams (spread evenly over the processes) receive the
// events. Measured: webhooks/s answered 200, the time from each webhook's POST to its
// message.created event on each stream, and exactly-once per stream; as ratios against
// SQLite in the same run, with the CPU each role used. Nothing here asserts on time.
import { availableParallelism } from 'node:os'
import { readFileSync } from 'node:fs'
import { Child, cpuMsOf } from '../lib/proc.ts'
import { Hist, type HistJSON } from '../lib/hist.ts'
import { openPgServer } from '../lib/pg-cluster.ts'
import { login } from '../lib/servers.ts'
import { nginxBinary, startNginx, startParleys } from '../lib/cluster-procs.ts'
import { cpuPressure, ms, num, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

const TITLE = 'Several processes (issue 17): ingest and delivery, 1 process on SQLite, 1 on PostgreSQL, 3 on PostgreSQL behind nginx'

interface Sizes {
  webhooks: number
  concurrency: number
  streams: number
  warm: number
  contacts: number
}

const sizesOf = (quick: boolean): Sizes =>
  quick
    ? { webhooks: 2000, concurrency: 16, streams: 30, warm: 200, contacts: 500 }
    : { webhooks: 10_000, concurrency: 16, streams: 30, warm: 1000, contacts: 2000 }

interface SetupResult {
  name: string
  processes: number
  webhooks: number
  acked: number
  statuses: Record<string, number>
  seconds: number
  answer: Hist
  latency: Hist
  missing: number
  streamsMissing: number
  duplicated: number
  unacked: number
  closed: number
  complete: boolean
  /** CPU while the webhooks were sent and answered, in cores (CPU ms ÷ wall ms). */
  cores: { parley: number; nginx: number; generators: number; machine?: number }
  /** Linux PSI right after the sending: how much other work competed for the cores. */
  pressure: string
}

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

async function runSetup(
  ctx: Ctx,
  o: Sizes,
  name: string,
  tag: string,
  processes: number,
  databaseUrl?: string,
  nginxBin?: string,
): Promise<SetupResult> {
  ctx.log(`cluster: ${name}: starting`)
  const set = await startParleys(tag, processes, databaseUrl)
  const children: Child[] = []
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined
  try {
    if (nginxBin)
      nginx = await startNginx(
        nginxBin,
        set.procs.map((p) => Number(new URL(p.url).port)),
      )
    const entry = nginx?.url ?? set.procs[0]!.url
    // One session, signed in through the entry: on PostgreSQL every process knows it.
    const [token] = await login(entry, 1)
    const sender = await Child.start({ name: `cluster-sender-${tag}`, module: 'lib/cluster-gen.ts' })
    const receivers = await Child.start({ name: `cluster-receivers-${tag}`, module: 'lib/cluster-gen.ts' })
    children.push(sender, receivers)
    // Warm-up before the streams open: the JIT, the pools' connections, the caches.
    await sender.call('send', { url: entry, webhooks: o.warm, concurrency: o.concurrency, prefix: 'w', contacts: o.contacts }, 180_000)
    // Streams straight to the processes, evenly (nginx's least_conn would spread them too,
    // but not verifiably): with three, two thirds of the deliveries cross processes.
    const urls = Array.from({ length: o.streams }, (_, i) => `${set.procs[i % processes]!.url}/stream`)
    await receivers.call('open', { urls, token, webhooks: o.webhooks }, 60_000)
    const pids = set.procs.map((p) => p.pid)
    const cpu = (xs: number[]) => xs.reduce((a, pid) => a + cpuMsOf(pid), 0)
    const nginxPids = nginx?.pids() ?? []
    const genPids = [sender.proc.pid!, receivers.proc.pid!]
    const p0 = cpu(pids)
    const n0 = cpu(nginxPids)
    const g0 = cpu(genPids)
    const m0 = machineStat()
    const w0 = performance.now()
    ctx.log(`cluster: ${name}: ${o.webhooks} webhooks from ${o.concurrency} senders, ${o.streams} streams`)
    const sent = await sender.call<{
      sentAt: Float64Array
      acked: Uint8Array
      ackedN: number
      seconds: number
      answer: HistJSON
      statuses: Record<string, number>
    }>('send', { url: entry, webhooks: o.webhooks, concurrency: o.concurrency, prefix: 'run', contacts: o.contacts }, 600_000)
    const wall = performance.now() - w0
    const m1 = machineStat()
    const cores = {
      parley: (cpu(pids) - p0) / wall,
      nginx: (cpu(nginx?.pids() ?? []) - n0) / wall,
      generators: (cpu(genPids) - g0) / wall,
      machine: m0 && m1 && m1.total > m0.total ? ((m1.busy - m0.busy) / (m1.total - m0.total)) * availableParallelism() : undefined,
    }
    const pressure = cpuPressure()
    const waited = await receivers.call<{ done: boolean }>('wait', { acked: sent.acked, timeoutMs: 60_000 }, 90_000)
    const s = await receivers.call<{
      latency: HistJSON
      missing: number
      streamsMissing: number
      duplicated: number
      unacked: number
      closed: number
    }>('settle', { sentAt: sent.sentAt, acked: sent.acked }, 60_000)
    await receivers.call('closeAll')
    return {
      name,
      processes,
      webhooks: o.webhooks,
      acked: sent.ackedN,
      statuses: sent.statuses,
      seconds: sent.seconds,
      answer: Hist.from(sent.answer),
      latency: Hist.from(s.latency),
      missing: s.missing,
      streamsMissing: s.streamsMissing,
      duplicated: s.duplicated,
      unacked: s.unacked,
      closed: s.closed,
      complete: waited.done,
      cores,
      pressure,
    }
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    await nginx?.stop()
    await set.stop()
  }
}

const checkText = (r: SetupResult) =>
  [
    r.missing ? `**${num(r.missing)} missing in ${r.streamsMissing} streams**` : 'every stream got every message',
    r.duplicated ? `**${num(r.duplicated)} duplicated**` : 'none twice',
    ...(r.unacked ? [`${num(r.unacked)} deliveries of webhooks not answered 200`] : []),
    ...(r.closed ? [`**${r.closed} streams closed**`] : []),
  ].join(', ')

export async function cluster(ctx: Ctx): Promise<Section> {
  const o = sizesOf(ctx.quick)
  const server = await openPgServer(ctx.log)
  if ('skipped' in server) {
    ctx.log(`cluster: skipped: ${server.skipped}`)
    return { title: `${TITLE} — skipped: no PostgreSQL`, head: [], rows: [], targets: [], notes: [`skipped: ${server.skipped}`] }
  }
  const nginxBin = nginxBinary()
  const results: SetupResult[] = []
  try {
    results.push(await runSetup(ctx, o, 'SQLite, 1 process', 'sqlite', 1))
    results.push(await runSetup(ctx, o, 'PostgreSQL, 1 process', 'pg1', 1, await server.createDatabase('cluster1')))
    if (nginxBin)
      results.push(
        await runSetup(ctx, o, 'PostgreSQL, 3 processes behind nginx', 'pg3', 3, await server.createDatabase('cluster3'), nginxBin),
      )
    else ctx.log('cluster: no nginx: the three-process set-up is skipped')
  } finally {
    await server.close()
  }
  const base = results[0]!
  const rate = (r: SetupResult) => r.acked / r.seconds
  const rows = results.map((r) => {
    const isBase = r === base
    return [
      r.name,
      `${num(r.acked)} / ${num(r.webhooks)}`,
      num(rate(r)),
      isBase ? '1.00×' : ratio(rate(r) / rate(base)),
      `${ms(r.answer.pct(50))} / ${ms(r.answer.pct(99))}`,
      `${ms(r.latency.pct(50))} / ${ms(r.latency.pct(99))} / ${ms(r.latency.max)}`,
      isBase ? '1.00×' : ratio(r.latency.pct(50) / base.latency.pct(50)),
      checkText(r),
      `${r.cores.parley.toFixed(2)} / ${r.processes > 1 ? r.cores.nginx.toFixed(2) : '–'} / ${r.cores.generators.toFixed(2)} / ${
        r.cores.machine === undefined ? '?' : r.cores.machine.toFixed(2)
      }`,
    ]
  })
  const trouble = results.filter((r) => r.acked !== r.webhooks || r.missing || r.duplicated || r.closed || !r.complete)
  const bounds = results.map((r) => {
    const other = r.cores.machine === undefined ? undefined : r.cores.machine - r.cores.parley - r.cores.nginx - r.cores.generators
    return `${r.name}: Parley ${r.cores.parley.toFixed(2)} cores${r.processes > 1 ? ` over ${r.processes} processes` : ''}, the load generators ${r.cores.generators.toFixed(2)}${
      other === undefined
        ? ''
        : `, everything else (${r.name.startsWith('PostgreSQL') ? 'PostgreSQL’s backends and WAL writer, ' : ''}other work on the machine) ${other.toFixed(2)}`
    } of ${availableParallelism()}${r.pressure ? ` (${r.pressure})` : ''}`
  })
  return {
    title: TITLE,
    head: [
      'set-up',
      'webhooks answered 200',
      'webhooks/s',
      'webhooks/s ÷ SQLite',
      'answer p50 / p99',
      `POST → event on each of ${o.streams} streams p50 / p99 / max`,
      'p50 ÷ SQLite',
      'exactly-once check',
      'cores used: Parley / nginx / generators / whole machine',
    ],
    rows,
    targets: [],
    notes: [
      ...trouble.map(
        (r) =>
          `**${r.name}: ${r.acked}/${r.webhooks} answered 200 (statuses ${JSON.stringify(r.statuses)}); ${checkText(r)}${r.complete ? '' : '; the streams had not received everything 60 s after the last answer'}**`,
      ),
      ...(nginxBin ? [] : ['**The three-process set-up was skipped: no nginx binary.**']),
      `The load, the same in each set-up: ${num(o.webhooks)} signed WhatsApp webhooks (one inbound text each, from ${num(o.contacts)} customers), posted by ${o.concurrency} closed-loop senders (each sends its next webhook when the last is answered) after an unrecorded warm-up of ${num(o.warm)}; webhooks/s is the 200s over the sending time. ${o.streams} SSE streams of one signed-in admin session were open before the first webhook, spread evenly over the processes (10 per process with three, straight to each process, so two thirds of deliveries cross processes); each counts the message.created event of every webhook: "every stream got every message" means each of the ${o.streams} streams got each 200-answered webhook's message exactly once.`,
      'The processes are the real Parley started as an operator starts it (`node --import tsx src/main.ts`, production logger at warn, the same secrets in every process, own PARLEY_NODE_ID, PORT and DATA_DIR, one MEDIA_DIR); each set-up starts fresh (a new DATA_DIR, or a new database on the PostgreSQL server). With three processes the webhooks go through nginx with the upstream of deploy/nginx/parley-several.conf (least_conn, keepalive 32) — a hop the one-process set-ups do not have; the one-process set-ups are reached directly.',
      "Latency: from the moment a sender posted the webhook to the moment a stream's socket delivered its event, on CLOCK_MONOTONIC (shared by the processes); it includes the ingest (group commit, each webhook answered after its commit), on PostgreSQL the tailer that publishes committed events (its own process at once, the others on a NOTIFY hint, a 250 ms poll as fallback), and the write to each stream.",
      `What bounds each, while the webhooks were sent and answered (CPU in cores, CPU time ÷ wall time): ${bounds.join('; ')}. All set-ups share the machine's ${availableParallelism()} cores: three Parley processes and PostgreSQL compete for the same cores as one process, so the third set-up adds processes, a proxy hop and cross-process publishing (NOTIFY, a SELECT per tailer) without adding CPU; more processes pay where there are more cores or machines. When Parley's own share is far below the cores while the machine is full, the set-up waited for CPU held by others (the PostgreSQL server, other work): read the ratios as this machine's, not the design's.`,
      'What bounds ingest on each database: SQLite commits one group of webhooks at a time on one connection, one WAL fsync per group (synchronous=FULL). On PostgreSQL every writing transaction holds the one event counter row (event_seq, scale-out.md §1) from its UPDATE until its COMMIT is flushed: commits of all processes run one at a time through that row, so three processes do not commit faster than one — each process groups the webhooks that arrive together into one transaction (src/domain/inbox/ingest-queue.ts), which is what divides that cost; the pglog workload measures the serialized section itself.',
      `PostgreSQL: ${server.describe}. ${cpuPressure() || 'CPU pressure unknown'} (at the end).`,
    ],
  }
}
