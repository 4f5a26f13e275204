// Group commit. With synchronous=FULL every commit waits for fsync, which caps one
// commit per webhook at a few thousand a second; on PostgreSQL every writing transaction
// takes the event counter's lock until its commit (scale-out.md §1). Webhooks that arrive
// together share one transaction and one commit; each is answered only after that commit.
// Each job runs in its own savepoint, so one payload that trips a bug is rolled back alone
// and kept raw, while a storage failure fails the whole group (→ 503, Meta retries).
//
// One queue for both databases (issue 17): the jobs are units of work (store/unit.ts), and
// the log (events/event-log.ts GroupLog) runs the group. SQLite: synchronously, as before —
// groups commit one after another within one turn of the loop. PostgreSQL: one group at a
// time on one pooled connection; the jobs that arrive while it commits form the next group.
import type { Emitter, GroupLog, GroupPart } from '../../events/event-log.ts'
import type { Q } from '../../store/unit.ts'
import { Errors } from '../../errors.ts'

export interface IngestJob {
  run(batch: Emitter): Q<void>
  /** Runs in a fresh savepoint when `run` threw something that is not a storage failure. */
  fallback(err: unknown): Q<void>
}

interface Queued {
  job: IngestJob
  resolve: () => void
  reject: (e: unknown) => void
}

export interface IngestQueueOptions {
  /** Upper bound on jobs per commit, so one commit never holds the loop (or the counter) for long. */
  maxBatch?: number
  onJobError?: (err: unknown) => void
  /** Issue 16: how long each successful group commit took (seconds), for the metrics. */
  onCommitted?: (seconds: number) => void
  /** A whole group did not commit (`retrying`: it runs again at once; else its webhooks are answered 503). */
  onGroupFailed?: (err: unknown, retrying: boolean) => void
}

// PostgreSQL refuses a transaction now and then when processes write at once: a deadlock
// (40P01: the report triggers' shared counter rows taken in another order by a concurrent
// group) or a serialization failure (40001). Nothing of it was stored: run the group again
// rather than answer every webhook in it 503 and wait for Meta's retry, minutes later.
const TRANSIENT = new Set(['40P01', '40001'])
const MAX_GROUP_ATTEMPTS = 3

export class IngestQueue {
  private queue: Queued[] = []
  private scheduled = false
  private closed = false
  /** PostgreSQL: the group being committed; the next waits for it. */
  private inFlight: Promise<void> | undefined
  private readonly maxBatch: number

  constructor(
    private readonly log: GroupLog,
    private readonly opts: IngestQueueOptions = {},
  ) {
    this.maxBatch = Math.min(opts.maxBatch ?? 512, log.maxGroupParts ?? Number.POSITIVE_INFINITY)
  }

  /**
   * The code of the last commit's storage failure (SQLite's SQLITE_FULL, SQLITE_IOERR…;
   * PostgreSQL's SQLSTATE, or CONNECTION_LOST), until a commit succeeds again: what the
   * health check reports.
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
    // A group in flight flushes again when it is done, with everything queued meanwhile.
    if (this.inFlight) return
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxBatch)
      const pending = this.commit(group)
      if (pending) {
        this.inFlight = pending.then(() => {
          this.inFlight = undefined
          this.flush()
        })
        return
      }
    }
  }

  /** Synchronous on SQLite (done when it returns); a promise on PostgreSQL that never rejects. */
  private commit(group: Queued[], attempt = 1): void | Promise<void> {
    const started = performance.now()
    const parts = group.map(
      ({ job }): GroupPart => ({
        run: (batch) => job.run(batch),
        fallback: (err) => {
          this.opts.onJobError?.(err)
          return job.fallback(err)
        },
      }),
    )
    let committed = false
    const afterCommit = () => {
      committed = true
      this.storageFailure = null
      this.opts.onCommitted?.((performance.now() - started) / 1000)
    }
    const succeeded = () => {
      for (const q of group) q.resolve()
    }
    let pending: void | Promise<void>
    try {
      pending = this.log.commitGroup(parts, afterCommit)
    } catch (err) {
      if (!committed) {
        this.opts.onGroupFailed?.(err, false)
        return this.failed(group, err)
      }
      // A side effect registered after the commit threw (a bug): the jobs did commit, and the
      // error goes on up, as it always did.
      succeeded()
      throw err
    }
    if (!pending) return succeeded()
    return pending.then(succeeded, (err) => {
      if (!committed) {
        const retrying = attempt < MAX_GROUP_ATTEMPTS && TRANSIENT.has(this.log.storageFailureCode(err) ?? '')
        this.opts.onGroupFailed?.(err, retrying)
        return retrying ? this.commit(group, attempt + 1) : this.failed(group, err)
      }
      succeeded()
      // As on SQLite: uncaught, out of the queue's chain, which must go on.
      queueMicrotask(() => {
        throw err
      })
    })
  }

  /** Nothing of the group committed: every job fails, with 503 when the store is the cause. */
  private failed(group: Queued[], err: unknown): void {
    const code = this.log.storageFailureCode(err)
    if (code !== undefined) this.storageFailure = code
    for (const q of group) q.reject(code !== undefined ? Errors.storageUnavailable() : err)
  }
}
