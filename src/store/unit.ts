// A unit of work written once for both databases (issue 17).
//
// better-sqlite3 is synchronous and its transactions must stay so: an `await` inside one
// commits at that point without rolling back on a later error (drizzle-orm #1472, #2275).
// PostgreSQL's driver is asynchronous. So the code that runs inside a transaction is a
// generator: each database step is yielded as a function of the connection (store/conn.ts),
// and the runner for the dialect calls it — on SQLite synchronously, inside better-sqlite3's
// transaction (a step that returns a promise is a bug and throws), on PostgreSQL awaiting
// each step on the transaction's connection. The domain's logic is the same code either way:
//
//   function* rename(id: number, name: string): Q<LabelRef | undefined> {
//     const row = yield* labels.byId(id)          // a repository method returns Q<T>
//     if (!row) return undefined
//     return yield* labels.update(id, { name })
//   }
//
// A step that throws throws at its `yield*`, so try/catch in a unit works as usual. Code
// not yet written as units calls a unit on SQLite with runSync(unit, sqliteConn(db.$client)).
import type { Conn, PgConn, RunResult, SqliteConn } from './conn.ts'

/** One database step: a value on SQLite, a promise of it on PostgreSQL. */
export type Step = (conn: Conn) => unknown

/** A unit of work (or a part of one) that ends with a T. */
export type Q<T> = Generator<Step, T, unknown>

/** Wraps one call as a step: `const x = yield* step((c) => …)`. */
export function* step<T>(call: (conn: Conn) => T | PromiseLike<T>): Q<T> {
  return (yield call) as T
}

/** The first row, or undefined. */
export function* get<T>(sql: string, params: readonly unknown[] = []): Q<T | undefined> {
  return (yield (c) => c.get<T>(sql, params)) as T | undefined
}

/** Every row. */
export function* all<T>(sql: string, params: readonly unknown[] = []): Q<T[]> {
  return (yield (c) => c.all<T>(sql, params)) as T[]
}

/** A statement without rows; how many it wrote. */
export function* run(sql: string, params: readonly unknown[] = []): Q<RunResult> {
  return (yield (c) => c.run(sql, params)) as RunResult
}

/** Which database the unit runs on, for SQL that differs. */
export function* dialect(): Q<Conn['dialect']> {
  return (yield (c) => c.dialect) as Conn['dialect']
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function'
}

/** Runs a unit synchronously (SQLite): every step must answer at once. */
export function runSync<T>(unit: Q<T>, conn: SqliteConn): T {
  let next = unit.next()
  while (!next.done) {
    let value: unknown
    try {
      value = next.value(conn)
      if (isThenable(value)) throw new Error('an asynchronous step in a synchronous (SQLite) unit of work')
    } catch (err) {
      next = unit.throw(err)
      continue
    }
    next = unit.next(value)
  }
  return next.value
}

/** Runs a unit asynchronously (PostgreSQL): each step is awaited before the next. */
export async function runAsync<T>(unit: Q<T>, conn: PgConn): Promise<T> {
  let next = unit.next()
  while (!next.done) {
    let value: unknown
    try {
      value = await next.value(conn)
    } catch (err) {
      next = unit.throw(err)
      continue
    }
    next = unit.next(value)
  }
  return next.value
}
