// The event log on PostgreSQL, shared by several processes (issue 17).
//
// Writing: `transact(unit)` runs a unit of work (store/unit.ts) in one transaction on one
// connection; its events are collected in memory and written last, with ids from the
// counter (store/pg/events.ts), so commits become visible in id order. After the commit:
// the local side effects get the typed events (as on SQLite), the local tailer is woken,
// and a NOTIFY carrying only the last id is sent as a hint to the other processes —
// after COMMIT and coalesced, because NOTIFY inside a transaction takes a cluster-wide
// lock at commit and would serialize every writer (scale-out.md §2).
//
// Reading: streams are fed by the tailer (events/log-tailer.ts) from the table itself,
// never from the commit, so every process — the writer's own too — publishes exactly the
// committed sequence, in order.
import type pg from 'pg'
import { type PendingEvent, PgEventsRepo } from '../store/pg/events.ts'
import { isDatabaseUnavailable, isPgStorageFailure } from '../store/pg/db.ts'
import { PgListener } from '../store/pg/listener.ts'
import { pgConn } from '../store/conn.ts'
import { AbortedTransactionError, inPgTransaction, pgSavepoint } from '../store/runner.ts'
import type { ReplayAudience, StoredEvent } from '../store/events.ts'
import { type Q, runAsync } from '../store/unit.ts'
import { LogTailer, type WakeReason } from './log-tailer.ts'
import type { Audience, AudienceArg, Clock, CommittedEvent, Emitter, GroupLog, GroupPart, UnitLog } from './event-log.ts'
import type { EventPayloads, EventType } from './types.ts'

export const NOTIFY_CHANNEL = 'parley_events'

/** Events a unit appends: ids are given at its commit. */
export class PgEventBatch implements Emitter {
  readonly pending: Array<PendingEvent & { payload: unknown }> = []
  constructor(private readonly now: () => number) {}

  emit<T extends EventType>(workspaceId: number, type: T, payload: EventPayloads[T], ...audienceArg: AudienceArg<T>): void {
    const audience: Audience = audienceArg[0] ?? {}
    this.pending.push({
      workspaceId,
      type,
      payload,
      data: JSON.stringify(payload),
      channelId: audience.channelId ?? null,
      userId: audience.userId ?? null,
      createdAt: this.now(),
    })
  }
}

export interface PgEventLogOptions {
  url: string
  nodeId: string
  pollMs: number
  clock: Clock
  onError(err: unknown, what: string): void
}

export class PgEventLog implements UnitLog, GroupLog {
  epoch = ''
  /**
   * Every id at or below this may have been pruned (EVENT_RETENTION_DAYS), as this process
   * last saw it: from its own prune, its hourly look at the mark, or a replay that found it
   * moved (another process pruned meanwhile).
   */
  prunedThrough = 0
  /** Streams waiting for this process to publish through an id another process committed. */
  private catchUps: Array<{ id: number; done: (ok: boolean) => void }> = []
  private readonly repo = new PgEventsRepo()
  private readonly tailer: LogTailer
  private readonly listener: PgListener
  private readonly hinter: Hinter
  private publishers: Array<(events: StoredEvent[]) => void> = []
  private committedListeners: Array<(events: readonly CommittedEvent[]) => void> = []

  constructor(
    readonly pool: pg.Pool,
    private readonly opts: PgEventLogOptions,
  ) {
    this.tailer = new LogTailer({
      read: (afterId, limit) => this.repo.readAfter(this.pool, afterId, limit),
      publish: (events) => {
        // One failing stream feed must not keep the others from their events.
        for (const p of this.publishers) {
          try {
            p(events)
          } catch (err) {
            opts.onError(err, 'publishing events')
          }
        }
        if (this.catchUps.length) this.settleCatchUps(events[events.length - 1]!.id)
      },
      pollMs: opts.pollMs,
      onError: (err) => opts.onError(err, 'reading the event log'),
    })
    // Each reconnection triggers a catch-up read: the hints sent while it was down are gone.
    this.listener = new PgListener(opts.url, `parley-listen:${opts.nodeId}`, NOTIFY_CHANNEL, {
      notified: (payload) => {
        const id = Number(payload)
        if (Number.isFinite(id)) this.tailer.hint(id, 'notify')
      },
      reconnected: () => this.tailer.wake('reconnect'),
      onError: (err) => opts.onError(err, 'the listening connection'),
    })
    this.hinter = new Hinter(pool, (err) => opts.onError(err, 'sending a NOTIFY hint'))
  }

  /** Highest id published to this process's streams. */
  get head(): number {
    return this.tailer.tail
  }

  /** A stream position on this log (`epoch:id`), as the SQLite log writes it. */
  cursor(id = this.head): string {
    return `${this.epoch}:${id}`
  }

  /**
   * A client's cursor can be ahead of this process: another process committed the event and
   * answered it (a page's `eventId`, a stream there) before this one's tailer read it. True
   * once this process has published through `id` — woken at once, not at the next poll —
   * false at once when the database has no such event (a forged cursor, or another
   * database's), or when `timeoutMs` passes first.
   */
  async caughtUp(id: number, timeoutMs: number): Promise<boolean> {
    if (id <= this.head) return true
    const { last } = await this.repo.head(this.pool)
    if (id > Number(last)) return false
    if (id <= this.head) return true
    return new Promise<boolean>((resolve) => {
      const waiter = {
        id,
        done: (ok: boolean) => {
          clearTimeout(timer)
          resolve(ok)
        },
      }
      const timer = setTimeout(() => {
        this.catchUps = this.catchUps.filter((w) => w !== waiter)
        resolve(id <= this.head)
      }, timeoutMs)
      timer.unref()
      this.catchUps.push(waiter)
      this.tailer.hint(id, 'notify')
    })
  }

  private settleCatchUps(through: number): void {
    const ready = this.catchUps.filter((w) => w.id <= through)
    if (ready.length === 0) return
    this.catchUps = this.catchUps.filter((w) => w.id > through)
    for (const w of ready) w.done(true)
  }

  /** What woke reads that found events, by reason (commit, notify, timer, reconnect). */
  get wakes(): Readonly<Record<WakeReason, number>> {
    return this.tailer.found
  }

  /** Whether the listening connection is up (the hints flow). */
  get listening(): boolean {
    return this.listener.connected
  }

  async start(): Promise<void> {
    const { epoch, last } = await this.repo.head(this.pool)
    this.epoch = epoch
    this.prunedThrough = await this.repo.prunedThrough(this.pool)
    // LISTEN before the first read: an event committed in between is read, not missed.
    await this.listener.start()
    this.tailer.start(last)
  }

  async stop(): Promise<void> {
    this.tailer.stop()
    for (const w of this.catchUps.splice(0)) w.done(false)
    await this.listener.stop()
  }

  /** Streams' feed: every committed event of every workspace, in id order, once. */
  onPublished(publisher: (events: StoredEvent[]) => void): void {
    this.publishers.push(publisher)
  }

  /** Local side effects of this process's own commits, with the typed payloads. */
  onCommitted(listener: (events: readonly CommittedEvent[]) => void): void {
    this.committedListeners.push(listener)
  }

  /** Runs the unit in one transaction on one connection; its events get their ids last. */
  /**
   * The read and the counter row in one REPEATABLE READ snapshot: events become visible in id
   * order with the counter (it is written last in each committing transaction), so `last`
   * is exactly the newest event this snapshot shows, and every lower id is visible too.
   */
  async snapshot<T>(unit: () => Q<T>): Promise<{ result: T; eventId: string }> {
    return inPgTransaction(
      this.pool,
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      async (client) => {
        const result = await runAsync(unit(), pgConn(client))
        const { epoch, last } = await this.repo.head(client)
        return { result, eventId: `${epoch}:${last}` }
      },
      false,
    )
  }

  async transact<T>(unit: (batch: Emitter) => Q<T>): Promise<T> {
    const batch = new PgEventBatch(this.opts.clock.now)
    const { result, committed } = await inPgTransaction(this.pool, 'BEGIN', async (client) => {
      const result = await runAsync(unit(batch), pgConn(client))
      return { result, committed: await this.appendPending(client, batch) }
    })
    this.publish(committed)
    return result
  }

  /**
   * What fails a whole group commit rather than one job: the health probe's classes (the
   * server gone, out of resources, shutting down; the connection lost), and what the store
   * refuses only for now — a lock wait past lock_timeout (55P03), a deadlock (40P01), a
   * serialization failure (40001) — so Meta retries, where keeping the payload raw would
   * give up on a webhook that succeeds a moment later; and a COMMIT that rolled back.
   */
  /**
   * Each part is a savepoint that writes, so a subtransaction with its own xid: past 64 in
   * one transaction PostgreSQL's snapshots overflow their per-backend cache and every
   * other session's visibility checks go to pg_subtrans (the SubtransSLRU slowdown), so a
   * group stops at 64 parts; more waiting jobs form the next group.
   */
  readonly maxGroupParts = 64

  storageFailureCode(err: unknown): string | undefined {
    if (err instanceof AbortedTransactionError) return 'COMMIT_ROLLED_BACK'
    const code = (err as { code?: unknown })?.code
    const transient = code === '40P01' || code === '40001'
    if (!isDatabaseUnavailable(err) && !isPgStorageFailure(err) && !transient) return undefined
    return typeof code === 'string' ? code : 'CONNECTION_LOST'
  }

  /**
   * The ingest queue's group commit (scale-out.md §1): one pooled connection, BEGIN, each part
   * in a savepoint (a part that throws is rolled back to it — which also un-aborts the
   * transaction after a failed statement — its pending events dropped, and its fallback run in
   * the same, now empty savepoint), the kept events appended once with ids from the counter,
   * COMMIT; then the same after-commit steps as `transact`. A storage failure anywhere throws:
   * the transaction rolls back (a dead connection is dropped, not pooled).
   */
  async commitGroup(parts: readonly GroupPart[], afterCommit?: () => void): Promise<void> {
    const batch = new PgEventBatch(this.opts.clock.now)
    const committed = await inPgTransaction(this.pool, 'BEGIN', async (client) => {
      const conn = pgConn(client)
      if (parts.length > 0) await pgSavepoint.open(client)
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!
        // The last part's savepoint is released alone; the others' release opens the next.
        const done = i === parts.length - 1 ? pgSavepoint.release : pgSavepoint.next
        const mark = batch.pending.length
        try {
          await runAsync(part.run(batch), conn)
          // Fails too (25P02) when the part caught a failed statement and went on: then it is
          // that part that is rolled back, below.
          await done(client)
        } catch (err) {
          batch.pending.length = mark
          if (this.storageFailureCode(err) !== undefined) throw err
          await pgSavepoint.rollback(client)
          await runAsync(part.fallback(err), conn)
          await done(client)
        }
      }
      return this.appendPending(client, batch)
    })
    afterCommit?.()
    this.publish(committed)
  }

  /** Last in the transaction: the batch's events with ids from the counter. */
  private async appendPending(client: pg.PoolClient, batch: PgEventBatch): Promise<CommittedEvent[]> {
    if (batch.pending.length === 0) return []
    const first = await this.repo.append(client, batch.pending)
    return batch.pending.map(
      (e, i) =>
        ({
          id: first + i,
          workspaceId: e.workspaceId,
          type: e.type,
          data: e.data,
          channelId: e.channelId,
          userId: e.userId,
          payload: e.payload,
        }) as CommittedEvent,
    )
  }

  /** After the commit: local side effects, the local tailer, a coalesced hint to the others. */
  private publish(committed: CommittedEvent[]): void {
    if (committed.length === 0) return
    for (const l of this.committedListeners) l(committed)
    this.tailer.wake('commit')
    this.hinter.hint(committed[committed.length - 1]!.id)
  }

  /**
   * A replay page for one workspace (and audience), read from the table. The pruned-through
   * mark is read after the page: the mark moves before any row goes, so a mark still at or
   * below `afterId` proves the page lost nothing. One above it (another process pruned since
   * this one last looked) fails the page — the hub ends the stream, and the client's
   * reconnect with the same cursor is answered `reset` (pruned) instead of a silent gap.
   */
  async read(workspaceId: number, afterId: number, upToId: number, limit: number, audience?: ReplayAudience): Promise<StoredEvent[]> {
    const page = await this.repo.readEventsPage(this.pool, workspaceId, afterId, upToId, limit, audience)
    const mark = await this.repo.prunedThrough(this.pool)
    if (mark > this.prunedThrough) this.prunedThrough = mark
    if (afterId < mark) throw new PrunedUnderReplay(afterId, mark)
    return page
  }

  /**
   * Deletes events older than `olderThanMs` (one process at a time: the others only read the
   * mark); this process's streams refuse cursors below the mark from then on.
   */
  async prune(olderThanMs: number): Promise<number> {
    const through = await this.repo.pruneBefore(this.pool, olderThanMs)
    if (through > this.prunedThrough) this.prunedThrough = through
    return through
  }
}

/** A replay from a cursor whose events another process pruned meanwhile. */
export class PrunedUnderReplay extends Error {
  constructor(afterId: number, mark: number) {
    super(`events after ${afterId} were pruned through ${mark} by another process`)
  }
}

/**
 * After-commit NOTIFY hints, coalesced: at most one in flight; while it is, newer ids
 * replace each other and only the last is sent next. A lost hint costs latency (the
 * others' timers catch up), never an event.
 */
class Hinter {
  private sending = false
  private wanted = 0
  private sent = 0

  constructor(
    private readonly pool: pg.Pool,
    private readonly onError: (err: unknown) => void,
  ) {}

  hint(id: number): void {
    if (id <= this.wanted) return
    this.wanted = id
    if (!this.sending) void this.flush()
  }

  private async flush(): Promise<void> {
    this.sending = true
    try {
      while (this.wanted > this.sent) {
        const id = this.wanted
        try {
          await this.pool.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, String(id)])
        } catch (err) {
          this.onError(err)
        }
        this.sent = id
      }
    } finally {
      this.sending = false
    }
  }
}
