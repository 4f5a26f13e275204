// Running units of work (store/unit.ts) on either database (issue 17): one transaction per
// `transact`, and `read` for a unit that only reads. The event log's own transact (with its
// batch of events) is built on the same runners: events/event-log.ts for SQLite,
// events/pg-event-log.ts for PostgreSQL.
import type Database from 'better-sqlite3'
import type pg from 'pg'
import { type Dialect, pgConn, sqliteConn } from './conn.ts'
import { type Q, runAsync, runSync } from './unit.ts'

export interface UnitRunner {
  readonly dialect: Dialect
  /** The unit in one transaction: all of it commits, or none (it threw). */
  transact<T>(unit: () => Q<T>): Promise<T>
  /** A unit that only reads; several statements see one snapshot. */
  read<T>(unit: () => Q<T>): Promise<T>
}

/** SQLite: the unit runs synchronously inside better-sqlite3's transaction (BEGIN IMMEDIATE for writes). */
export class SqliteRunner implements UnitRunner {
  readonly dialect = 'sqlite' as const
  private readonly conn
  private readonly inTx: (fn: () => unknown) => unknown
  private readonly inRead: (fn: () => unknown) => unknown

  constructor(sqlite: Database.Database) {
    this.conn = sqliteConn(sqlite)
    const tx = sqlite.transaction((fn: () => unknown) => fn())
    this.inTx = (fn) => tx.immediate(fn)
    this.inRead = (fn) => tx.deferred(fn)
  }

  /** For code that is itself synchronous (SQLite only): the same as transact, at once. */
  transactSync<T>(unit: () => Q<T>): T {
    return this.inTx(() => runSync(unit(), this.conn)) as T
  }

  readSync<T>(unit: () => Q<T>): T {
    return this.inRead(() => runSync(unit(), this.conn)) as T
  }

  async transact<T>(unit: () => Q<T>): Promise<T> {
    return this.transactSync(unit)
  }

  async read<T>(unit: () => Q<T>): Promise<T> {
    return this.readSync(unit)
  }
}

/**
 * PostgreSQL aborts a whole transaction at its first error, where SQLite undoes only the
 * statement: a unit that catches a database error and goes on would have its COMMIT turned
 * into a ROLLBACK silently. That is made loud here: such a unit is not portable.
 */
export class AbortedTransactionError extends Error {
  constructor() {
    super('the transaction was aborted by an earlier error that the unit of work caught: nothing was committed')
  }
}

export async function commit(client: pg.PoolClient | pg.Client): Promise<void> {
  const r = await client.query('COMMIT')
  if (r.command === 'ROLLBACK') throw new AbortedTransactionError()
}

/**
 * `fn` on one pooled connection between `begin` and COMMIT (checked by `commit` when
 * `checkCommit`); ROLLBACK when it throws, and a connection that cannot even roll back is
 * broken: dropped, not returned to the pool. The one transaction wrapper of PostgreSQL code.
 */
export async function inPgTransaction<T>(
  pool: pg.Pool,
  begin: string,
  fn: (client: pg.PoolClient) => Promise<T>,
  checkCommit = true,
): Promise<T> {
  const client = await pool.connect()
  let broken = false
  // A checked-out client whose server goes away (pg_terminate_backend, a restart) fails its
  // query and then emits 'error': the pool listens only to idle clients, and an 'error' with no
  // listener would end the process. The query's rejection is what this code acts on.
  const dropped = () => {
    broken = true
  }
  client.on('error', dropped)
  try {
    await client.query(begin)
    const result = await fn(client)
    if (checkCommit) await commit(client)
    else await client.query('COMMIT')
    return result
  } catch (err) {
    broken = await client.query('ROLLBACK').then(
      () => false,
      () => true,
    )
    throw err
  } finally {
    client.removeListener('error', dropped)
    client.release(broken)
  }
}

/**
 * Savepoints on a transaction's connection: the ingest queue's group commit runs each job in
 * one (events/pg-event-log.ts commitGroup). ROLLBACK TO un-aborts the transaction after a
 * failed statement, and leaves the savepoint open and empty. `next` releases one and opens
 * the following in one round trip.
 */
export const pgSavepoint = {
  open: (c: pg.ClientBase) => c.query('SAVEPOINT part'),
  release: (c: pg.ClientBase) => c.query('RELEASE SAVEPOINT part'),
  next: (c: pg.ClientBase) => c.query('RELEASE SAVEPOINT part; SAVEPOINT part'),
  rollback: (c: pg.ClientBase) => c.query('ROLLBACK TO SAVEPOINT part'),
}

/** PostgreSQL: one pooled connection per unit, BEGIN … COMMIT around it, ROLLBACK when it throws. */
export class PgRunner implements UnitRunner {
  readonly dialect = 'postgres' as const
  constructor(private readonly pool: pg.Pool) {}

  transact<T>(unit: () => Q<T>, isolation: 'READ COMMITTED' | 'REPEATABLE READ' = 'READ COMMITTED'): Promise<T> {
    return inPgTransaction(this.pool, `BEGIN ISOLATION LEVEL ${isolation}`, (c) => runAsync(unit(), pgConn(c)))
  }

  /** Several statements in one snapshot (REPEATABLE READ, read only). */
  read<T>(unit: () => Q<T>): Promise<T> {
    return inPgTransaction(this.pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (c) => runAsync(unit(), pgConn(c)), false)
  }
}
