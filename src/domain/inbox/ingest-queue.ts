// Group commit. With synchronous=FULL every commit waits for fsync, which caps one
// commit per webhook at a few thousand a second. Webhooks that arrive together share
// one transaction and one fsync; each is answered only after that commit. Each job
// runs in its own savepoint, so one payload that trips a bug is rolled back alone
// and kept raw, while a storage failure fails the whole group (→ 503, Meta retries).
import type Database from 'better-sqlite3'
import type { EventBatch, EventLog } from '../../events/event-log.ts'
import { isStorageFailure } from '../../store/db.ts'
import { Errors } from '../../errors.ts'

export interface IngestJob {
  run(events: EventBatch): void
  /** Called in a fresh savepoint when `run` threw something that is not a storage failure. */
  fallback(err: unknown): void
}

interface Queued {
  job: IngestJob
  resolve: () => void
  reject: (e: unknown) => void
}

export interface IngestQueueOptions {
  /** Upper bound on jobs per commit, so one commit never holds the loop for long. */
  maxBatch?: number
  onJobError?: (err: unknown) => void
  /** Issue 16: how long each successful group commit took (seconds), for the metrics. */
  onCommitted?: (seconds: number) => void
}

export class IngestQueue {
  private queue: Queued[] = []
  private scheduled = false
  private closed = false
  private readonly maxBatch: number
  private readonly inTx: (fn: () => void) => void

  constructor(
    sqlite: Database.Database,
    private readonly log: EventLog,
    private readonly opts: IngestQueueOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 512
    const tx = sqlite.transaction((fn: () => void) => fn())
    this.inTx = (fn) => tx.immediate(fn)
    this.savepoint = sqlite.transaction((fn: () => void) => fn())
  }

  private readonly savepoint: Database.Transaction<(fn: () => void) => void>

  /**
   * The SQLite code of the last commit if it failed for storage (a full disk, an I/O
   * error), until a commit succeeds again: what the health check reports.
   */
  storageFailure: string | null = null

  submit(job: IngestJob): Promise<void> {
    if (this.closed) return Promise.reject(Errors.shuttingDown())
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // setImmediate runs after the current I/O phase: every request that arrived
        // in it joins this commit.
        setImmediate(() => this.flush())
      }
    })
  }

  /** Stops taking new jobs; queued ones still commit. */
  close(): void {
    this.closed = true
    if (this.queue.length) this.flush()
  }

  private flush(): void {
    this.scheduled = false
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxBatch)
      this.commit(group)
    }
  }

  private commit(group: Queued[]): void {
    const batch = this.log.batch()
    const started = performance.now()
    try {
      this.inTx(() => {
        for (const q of group) {
          const mark = batch.events.length
          try {
            this.savepoint(() => q.job.run(batch))
          } catch (err) {
            batch.events.length = mark
            if (isStorageFailure(err)) throw err
            this.opts.onJobError?.(err)
            this.savepoint(() => q.job.fallback(err))
          }
        }
        // Outside the jobs' savepoints: written once for the whole group.
        this.log.beforeCommit()
      })
    } catch (err) {
      if (isStorageFailure(err)) this.storageFailure = String((err as { code: string }).code)
      for (const q of group) q.reject(isStorageFailure(err) ? Errors.storageUnavailable() : err)
      return
    }
    this.storageFailure = null
    this.opts.onCommitted?.((performance.now() - started) / 1000)
    this.log.committed(batch.events)
    for (const q of group) q.resolve()
  }
}
