// The event log: every state change appends rows here inside the same transaction as
// the change. After the commit, the rows are published to the stream hub. Ids come from
// one AUTOINCREMENT sequence and are the SSE `id:` (prefixed by the database epoch).
import { type Db, isStorageFailure } from '../store/db.ts'
import { EventsRepo, type ReplayAudience } from '../store/events.ts'
import type { EventPayloads, EventType } from './types.ts'
import { sqliteConn } from '../store/conn.ts'
import { type Q, runSync } from '../store/unit.ts'

export interface LoggedEvent {
  id: number
  workspaceId: number
  type: string
  /** The JSON payload, serialized once and reused for the row and every stream. */
  data: string
  /** Who may see it (issue 13): one channel's members, or one user; both null: the whole workspace. */
  channelId: number | null
  userId: number | null
}

/**
 * An event's audience. Conversations and their messages belong to their channel: the
 * writer names it (the type below makes it required for those events). A user's own
 * events (assigned to you, your read position) name the user.
 */
export interface Audience {
  channelId?: number
  userId?: number
}
type ChannelScoped = 'message.created' | 'message.updated' | 'conversation.updated'
export type AudienceArg<T extends EventType> = T extends ChannelScoped
  ? [audience: Audience & { channelId: number }]
  : [audience?: Audience]

/**
 * A committed event as the side effects registered after the commit receive it (app.ts):
 * the payload as its writer emitted it, typed by the event's type, so no listener ever
 * searches the serialized JSON (a reordered DTO would break it silently).
 */
export type CommittedEvent = { [T in EventType]: LoggedEvent & { type: T; payload: EventPayloads[T] } }[EventType]

/** What runs after a commit, with the events it published, in id order. */
export type AfterCommit = (events: readonly CommittedEvent[]) => void

export interface Clock {
  now(): number
}
export const systemClock: Clock = { now: () => Date.now() }

/** What a unit of work emits its events through, on either database (issue 17). */
export interface Emitter {
  emit<T extends EventType>(workspaceId: number, type: T, payload: EventPayloads[T], ...audience: AudienceArg<T>): void
}

/**
 * The writing seam of code written as units of work (store/unit.ts), on either database:
 * the unit runs in one transaction with an event batch, and its events are published
 * after the commit. SQLite: EventLog.unitLog(); PostgreSQL: PgEventLog.
 */
export interface UnitLog {
  transact<T>(unit: (batch: Emitter) => Q<T>): Promise<T>
  /**
   * Runs a read unit in one snapshot with the event cursor (`epoch:id`) of that same
   * snapshot, so a page and its `eventId` name exactly one state: a client opening
   * /stream?lastEventId= from there misses nothing and gets nothing twice.
   */
  snapshot<T>(unit: () => Q<T>): Promise<{ result: T; eventId: string }>
}

/** One part of a group commit (the ingest queue's job): units of work on either database. */
export interface GroupPart {
  /** Runs in its own savepoint; its events are kept only if it does not throw. */
  run(batch: Emitter): Q<void>
  /**
   * When `run` threw something that is not a storage failure: its savepoint was rolled back
   * and its events dropped; this runs in a fresh savepoint instead. A throw here fails the group.
   */
  fallback(err: unknown): Q<void>
}

/**
 * Group commit on either database (the ingest queue): many parts in ONE transaction, each in
 * its own savepoint, the kept parts' events appended once at the end (on PostgreSQL their ids
 * from the counter, last before COMMIT), published after the commit. One fsync, one turn of
 * the counter's lock, for a whole group of webhooks. SQLite: EventLog; PostgreSQL: PgEventLog.
 */
export interface GroupLog {
  /**
   * Whether `err` means the store cannot take writes now (a full disk, the server gone or
   * refusing work): its code (for the health check), else undefined (a bug or a bad payload).
   * A part that throws such an error fails the whole group.
   */
  storageFailureCode(err: unknown): string | undefined
  /** The most parts one group may hold (undefined: no limit of the database's own). */
  readonly maxGroupParts?: number
  /**
   * Commits the parts in one transaction: throws (nothing committed) when a part threw a
   * storage failure, a fallback threw, or the transaction itself failed. `afterCommit` runs
   * right after the COMMIT, before the events are published. SQLite: synchronous (returns
   * when done); PostgreSQL: a promise.
   */
  commitGroup(parts: readonly GroupPart[], afterCommit?: () => void): void | Promise<void>
}

/** Events appended by one unit of work, published only if it commits. */
export class EventBatch implements Emitter {
  readonly events: CommittedEvent[] = []
  constructor(private readonly log: EventLog) {}

  emit<T extends EventType>(workspaceId: number, type: T, payload: EventPayloads[T], ...audience: AudienceArg<T>): void {
    this.events.push({ ...this.log.append(workspaceId, type, payload, audience[0]), type, payload } as CommittedEvent)
  }
}

export class EventLog implements GroupLog {
  readonly epoch: string
  /** Highest committed and published event id. */
  head: number
  /** Every id at or below this may have been pruned. */
  prunedThrough: number
  private readonly repo: EventsRepo
  private listeners: AfterCommit[] = []
  private finishers: Array<() => void> = []

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.repo = new EventsRepo(db)
    this.epoch = this.repo.epoch()
    this.prunedThrough = this.repo.prunedThrough()
    this.head = this.repo.sequenceHead()
  }

  cursor(id = this.head): string {
    return `${this.epoch}:${id}`
  }

  /** Must run inside a transaction; publish with `committed` after it commits. */
  append(workspaceId: number, type: string, payload: unknown, audience: Audience = {}): LoggedEvent {
    const data = JSON.stringify(payload)
    const channelId = audience.channelId ?? null
    const userId = audience.userId ?? null
    const id = this.repo.insertEvent(workspaceId, type, data, this.clock.now(), channelId, userId)
    return { id, workspaceId, type, data, channelId, userId }
  }

  batch(): EventBatch {
    return new EventBatch(this)
  }

  /** Units of work on this (SQLite) log: run synchronously inside `transact` (issue 17). */
  unitLog(): UnitLog & { transactSync<T>(unit: (batch: Emitter) => Q<T>): T } {
    const conn = sqliteConn(this.db.$client)
    const transactSync = <T>(unit: (batch: Emitter) => Q<T>): T => this.transact((batch) => runSync(unit(batch), conn))
    return {
      transactSync,
      transact: async (unit) => transactSync(unit),
      snapshot: async (unit) => this.snapshot(() => runSync(unit(), conn)),
    }
  }

  /** Runs `fn` in one transaction with an event batch; publishes after the commit. */
  transact<T>(fn: (events: EventBatch) => T): T {
    const batch = this.batch()
    const result = this.db.$client
      .transaction(() => {
        const r = fn(batch)
        this.beforeCommit()
        return r
      })
      .immediate()
    this.committed(batch.events)
    return result
  }

  storageFailureCode(err: unknown): string | undefined {
    return isStorageFailure(err) ? String((err as { code: string }).code) : undefined
  }

  // Built once: better-sqlite3 builds a new wrapper (five variants) for each transaction()
  // call. Called inside a transaction, a transaction function runs in a SAVEPOINT.
  private inGroup: ((fn: () => void) => void) | undefined
  private inSavepoint: ((fn: () => void) => void) | undefined

  /**
   * The ingest queue's group commit on SQLite: synchronous, one BEGIN IMMEDIATE … COMMIT
   * (one fsync) for every part, each part's unit run at once (runSync) in its savepoint; a
   * part that throws has its savepoint rolled back and its events cut from the batch.
   */
  commitGroup(parts: readonly GroupPart[], afterCommit?: () => void): void {
    if (!this.inGroup || !this.inSavepoint) {
      const tx = this.db.$client.transaction((fn: () => void) => fn())
      this.inGroup = (fn) => tx.immediate(fn)
      this.inSavepoint = this.db.$client.transaction((fn: () => void) => fn())
    }
    const savepoint = this.inSavepoint
    const conn = sqliteConn(this.db.$client)
    const batch = this.batch()
    this.inGroup(() => {
      for (const part of parts) {
        const mark = batch.events.length
        try {
          savepoint(() => runSync(part.run(batch), conn))
        } catch (err) {
          batch.events.length = mark
          if (isStorageFailure(err)) throw err
          savepoint(() => runSync(part.fallback(err), conn))
        }
      }
      // Outside the parts' savepoints: written once for the whole group.
      this.beforeCommit()
    })
    afterCommit?.()
    this.committed(batch.events)
  }

  /**
   * The last step of every writing transaction (transact's, and the ingest queue's group
   * commit): what is written once per commit rather than once per change (app.ts's list:
   * the search index). Runs inside the transaction, outside any savepoint.
   */
  beforeCommit(): void {
    for (const f of this.finishers) f()
  }

  /** Registered once, in app.ts's list of side effects. */
  onBeforeCommit(finisher: () => void): void {
    this.finishers.push(finisher)
  }

  committed(events: CommittedEvent[]): void {
    if (events.length === 0) return
    this.head = Math.max(this.head, events[events.length - 1]!.id)
    for (const l of this.listeners) l(events)
  }

  /** Registered once, in app.ts's list of side effects; called in registration order. */
  onCommitted(listener: AfterCommit): void {
    this.listeners.push(listener)
  }

  /** A replay page; with an audience, only the events it may see (issue 13). */
  read(workspaceId: number, afterId: number, upToId: number, limit: number, audience?: ReplayAudience): LoggedEvent[] {
    return this.repo.readEventsPage(workspaceId, afterId, upToId, limit, audience)
  }

  /** Deletes events older than the retention; ids are never reused (AUTOINCREMENT). */
  prune(olderThanMs: number): number {
    const through = this.repo.pruneEventsBefore(olderThanMs)
    if (through > this.prunedThrough) this.prunedThrough = through
    return through
  }

  // One transaction function for every snapshot: better-sqlite3 builds a new wrapper
  // (five variants) for each transaction() call.
  private inSnapshot: ((fn: () => unknown) => { result: unknown; eventId: string }) | undefined

  /**
   * Runs the read `fn` in one transaction with the event cursor, so the cursor names
   * exactly the state the response shows: a client opens /stream?lastEventId= from there
   * and misses nothing between the page load and the stream.
   */
  snapshot<T>(fn: () => T): { result: T; eventId: string } {
    this.inSnapshot ??= this.db.$client.transaction((f: () => unknown) => ({ result: f(), eventId: this.cursor() }))
    return this.inSnapshot(fn) as { result: T; eventId: string }
  }
}
