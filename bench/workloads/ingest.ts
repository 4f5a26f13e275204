// 1. Durable webhook ingest at increasing concurrency, side by side with the HTTP
// stack's limit (bare Fastify POST), the disk's limit (bare SQLite commits) and the
// socket.io peer (one FULL commit per webhook).
import path from 'node:path'
import { Child, cpuMsOf } from '../lib/proc.ts'
import { Hist, type HistJSON } from '../lib/hist.ts'
import { startBaseline, startParley, startPeer, type Running } from '../lib/servers.ts'
import { OUTBOUND_POOL, customer, ingestOutbound } from '../lib/wa.ts'
import { ms, num, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

/** SQLite time inside Parley during one cell (bench/lib/parley-server.ts). */
interface SqlTime {
  statements: number
  statementUs: number
  commits: number
  commitUs: number
}

interface CannonResult {
  rps: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  seconds: number
  hist: HistJSON
}

export async function ingest(ctx: Ctx): Promise<Section> {
  const { levels, seconds, sqliteSeconds } = ctx.sizes.ingest
  const targets = Array.from({ length: OUTBOUND_POOL }, (_, i) => ({ wamid: ingestOutbound(i), to: customer(i % 5000) }))

  // The disk first, alone: nothing else is running yet.
  ctx.log('ingest: bare SQLite commits (synchronous=FULL)')
  const sq = await Child.start({ name: 'sqlite-commits', module: 'baselines/sqlite-commits.ts' })
  const file = path.join(ctx.workDir, 'sqlite-commits.db')
  const one = await sq.call<{ commitsPerSec: number; rowsPerSec: number }>('run', { file, seconds: sqliteSeconds, rowsPerCommit: 1 })
  const many = await sq.call<{ commitsPerSec: number; rowsPerSec: number }>('run', { file, seconds: sqliteSeconds, rowsPerCommit: 50 })
  await sq.stop()

  const bare = await startBaseline('bare-fastify', 'baselines/bare-fastify.ts')
  const parley = await startParley('parley-ingest', {
    env: { BENCH_OBSERVE_SQL: '1' },
    profileDir: ctx.profileDir && path.join(ctx.profileDir, 'ingest'),
  })
  const peer = await startPeer()
  const cannon = await Child.start({ name: 'autocannon', module: 'gen/cannon.ts' })
  const systems: Running[] = [bare, parley, peer]
  const results = new Map<string, Array<{ c: number; r: CannonResult; events?: number; cpuPerReq: number; sql?: SqlTime }>>()
  try {
    await parley.child.call('seedOutbound', { targets })
    await peer.child.call('seedOutbound', { targets })
    for (const s of systems) {
      results.set(s.name, [])
      // Warm-up: JIT (a cold Parley runs at a third of its warm rate), SQLite page cache.
      await cannon.call('run', { url: s.url, connections: 32, seconds: ctx.sizes.ingest.warmSeconds, tag: `warm${s.name}` }, 60_000)
    }
    for (const c of levels) {
      for (const s of systems) {
        ctx.log(`ingest: ${s.name} at ${c} connections`)
        const before = s === parley ? await parley.child.call<{ head: number }>('head') : undefined
        if (s === parley) await parley.child.call('sql')
        const cpu0 = cpuMsOf(s.child.proc.pid)
        const r = await cannon.call<CannonResult>('run', { url: s.url, connections: c, seconds, tag: `c${c}` }, (seconds + 60) * 1000)
        const cpuPerReq = (cpuMsOf(s.child.proc.pid) - cpu0) / Math.max(1, r.ok + r.non2xx)
        const after = s === parley ? await parley.child.call<{ head: number }>('head') : undefined
        const sql = s === parley ? await parley.child.call<SqlTime>('sql') : undefined
        results.get(s.name)!.push({ c, r, cpuPerReq, sql, events: before && after ? (after.head - before.head) / r.seconds : undefined })
      }
    }
  } finally {
    await cannon.stop()
    for (const s of systems) await s.stop()
  }

  const rows: string[][] = []
  let peakBare = 0
  let peakParley = 0
  let peakPeer = 0
  let worstMetaP50 = 0
  let worstOver1s = 0
  for (let i = 0; i < levels.length; i++) {
    const bx = results.get(bare.name)![i]!
    const b = bx.r
    const p = results.get(parley.name)![i]!
    const qx = results.get(peer.name)![i]!
    const q = qx.r
    const ph = Hist.from(p.r.hist)
    const qh = Hist.from(q.hist)
    const bh = Hist.from(b.hist)
    peakBare = Math.max(peakBare, b.rps)
    peakParley = Math.max(peakParley, p.r.rps)
    peakPeer = Math.max(peakPeer, q.rps)
    worstMetaP50 = Math.max(worstMetaP50, ph.pct(50))
    worstOver1s = Math.max(worstOver1s, 100 - percentBelow(ph, 1000))
    const errs = (r: CannonResult) => r.non2xx + r.errors + r.timeouts
    rows.push([
      String(levels[i]),
      `${num(b.rps)} (${ms(bh.pct(50))} / ${ms(bh.pct(99))})`,
      `${num(p.r.rps)} (${ms(ph.pct(50))} / ${ms(ph.pct(99))})`,
      p.events === undefined ? '–' : num(p.events),
      ratio(p.r.rps / b.rps),
      `${num(q.rps)} (${ms(qh.pct(50))} / ${ms(qh.pct(99))})`,
      ratio(p.r.rps / q.rps),
      `${(bx.cpuPerReq * 1000).toFixed(0)} / ${(p.cpuPerReq * 1000).toFixed(0)} / ${(qx.cpuPerReq * 1000).toFixed(0)} µs`,
      `${errs(b)} / ${errs(p.r)} / ${errs(q)}`,
    ])
  }
  // What bounds the rate: SQLite's own time per webhook at Parley's peak, on its one
  // thread (better-sqlite3 is synchronous: statements and the COMMIT's fsync hold the
  // event loop). Its inverse is the rate SQLite alone would allow, before any HTTP.
  const peakCell = results.get(parley.name)!.reduce((a, b) => (b.r.rps > a.r.rps ? b : a))
  const bound = boundOf(peakCell)
  return {
    title: '1. Durable webhook ingest (signed, mixed: 55% one message, 25% one status, 10% five messages, 10% ten statuses)',
    head: [
      'connections',
      'bare Fastify POST req/s (p50 / p99)',
      'Parley webhooks/s (p50 / p99)',
      'Parley events/s',
      'Parley ÷ bare',
      'socket.io peer webhooks/s (p50 / p99)',
      'Parley ÷ peer',
      'server CPU per request bare / Parley / peer',
      'errors bare / Parley / peer',
    ],
    rows,
    targets: [
      {
        name: 'ingest rate, FULL sync, 200 after commit',
        target: '≥ 60% of the bare Fastify POST rate (peak vs peak)',
        value: `${num(peakParley)} vs ${num(peakBare)} = ${((100 * peakParley) / peakBare).toFixed(0)}%`,
        met: peakParley / peakBare >= 0.6,
      },
      {
        name: "Meta's latency standard for the endpoint",
        target: 'median ≤ 250 ms, < 1% over 1 s (at every concurrency)',
        value: `worst median ${ms(worstMetaP50)}, worst share over 1 s ${worstOver1s.toFixed(2)}%`,
        met: worstMetaP50 <= 250 && worstOver1s < 1,
      },
    ],
    notes: [
      `Disk's limit, bare better-sqlite3 with the same pragmas: **${num(one.commitsPerSec)} commits/s** with one row per commit; ${num(many.rowsPerSec)} rows/s (${num(many.commitsPerSec)} commits/s) with 50 rows per commit. Parley's peak of ${num(peakParley)} webhooks/s is ${ratio(peakParley / one.commitsPerSec)} the one-commit-per-webhook ceiling; the peer's ${num(peakPeer)} sits at it.`,
      `Load: autocannon in its own process, every payload unique (new wamids), signed over Meta's escaped bytes; ${seconds} s per cell, systems interleaved per concurrency level. Latencies are per request (autocannon response times), in ms.`,
      ...(bound
        ? [
            `What bounds it, at Parley's peak (${peakCell.c} connections, ${num(peakCell.r.rps)} webhooks/s): ${(peakCell.cpuPerReq * 1000).toFixed(0)} µs of server CPU per webhook, of which SQLite statements ${bound.statementUs.toFixed(0)} µs (${bound.statementsPer.toFixed(1)} statements of ${bound.perStatementUs.toFixed(1)} µs: the contact, conversation, message and event rows with their indexes) and the COMMIT ${bound.commitUs.toFixed(0)} µs (${bound.jobsPerCommit.toFixed(0)} webhooks share one, ${(bound.commitMs).toFixed(1)} ms each with its fsync, on the event loop). SQLite alone therefore caps one thread at **${num(bound.ceiling)} webhooks/s** = ${((100 * bound.ceiling) / peakBare).toFixed(0)}% of the bare POST rate, before any HTTP, signature or JSON work; 60% of bare would need ≤ ${(1e6 / (0.6 * peakBare)).toFixed(0)} µs per webhook in all.`,
          ]
        : []),
      'Statuses point at 20,000 seeded outbound messages (repeats become no-ops, as Meta redeliveries do) and one in eleven at ids never sent (kept as pending statuses).',
    ],
  }
}

function boundOf(cell: { r: CannonResult; sql?: SqlTime }) {
  const q = cell.sql
  const n = cell.r.ok
  if (!q || n === 0 || q.commits === 0) return undefined
  const statementUs = q.statementUs / n
  const commitUs = q.commitUs / n
  return {
    statementUs,
    commitUs,
    statementsPer: q.statements / n,
    perStatementUs: q.statementUs / Math.max(1, q.statements),
    jobsPerCommit: n / q.commits,
    commitMs: q.commitUs / q.commits / 1000,
    ceiling: 1e6 / (statementUs + commitUs),
  }
}

function percentBelow(h: Hist, x: number): number {
  if (h.n === 0) return 100
  // The histogram's buckets above 100 ms are 1 ms wide: counting via percentiles is exact enough.
  let lo = 0
  let hi = 100
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2
    if (h.pct(mid) <= x) lo = mid
    else hi = mid
  }
  return lo
}
