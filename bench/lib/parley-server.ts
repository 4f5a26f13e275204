// Child entry: the real Parley (config → openDatabase → buildApp) on a temp DATA_DIR,
// listening on loopback. The harness adds only observation: RSS after a GC, and the
// time the hub spends in publish() (wrapped on the instance; src/ is untouched).
import { loadConfig } from '../../src/config.ts'
import { openDatabase } from '../../src/store/db.ts'
import { buildApp } from '../../src/app.ts'
import { serve } from './proc.ts'
import { nowMs } from './hist.ts'
import { seedOutbound } from './parley-seed.ts'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { IngestQueue } from '../../src/domain/inbox/ingest-queue.ts'
import { Hist } from './hist.ts'
import { replayAudienceOf } from '../../src/domain/accounts/access.ts'

// Observation only: how long each group commit holds the event loop (SQL, COMMIT and
// its fsync, fan-out), and how late the loop runs. Wrapped on the prototype; the
// method's behaviour is unchanged.
const commits = new Hist()
let jobs = 0
const proto = IngestQueue.prototype as unknown as { commit?: (group: unknown[]) => void }
const commit = proto.commit
if (typeof commit === 'function') {
  proto.commit = function (this: unknown, group: unknown[]) {
    const t0 = nowMs()
    commit.call(this, group)
    commits.record(nowMs() - t0)
    jobs += group.length
  }
}
// Observation only: time inside SQLite, split into COMMIT (its fsync blocks the loop)
// and every other statement, so the report can say what bounds the ingest rate.
// Two clock reads per statement (~0.1 µs) against statements of 5–50 µs.
const sql = { statements: 0, statementUs: 0, commits: 0, commitUs: 0 }
/** COMMIT durations (ms): with synchronous=FULL, mostly the disk's fsync. */
const fsyncs = new Hist()
/** Each commit's fan-out to every stream (observed runs only). */
const fanouts = new Hist()
function observeStatements(sqlite: { prepare(s: string): object }): void {
  const proto = Object.getPrototypeOf(sqlite.prepare('SELECT 1')) as Record<string, (...a: unknown[]) => unknown>
  for (const m of ['get', 'run', 'all']) {
    const orig = proto[m]!
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      const t0 = performance.now()
      try {
        return orig.apply(this, a)
      } finally {
        const us = (performance.now() - t0) * 1000
        if (this.source === 'COMMIT') {
          sql.commits++
          sql.commitUs += us
          fsyncs.record(us / 1000)
        } else {
          sql.statements++
          sql.statementUs += us
        }
      }
    }
  }
}
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()

interface PublishSample {
  startMs: number
  /** the synchronous loop over the connections */
  durMs: number
  /** until the bytes are handed to the kernel: Node corks each response during the
   * loop and writes it out in a nextTick, so a tick queued after the loop runs last */
  flushMs: number
  events: number
  conns: number
}

async function main() {
  const config = loadConfig(process.env)
  const db = openDatabase(config.databaseFile, { busyTimeoutMs: config.dbBusyTimeoutMs })
  // The production logger (LOG_LEVEL, request log included), as `npm start` runs it;
  // the orchestrator sends this child's stdout to /dev/null.
  // Only where a workload reports it (ingest, delivery): elsewhere the wrapper would
  // sit in every read's profile.
  if (process.env.BENCH_OBSERVE_SQL === '1') observeStatements(db.$client)
  const app = await buildApp({ config, db })
  const hub = app.services.hub

  let recording = false
  const samples: PublishSample[] = []
  const publish = hub.publish.bind(hub)
  const observing = process.env.BENCH_OBSERVE_SQL === '1'
  hub.publish = (events) => {
    if (!recording) {
      if (!observing) return publish(events)
      // One commit's fan-out: the loop over the streams until the bytes are with the kernel.
      const t0 = nowMs()
      publish(events)
      process.nextTick(() => fanouts.record(nowMs() - t0))
      return
    }
    const conns = hub.size
    const t0 = nowMs()
    publish(events)
    const sample = { startMs: t0, durMs: nowMs() - t0, flushMs: NaN, events: events.length, conns }
    samples.push(sample)
    process.nextTick(() => (sample.flushMs = nowMs() - t0))
  }

  const rpc = serve(
    {
      mem: () => {
        globalThis.gc?.()
        globalThis.gc?.()
        const m = process.memoryUsage()
        return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, streams: hub.size }
      },
      record: (a: { on: boolean }) => {
        recording = a.on
        samples.length = 0
        return true
      },
      samples: () => samples.splice(0),
      /** Commit durations and event-loop delay since the last call. */
      loop: () => {
        const out = {
          commits: commits.n,
          jobsPerCommit: commits.n ? jobs / commits.n : 0,
          commitP50: commits.pct(50),
          commitP99: commits.pct(99),
          commitMax: commits.max,
          commitTotalMs: commits.sum,
          delayP99: loopDelay.percentile(99) / 1e6,
          delayMax: loopDelay.max / 1e6,
          ...(fsyncs.n > 0 ? { fsyncP50: fsyncs.pct(50), fsyncP99: fsyncs.pct(99), fsyncMax: fsyncs.max } : {}),
          ...(fanouts.n > 0 ? { fanoutP50: fanouts.pct(50), fanoutP99: fanouts.pct(99), fanoutMax: fanouts.max } : {}),
        }
        fanouts.reset()
        commits.reset()
        fsyncs.reset()
        jobs = 0
        loopDelay.reset()
        return out
      },
      /** SQLite time since the last call (see observeStatements). */
      sql: () => {
        const out = { ...sql }
        sql.statements = sql.statementUs = sql.commits = sql.commitUs = 0
        return out
      },
      streams: () => hub.size,
      // Diagnostics: a heap snapshot (what a stream retains) into the given directory.
      heapSnapshot: async (a: { dir: string }) => {
        const v8 = await import('node:v8')
        globalThis.gc?.()
        return v8.writeHeapSnapshot(`${a.dir}/parley-${hub.size}-streams.heapsnapshot`)
      },
      seedOutbound: (a: { targets: Array<{ wamid: string; to: string }> }) => seedOutbound(db.$client, a.targets),
      head: () => ({ head: app.services.events.head, cursor: app.services.events.cursor() }),
      /** Issue 14: the event log's rows, and how many of them are presence (there must be none). */
      eventRows: () => ({
        rows: db.$client.prepare('SELECT count(*) FROM events').pluck().get() as number,
        presence: db.$client.prepare("SELECT count(*) FROM events WHERE type = 'presence'").pluck().get() as number,
      }),
      /**
       * The audience workload's team: `users` agents, agent i a member of channelIds[i % n],
       * each with a session minted here (no argon2 login per agent). Users are inserted
       * with an unusable password hash: nobody signs in as them.
       */
      team: async (a: { users: number; channelIds: number[] }) => {
        const { auth, members, units } = app.services
        const ws = await auth.defaultWorkspace()
        const insert = db.$client
          .prepare(
            `INSERT INTO users(workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, 'bench-no-login', 'agent') RETURNING id`,
          )
          .pluck()
        const out: Array<{ userId: number; channelId: number; token: string }> = []
        for (let i = 0; i < a.users; i++) {
          const userId = insert.get(ws, `agent${i}@bench.example`, `Agent ${i}`) as number
          const channelId = a.channelIds[i % a.channelIds.length]!
          await units.transact(() => members.set(userId, [channelId]))
          const session = await auth.createSession((await auth.user(userId))!, 12 * 3600)
          out.push({ userId, channelId, token: app.jwt.sign({ sub: String(userId), sid: session.sessionId }) })
        }
        return out
      },
      /** How many events after `afterId` this person may see (what their replay must carry). */
      visible: async (a: { userId: number; afterId: number }) => {
        const { auth, access, events, units } = app.services
        const user = (await auth.user(a.userId))!
        const who = await units.read(() => access.ofUnit({ workspaceId: user.workspaceId, userId: user.id, role: user.role }))
        return (await events.read(user.workspaceId, a.afterId, events.head, 1e9, replayAudienceOf(who))).length
      },
    },
    async () => {
      await app.close()
      db.$client.close()
    },
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  if (!addr || typeof addr === 'string') throw new Error('no address')
  rpc.ready({ port: addr.port, pid: process.pid })
}

main().catch((err) => {
  process.send?.({ type: 'failed', error: err instanceof Error ? err.stack : String(err) })
  process.exit(1)
})
