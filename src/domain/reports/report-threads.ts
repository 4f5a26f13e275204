// Reports read up to a whole history (100,000s of index entries, ~100 ms of SQLite work):
// in the main thread that would stall every webhook and stream for as long. So they run on
// worker threads, each with its own connection to the database file (WAL: readers never
// block the writer), and with two threads the two halves of a report's reads — the
// first responses with the openings, the resolutions with the other counts — run at once (REPORT_THREADS; 0 reads in the main thread).
// Threads start on the first report and end with the app.
import { Worker } from 'node:worker_threads'
import type { ReportsRepo } from '../../store/reports.ts'
import type { UnitRunner } from '../../store/runner.ts'
import { type FactsPart, type FactsQuery, type ReportFacts, readFacts } from './report-facts.ts'

export interface ReportFactSource {
  read(q: FactsQuery): Promise<ReportFacts>
  close(): Promise<void>
}

/**
 * The reads through a unit runner, as one read (one snapshot): on SQLite in the calling thread
 * (REPORT_THREADS=0, or a database that is not a file); on PostgreSQL always (the server does
 * the work, on its own processes).
 */
export class InlineFacts implements ReportFactSource {
  constructor(
    private readonly repo: ReportsRepo,
    private readonly units: UnitRunner,
  ) {}

  async read(q: FactsQuery): Promise<ReportFacts> {
    return (await this.units.read(() => readFacts(this.repo, q, 'all'))) as ReportFacts
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve: (f: Partial<ReportFacts>) => void
  reject: (e: Error) => void
}

class ReportThread {
  private worker: Worker | undefined
  private nextId = 1
  private readonly pending = new Map<number, Pending>()

  constructor(private readonly data: { file: string; busyTimeoutMs: number }) {}

  run(q: FactsQuery, part: FactsPart): Promise<Partial<ReportFacts>> {
    const w = this.worker ?? this.start()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      w.postMessage({ id, q, part })
    })
  }

  private start(): Worker {
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { ...this.data, entry: new URL('./report-worker.ts', import.meta.url).href },
    })
    w.on('message', (m: { id: number; facts?: Partial<ReportFacts>; error?: string }) => {
      const p = this.pending.get(m.id)
      if (!p) return
      this.pending.delete(m.id)
      if (m.error !== undefined) p.reject(new Error(`report thread: ${m.error}`))
      else p.resolve(m.facts!)
    })
    // A thread that dies fails what it held; the next report starts a new one.
    const gone = (err: Error) => {
      if (this.worker === w) this.worker = undefined
      for (const p of this.pending.values()) p.reject(err)
      this.pending.clear()
    }
    w.on('error', gone)
    w.on('exit', (code) => gone(new Error(`report thread exited (${code})`)))
    this.worker = w
    return w
  }

  async close(): Promise<void> {
    const w = this.worker
    this.worker = undefined
    if (w) await w.terminate()
  }
}

export class ThreadFacts implements ReportFactSource {
  private readonly threads: ReportThread[]

  constructor(opts: { file: string; busyTimeoutMs: number; threads: number }) {
    this.threads = Array.from({ length: Math.max(1, opts.threads) }, () => new ReportThread(opts))
  }

  async read(q: FactsQuery): Promise<ReportFacts> {
    if (this.threads.length === 1) return (await this.threads[0]!.run(q, 'all')) as ReportFacts
    const [first, second] = await Promise.all([this.threads[0]!.run(q, 'first'), this.threads[1]!.run(q, 'second')])
    return { ...first, ...second } as ReportFacts
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.close()))
  }
}
