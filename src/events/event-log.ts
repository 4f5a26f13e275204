// The event log: every state change appends rows here inside the same transaction as
// the change. After the commit, the rows are published to the stream hub. Ids come from
// one AUTOINCREMENT sequence and are the SSE `id:` (prefixed by the database epoch).
import type { Statement } from 'better-sqlite3'
import { readMeta, writeMeta, type Db } from '../store/db.ts'
import type { EventPayloads, EventType } from './types.ts'

export interface LoggedEvent {
  id: number
  workspaceId: number
  type: string
  /** The JSON payload, serialized once and reused for the row and every stream. */
  data: string
}

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

/** Events appended by one unit of work, published only if it commits. */
export class EventBatch {
  readonly events: CommittedEvent[] = []
  constructor(private readonly log: EventLog) {}

  emit<T extends EventType>(workspaceId: number, type: T, payload: EventPayloads[T]): void {
    this.events.push({ ...this.log.append(workspaceId, type, payload), type, payload } as CommittedEvent)
  }
}

export class EventLog {
  readonly epoch: string
  /** Highest committed and published event id. */
  head: number
  /** Every id at or below this may have been pruned. */
  prunedThrough: number
  private readonly insert: Statement
  private readonly readPage: Statement
  private listeners: AfterCommit[] = []

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.epoch = readMeta(db, 'epoch')!
    this.prunedThrough = Number(readMeta(db, 'events_pruned_through') ?? 0)
    // sqlite_sequence survives pruning, so the head is right even with an empty table.
    const seq = db.$client.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).get() as { seq: number } | undefined
    this.head = seq?.seq ?? 0
    this.insert = db.$client.prepare('INSERT INTO events(workspace_id, type, payload, created_at) VALUES (?, ?, ?, ?) RETURNING id')
    this.readPage = db.$client.prepare(
      'SELECT id, workspace_id AS workspaceId, type, payload AS data FROM events WHERE workspace_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?',
    )
  }

  cursor(id = this.head): string {
    return `${this.epoch}:${id}`
  }

  /** Must run inside a transaction; publish with `committed` after it commits. */
  append(workspaceId: number, type: string, payload: unknown): LoggedEvent {
    const data = JSON.stringify(payload)
    const row = this.insert.get(workspaceId, type, data, this.clock.now()) as { id: number }
    return { id: row.id, workspaceId, type, data }
  }

  batch(): EventBatch {
    return new EventBatch(this)
  }

  /** Runs `fn` in one transaction with an event batch; publishes after the commit. */
  transact<T>(fn: (events: EventBatch) => T): T {
    const batch = this.batch()
    const result = this.db.$client.transaction(() => fn(batch)).immediate()
    this.committed(batch.events)
    return result
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

  read(workspaceId: number, afterId: number, upToId: number, limit: number): LoggedEvent[] {
    return this.readPage.all(workspaceId, afterId, upToId, limit) as LoggedEvent[]
  }

  /** Deletes events older than the retention; ids are never reused (AUTOINCREMENT). */
  prune(olderThanMs: number): number {
    const tx = this.db.$client.transaction(() => {
      const row = this.db.$client.prepare('SELECT max(id) AS maxId, count(*) AS n FROM events WHERE created_at < ?').get(olderThanMs) as {
        maxId: number | null
        n: number
      }
      if (row.maxId === null) return 0
      this.db.$client.prepare('DELETE FROM events WHERE id <= ?').run(row.maxId)
      writeMeta(this.db, 'events_pruned_through', String(row.maxId))
      return row.maxId
    })
    const through = tx() as number
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
