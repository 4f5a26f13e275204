// Issue 17: the event log on PostgreSQL against SQLite. The same unit of work (one small
// row and one event) committed by W concurrent writers for S seconds on
//   1. SQLite, one process: EventLog.transact, published by onCommitted;
//   2. PostgreSQL, one process: PgEventLog.transact, published by its tailer (onPublished);
//   3. PostgreSQL, three processes: the writers spread over the three, each event counted
//      as published when the last of the three tailers published it;
//   4. PostgreSQL, one process, group commit: the same unit as a job of the ingest queue
//      (IngestQueue), so the units ready together share one transaction — against 2, the
//      ratio of group commit to one transaction per unit in the same run.
// Cells (system × writers) are interleaved, round after round, so a change in the
// machine's load hits every system alike. Reported: commits/s and publish latency, and
// the ratios against SQLite in the same run. Nothing here asserts on time.
import { rmSync } from 'node:fs'
import path from 'node:path'
import { Child } from '../lib/proc.ts'
import { Hist } from '../lib/hist.ts'
import { openPgServer, type PgServer } from '../lib/pg-cluster.ts'
import { tempDir } from '../lib/servers.ts'
import { cpuPressure, ms, num, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

const TITLE =
  'Event log on PostgreSQL (issue 17): commit rate and publish latency, 1 process on SQLite, 1 and 3 on PostgreSQL, 1 on PostgreSQL with group commit'

interface RunResult {
  commits: number
  errors: number
  firstError?: string
  seconds: number
  /** [id, readyAt, emittedAt, committedAt] for each event this process committed. */
  committed: Float64Array
}

interface System {
  name: string
  nodes: Child[]
}

interface Cell {
  commits: number
  seconds: number
  errors: number
  firstError?: string
  /** commit → published by every process. */
  commitToPub: Hist
  /** The writer ready to write → published by every process: the whole latency. */
  readyToPub: Hist
  /** emit → COMMIT returned: the commit itself, with any wait for the counter row. */
  emitToCommit: Hist
  /** Committed events some process never published (must stay 0). */
  missing: number
}

const newCell = (): Cell => ({
  commits: 0,
  seconds: 0,
  errors: 0,
  commitToPub: new Hist(),
  readyToPub: new Hist(),
  emitToCommit: new Hist(),
  missing: 0,
})

/** W writers spread as evenly as can be over n processes. */
const spread = (w: number, n: number) => Array.from({ length: n }, (_, i) => Math.floor(w / n) + (i < w % n ? 1 : 0))

async function runCell(sys: System, writers: number, seconds: number, into: Cell): Promise<void> {
  const per = spread(writers, sys.nodes.length)
  const runs = await Promise.all(
    sys.nodes.map((n, i) =>
      per[i] ? n.call<RunResult>('run', { writers: per[i], seconds }, (seconds + 60) * 1000) : Promise.resolve(undefined),
    ),
  )
  const byId = new Map<number, [ready: number, emit: number, commit: number]>()
  let maxId = 0
  for (const r of runs) {
    if (!r) continue
    into.commits += r.commits
    into.errors += r.errors
    into.firstError ??= r.firstError
    for (let i = 0; i < r.committed.length; i += 4) {
      const id = r.committed[i]!
      byId.set(id, [r.committed[i + 1]!, r.committed[i + 2]!, r.committed[i + 3]!])
      if (id > maxId) maxId = id
    }
  }
  into.seconds += Math.max(...runs.map((r) => r?.seconds ?? 0))
  if (maxId === 0) return
  // Every process publishes every event, whoever wrote it; wait (with a deadline) until each has.
  const pubs = await Promise.all(
    sys.nodes.map((n) => n.call<{ published: Float64Array }>('published', { id: maxId, timeoutMs: 30_000 }, 40_000)),
  )
  const last = new Map<number, number>()
  const seen = new Map<number, number>()
  for (const p of pubs) {
    for (let i = 0; i < p.published.length; i += 2) {
      const id = p.published[i]!
      if (!byId.has(id)) continue
      last.set(id, Math.max(last.get(id) ?? 0, p.published[i + 1]!))
      seen.set(id, (seen.get(id) ?? 0) + 1)
    }
  }
  for (const [id, [ready, emit, commit]] of byId) {
    into.emitToCommit.record(commit - emit)
    const t = last.get(id)
    if (t === undefined || seen.get(id) !== sys.nodes.length) {
      into.missing++
      continue
    }
    into.commitToPub.record(t - commit)
    into.readyToPub.record(t - ready)
  }
}

export async function pglog(ctx: Ctx): Promise<Section> {
  const { levels, seconds, warmSeconds, rounds } = ctx.sizes.pglog
  const server = await openPgServer(ctx.log)
  if ('skipped' in server) {
    ctx.log(`pglog: skipped: ${server.skipped}`)
    return { title: `${TITLE} — skipped: no PostgreSQL`, head: [], rows: [], targets: [], notes: [`skipped: ${server.skipped}`] }
  }
  const children: Child[] = []
  const start = async (name: string) => {
    const c = await Child.start({ name, module: 'gen/pglog-node.ts' })
    children.push(c)
    return c
  }
  const maxWriters = Math.max(...levels)
  const sqliteDir = tempDir('pglog')
  // Also when the run is cut short (watchdog, Ctrl-C), which skips the finally below.
  const removeSqlite = () => rmSync(sqliteDir, { recursive: true, force: true })
  process.once('exit', removeSqlite)
  let settings: Record<string, string> = {}
  try {
    const sqlite = await start('pglog-sqlite')
    await sqlite.call('open', { kind: 'sqlite', file: path.join(sqliteDir, 'parley.db') })
    const oneUrl = await server.createDatabase('one')
    const threeUrl = await server.createDatabase('three')
    const pg1 = await start('pglog-pg1')
    settings = (await pg1.call<{ settings: Record<string, string> }>('open', { kind: 'pg', url: oneUrl, nodeId: 'bench-pg1', maxWriters }))
      .settings
    const pg3 = await Promise.all(['a', 'b', 'c'].map((x) => start(`pglog-pg3${x}`)))
    // Opened together, as three processes starting at once: one migrates, two wait for it.
    await Promise.all(
      pg3.map((n, i) => n.call('open', { kind: 'pg', url: threeUrl, nodeId: `bench-pg3-${i}`, maxWriters: Math.ceil(maxWriters / 3) })),
    )
    const groupUrl = await server.createDatabase('grouped')
    const pgg = await start('pglog-pgg')
    await pgg.call('open', { kind: 'pg', url: groupUrl, nodeId: 'bench-pgg', maxWriters, group: true })
    const systems: System[] = [
      { name: 'SQLite, 1 process', nodes: [sqlite] },
      { name: 'PostgreSQL, 1 process', nodes: [pg1] },
      { name: 'PostgreSQL, 3 processes', nodes: pg3 },
      { name: 'PostgreSQL, 1 process, group commit', nodes: [pgg] },
    ]
    const cells = new Map<string, Cell>()
    const key = (s: System, w: number) => `${s.name}|${w}`
    // Warm-up, unrecorded: JIT, the pools' connections, the page caches.
    for (const s of systems) await runCell(s, maxWriters, warmSeconds, newCell())
    for (let round = 0; round < rounds; round++) {
      for (const w of levels) {
        for (const s of systems) {
          ctx.log(`pglog: round ${round + 1}/${rounds}, ${s.name}, ${w} writers`)
          if (!cells.has(key(s, w))) cells.set(key(s, w), newCell())
          await runCell(s, w, seconds, cells.get(key(s, w))!)
        }
      }
    }
    return report(ctx, systems, levels, cells, key, server, settings)
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    await server.close()
    process.off('exit', removeSqlite)
    removeSqlite()
  }
}

function report(
  ctx: Ctx,
  systems: System[],
  levels: number[],
  cells: Map<string, Cell>,
  key: (s: System, w: number) => string,
  server: PgServer,
  settings: Record<string, string>,
): Section {
  const { seconds, rounds } = ctx.sizes.pglog
  const rows: string[][] = []
  const trouble: string[] = []
  const pp = (h: Hist) => (h.n ? `${ms(h.pct(50))} / ${ms(h.pct(99))}` : '–')
  for (const w of levels) {
    const base = cells.get(key(systems[0]!, w))!
    const baseRate = base.commits / base.seconds
    for (const s of systems) {
      const c = cells.get(key(s, w))!
      const rate = c.commits / c.seconds
      const isBase = s === systems[0]
      rows.push([
        s.name,
        String(w),
        num(rate),
        isBase ? '1.00×' : ratio(rate / baseRate),
        pp(c.readyToPub),
        isBase ? '1.00×' : ratio(c.readyToPub.pct(50) / base.readyToPub.pct(50)),
        isBase ? '0 (published in the commit’s call)' : pp(c.commitToPub),
        pp(c.emitToCommit),
      ])
      if (c.errors) trouble.push(`${s.name} at ${w} writers: ${c.errors} failed transactions (first: ${c.firstError})`)
      if (c.missing) trouble.push(`${s.name} at ${w} writers: ${c.missing} committed events not published by every process`)
    }
  }
  // Group commit against one transaction per unit, same process count, same run.
  const grouped = levels.map((w) => {
    const one = cells.get(key(systems[1]!, w))!
    const group = cells.get(key(systems[3]!, w))!
    return `${w} writer(s): ${ratio(group.commits / group.seconds / (one.commits / one.seconds))}`
  })
  // The serialized section, uncontended: what one commit costs alone on each database.
  const sqliteSection = cells.get(key(systems[0]!, levels[0]!))!.emitToCommit.pct(50)
  const pgSection = cells.get(key(systems[1]!, levels[0]!))!.emitToCommit.pct(50)
  // A server given by PARLEY_BENCH_PG_URL may be a test cluster without fsync: say so.
  const weaker = [
    settings.fsync === 'off' ? 'fsync=off' : '',
    settings.synchronous_commit && !['on', 'remote_write', 'remote_apply'].includes(settings.synchronous_commit)
      ? `synchronous_commit=${settings.synchronous_commit}`
      : '',
  ]
    .filter(Boolean)
    .join(' and ')
  const pgSettings = ['server_version', 'fsync', 'synchronous_commit', 'wal_sync_method']
    .filter((k) => settings[k] !== undefined)
    .map((k) => `${k}=${settings[k]}`)
    .join(', ')
  return {
    title: TITLE,
    head: [
      'system',
      'writers',
      'commits/s',
      'commits/s ÷ SQLite',
      'ready → published by every process p50 / p99',
      'ready → published p50 ÷ SQLite',
      'commit → published by every process p50 / p99',
      'emit → commit p50 / p99',
    ],
    rows,
    targets: [],
    notes: [
      ...(weaker
        ? [
            `**Not the same durability: the PostgreSQL server runs with ${weaker}; SQLite commits with synchronous=FULL. The ratios flatter PostgreSQL.**`,
          ]
        : []),
      ...trouble.map((t) => `**${t}**`),
      `Each commit is one unit of work (src/store/unit.ts): an INSERT of a raw_webhooks row (a ~250-byte webhook body) and one message.created event, in one transaction — on SQLite by EventLog.transact running the unit with runSync, on PostgreSQL by PgEventLog.transact. One unit per commit in the first three systems, no group commit: these are per-transaction costs, which group commit (many webhooks per transaction, the fourth) divides. Each cell ran ${seconds} s × ${rounds} round(s), cells interleaved system by system at each writer count, after an unrecorded warm-up of each system.`,
      `Group commit on PostgreSQL (the last row of each writer count): the same unit as a job of the ingest queue (src/domain/inbox/ingest-queue.ts), so the units ready at the same time share one transaction on one connection — a SAVEPOINT and RELEASE around each, the counter row and the events once, one COMMIT (one WAL flush, one turn of the counter). Its commits/s counts units, as the others do. Group commit ÷ one transaction per unit (PostgreSQL, 1 process), units/s: ${grouped.join('; ')}.`,
      'Writers: W loops, each committing one unit at a time (a closed loop). On SQLite they are the group of writers awaiting their turn on the one connection (better-sqlite3 is synchronous: each unit runs in its turn on the event loop). On PostgreSQL each writer takes a pooled connection; with three processes the W writers are spread over them (8 → 3 + 3 + 2; 1 → one process writes, all three publish).',
      'Latency on one clock: every timestamp is CLOCK_MONOTONIC (process.hrtime via bench/lib/hist.ts nowMs), which all processes on the machine share, so a stamp taken in the writing process is subtracted from one taken in a publishing process with no offset to exchange. "ready": the writer is ready to write its next unit (its wait for a turn, the connection and the counter follow); "emit": inside the transaction after the row, just before the event is appended (on PostgreSQL the counter UPDATE, the events INSERT and COMMIT follow); "commit": the writer\'s onCommitted listener, which both logs call right after COMMIT returns; "published": each process\'s feed of its streams (SQLite: onCommitted; PostgreSQL: the tailer\'s onPublished). The stamps travel in the event payload and in per-process records joined by event id; with three processes an event counts as published when the last of the three published it. In a closed loop ready → published averages about W ÷ commits/s (Little’s law; lock waits on PostgreSQL are not first-come first-served, hence its long p99), so beyond 1 writer the latency ratio mostly restates the rate ratio; the 1-writer row is the uncontended latency.',
      `What bounds SQLite: one WAL fsync per COMMIT (journal_mode=WAL, synchronous=FULL) on one connection: commits/s is about 1 ÷ the commit's time whatever W is (emit → commit at 1 writer: ${ms(sqliteSection)}, i.e. ≈ ${num(1000 / sqliteSection)}/s). Publishing is synchronous inside the commit call (onCommitted), so commit → published is zero by construction.`,
      `What bounds PostgreSQL: every COMMIT waits for its WAL flush (fsync=on, synchronous_commit=on: the durability of SQLite with FULL), and every writing transaction holds the one counter row (event_seq, scale-out.md §1) from its UPDATE until its COMMIT is flushed and its locks released — PostgreSQL releases them after the flush. Writers overlap everything before the counter UPDATE (BEGIN, the row); the section from the UPDATE to the flushed COMMIT (two round trips and one WAL flush) runs one transaction at a time, so PostgreSQL's own group commit of the WAL cannot merge these commits and commits/s levels off near 1 ÷ that section (emit → commit at 1 writer, one process: ${ms(pgSection)}, i.e. ≈ ${num(1000 / pgSection)}/s); more writers then add waiting (emit → commit grows) rather than commits. That is the price of ids visible in commit order; group commit in Parley (many webhooks per transaction) is what divides it. A wait for the counter longer than lock_timeout (5 s) fails the transaction: counted above if any.`,
      "What bounds publishing on PostgreSQL: the writer's own process reads the new rows when its commit wakes its tailer (one SELECT after COMMIT); the other processes learn of it from a NOTIFY hint the writer sends after COMMIT (coalesced: at most one in flight per process), then run their own SELECT; the tailers' 250 ms timer is the fallback when a hint is coalesced away or late, which is what a p99 near 250 ms would show. The hint is its own statement after COMMIT, never inside the writing transaction, so NOTIFY's cluster-wide lock at commit stays out of the counter's serialized section.",
      `The machine: all processes — the SQLite one, the five PostgreSQL-side Node processes, the PostgreSQL server's backends, the orchestrator — share its cores (${cpuPressure() || 'CPU pressure unknown'}, at the end), so three processes on PostgreSQL compete for the same 2 cores as one and add a process hop (NOTIFY, a second SELECT) to every event: the point is the shape of the curve and the cost ratios, not absolute speed.`,
      `PostgreSQL: ${server.describe}${pgSettings ? `; ${pgSettings}` : ''}; one database for the single process and another for the three, so each system's tailers read only its own events (the idle ones still poll every 250 ms). SQLite: Parley's openDatabase (WAL, synchronous=FULL) in a temp dir${server.private ? ', on the same filesystem as the private cluster' : ''}.`,
    ],
  }
}
