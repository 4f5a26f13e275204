// Code units still call (the team's, the campaign claim's) that is not yet written as units of work (issue 17):
// the inbox writer, the inbox store's conversation reads and the outbox (the next part of the port).
// On SQLite such a call runs at once inside the unit's transaction, on the same
// connection, exactly as before. On PostgreSQL it refuses by name: running it there would
// write to the SQLite file instead of the transaction the unit is in.
import { EventBatch, type Emitter } from '../events/event-log.ts'
import { type Q, step } from '../store/unit.ts'

export class NotOnPostgresYetError extends Error {
  constructor(what: string) {
    super(`${what} is not yet written as a unit of work (issue 17): it runs on SQLite only`)
    this.name = 'NotOnPostgresYetError'
  }
}

/** `fn` at once inside a SQLite unit; NotOnPostgresYetError on PostgreSQL. */
export function* sqliteOnly<T>(what: string, fn: () => T): Q<T> {
  return yield* step((c) => {
    if (c.dialect !== 'sqlite') throw new NotOnPostgresYetError(what)
    return fn()
  })
}

/** The SQLite log's batch behind an Emitter, for the writer's methods that still take one. */
export function eventBatchOf(batch: Emitter, what: string): EventBatch {
  if (!(batch instanceof EventBatch)) throw new NotOnPostgresYetError(what)
  return batch
}
