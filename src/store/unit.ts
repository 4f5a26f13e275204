// A unit of work written once for both databases (issue 17).
//
// better-sqlite3 is synchronous and its transactions must stay so: an `await` inside one
// commits at that point without rolling back on a later error (drizzle-orm #1472, #2275).
// PostgreSQL's driver is asynchronous. So the code that runs inside a transaction is a
// generator: each database step is yielded as a function, and the runner for the dialect
// calls it — on SQLite synchronously, inside better-sqlite3's transaction (a step that
// returns a promise is a bug and throws), on PostgreSQL awaiting each step on the
// transaction's connection. The domain's logic is the same code either way:
//
//   function* rename(id: number, name: string): Q<ContactRow | undefined> {
//     const row = yield* contacts.byId(id)        // a repository method returns Q<T>
//     if (!row) return undefined
//     return yield* contacts.update(id, { name })
//   }
//
// A step that throws throws at its `yield*`, so try/catch in a unit works as usual.

/** One database step: a value on SQLite, a promise of it on PostgreSQL. */
export type Step = () => unknown

/** A unit of work (or a part of one) that ends with a T. */
export type Q<T> = Generator<Step, T, unknown>

/** Wraps one database call as a step: `const row = yield* step(() => stmt.get(id))`. */
export function* step<T>(call: () => T | PromiseLike<T>): Q<T> {
  return (yield call) as T
}

/** A value as a unit, for a repository method that needs no database call. */
// biome-ignore lint/correctness/useYield: a unit that needs no step still has the unit's type
export function* done<T>(value: T): Q<T> {
  return value
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function'
}

/** Runs a unit synchronously (SQLite): every step must answer at once. */
export function runSync<T>(unit: Q<T>): T {
  let next = unit.next()
  while (!next.done) {
    let value: unknown
    try {
      value = next.value()
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
export async function runAsync<T>(unit: Q<T>): Promise<T> {
  let next = unit.next()
  while (!next.done) {
    let value: unknown
    try {
      value = await next.value()
    } catch (err) {
      next = unit.throw(err)
      continue
    }
    next = unit.next(value)
  }
  return next.value
}
