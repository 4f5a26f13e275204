// One process's event log for the pglog workload (issue 17): SQLite's EventLog or
// PostgreSQL's PgEventLog, running W writers for S seconds and recording, on one clock
// (CLOCK_MONOTONIC, bench/lib/hist.ts nowMs, shared by every process on the machine),
// when each of its own events was emitted and committed and when each event of any
// process was published here. The orchestrator joins the records by event id.
//
// The unit is the same on both databases: one small row (a raw_webhooks row with a
// webhook-sized body) and one message.created event, in one transaction.
import { rmSync } from 'node:fs'
import { type Emitter, EventLog } from '../../src/events/event-log.ts'
import { IngestQueue } from '../../src/domain/inbox/ingest-queue.ts'
import { PgEventLog } from '../../src/events/pg-event-log.ts'
import { openDatabase, type Db } from '../../src/store/db.ts'
import { sqliteConn } from '../../src/store/conn.ts'
import { migratePg, openPgPool } from '../../src/store/pg/db.ts'
import { type Q, run, runSync, step } from '../../src/store/unit.ts'
import { nowMs } from '../lib/hist.ts'
import { serve, sleep } from '../lib/proc.ts'
import type pg from 'pg'

const BODY = JSON.stringify({
  object: 'whatsapp_business_account',
  entry: [{ changes: [{ value: { messages: [{ from: '15550001111', type: 'text', text: { body: 'x'.repeat(120) } }] } }] }],
})

type Emit = (payload: unknown) => void

/** The unit both logs run: the row, then the event stamped with its emit time. */
function* unit(emit: Emit, ready: number, writer: number, seq: number): Q<void> {
  yield* run('INSERT INTO raw_webhooks (provider, reason, body, created_at) VALUES (?, ?, ?, ?)', ['bench', 'pglog', BODY, Date.now()])
  // The stamp is the last step before the commit (on PostgreSQL the counter's UPDATE and
  // the INSERT into events follow it), so emit → commit is the commit's own cost.
  const t = yield* step(() => nowMs())
  emit({ s: ready, t, node: process.pid, writer, seq, text: 'x'.repeat(60) })
}

interface Log {
  /** Whether write() runs synchronously (SQLite). */
  sync: boolean
  head(): number
  /** One unit in one transaction; resolves after the commit. */
  write(ready: number, writer: number, seq: number): Promise<void> | void
  stop(): Promise<void>
  settings?: Record<string, string>
}

// Records: growing arrays of numbers, reset between cells, sent as Float64Arrays.
class Rec {
  private a = new Float64Array(1 << 16)
  n = 0
  push(...xs: number[]): void {
    if (this.n + xs.length > this.a.length) {
      const b = new Float64Array(this.a.length * 2)
      b.set(this.a)
      this.a = b
    }
    for (const x of xs) this.a[this.n++] = x
  }
  take(): Float64Array {
    const out = this.a.slice(0, this.n)
    this.n = 0
    return out
  }
}

// Own commits: id, writer ready at, emitted at, committed at (the onCommitted listener
// runs right after COMMIT returns, before the writer's call resolves, on both logs).
const committed = new Rec()
// Published here: id, published at.
const published = new Rec()
let log: Log | undefined
let pool: pg.Pool | undefined
let sqliteFile: string | undefined

function recordCommitted(events: ReadonlyArray<{ id: number; data: string }>): void {
  const t = nowMs()
  for (const e of events) {
    const p = JSON.parse(e.data) as { s: number; t: number }
    committed.push(e.id, p.s, p.t, t)
  }
}

function recordPublished(events: ReadonlyArray<{ id: number }>): void {
  const t = nowMs()
  for (const e of events) published.push(e.id, t)
}

async function openSqlite(file: string): Promise<Log> {
  sqliteFile = file
  const db: Db = openDatabase(file, { busyTimeoutMs: 5000 })
  const events = new EventLog(db, { now: () => Date.now() })
  const conn = sqliteConn(db.$client)
  // On SQLite the streams are fed by onCommitted, synchronously after the COMMIT: the
  // commit and the publish are the same moment.
  events.onCommitted((evs) => {
    recordCommitted(evs)
    recordPublished(evs)
  })
  return {
    sync: true,
    head: () => events.head,
    write: (ready, writer, seq) => {
      events.transact((batch) =>
        runSync(
          unit((p) => batch.emit(1, 'message.created', p as never, { channelId: 1 }), ready, writer, seq),
          conn,
        ),
      )
    },
    stop: async () => {
      db.$client.close()
    },
  }
}

/**
 * `group`: each writer's unit is a job of the ingest queue (src/domain/inbox/ingest-queue.ts),
 * so the units ready together share one transaction (a savepoint each) and one turn of the
 * counter; else one transaction per unit (PgEventLog.transact).
 */
async function openPg(url: string, nodeId: string, writers: number, group = false): Promise<Log> {
  await migratePg(url, nodeId)
  // One connection per writer, and the tailer's reads and the NOTIFY hints beside them.
  pool = openPgPool(url, { nodeId, max: writers + 4 })
  const events = new PgEventLog(pool, {
    url,
    nodeId,
    pollMs: 250,
    clock: { now: () => Date.now() },
    onError: (err, what) => console.error(`pglog ${nodeId}: ${what}: ${err instanceof Error ? err.message : String(err)}`),
  })
  events.onCommitted(recordCommitted)
  events.onPublished(recordPublished)
  await events.start()
  const queue = group ? new IngestQueue(events) : undefined
  const r = await pool.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version', 'wal_sync_method', 'shared_buffers')`,
  )
  return {
    sync: false,
    head: () => events.head,
    write: (ready, writer, seq) => {
      const run = (batch: Emitter) => unit((p) => batch.emit(1, 'message.created', p as never, { channelId: 1 }), ready, writer, seq)
      return queue ? queue.submit({ run, fallback: function* () {} }) : events.transact(run)
    },
    stop: async () => {
      await events.stop()
      await pool?.end()
    },
    settings: Object.fromEntries(r.rows.map((x) => [x.name, x.setting])),
  }
}

const server = serve(
  {
    open: async (
      a: { kind: 'sqlite'; file: string } | { kind: 'pg'; url: string; nodeId: string; maxWriters: number; group?: boolean },
    ) => {
      log = a.kind === 'sqlite' ? await openSqlite(a.file) : await openPg(a.url, a.nodeId, a.maxWriters, a.group)
      return { head: log.head(), settings: log.settings }
    },
    /** W writers for S seconds, each looping on one unit at a time. */
    run: async (a: { writers: number; seconds: number }) => {
      const l = log!
      committed.take()
      let commits = 0
      let errors = 0
      let firstError: string | undefined
      const t0 = nowMs()
      const end = t0 + a.seconds * 1000
      await Promise.all(
        Array.from({ length: a.writers }, async (_, w) => {
          let seq = 0
          while (nowMs() < end) {
            try {
              // Ready to write from here: what follows is the unit's whole latency, its
              // wait for a turn included.
              const ready = nowMs()
              // On SQLite the unit is synchronous and runs in its turn on the event loop:
              // the writers ready at once queue there, as webhooks awaiting the one
              // connection do. On PostgreSQL they queue for a connection and the counter.
              if (l.sync) await new Promise<void>((r) => setImmediate(r))
              await l.write(ready, w, seq++)
              commits++
            } catch (err) {
              errors++
              firstError ??= err instanceof Error ? err.message : String(err)
            }
          }
        }),
      )
      return { commits, errors, firstError, seconds: (nowMs() - t0) / 1000, committed: committed.take() }
    },
    /** Waits until this process published every id up to `id`, then hands over what it published. */
    published: async (a: { id: number; timeoutMs: number }) => {
      const deadline = nowMs() + a.timeoutMs
      while (log!.head() < a.id) {
        if (nowMs() > deadline) throw new Error(`published only through ${log!.head()} of ${a.id} within ${a.timeoutMs} ms`)
        await sleep(10)
      }
      return { head: log!.head(), published: published.take() }
    },
    head: () => ({ head: log?.head() ?? 0 }),
  },
  async () => {
    await log?.stop()
    if (sqliteFile) for (const s of ['', '-wal', '-shm']) rmSync(sqliteFile + s, { force: true })
  },
)
server.ready()
