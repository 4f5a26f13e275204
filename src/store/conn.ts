// One connection as a unit of work sees it (issue 17), for SQLite and PostgreSQL alike.
//
// Repositories write their SQL once with `?` placeholders and quoted camelCase aliases
// (`AS "workspaceId"`: PostgreSQL folds unquoted names to lower case, SQLite keeps either);
// where the dialects differ (json_each against = ANY, max(a, b) against GREATEST, booleans)
// a repository asks `conn.dialect`. SQLite answers at once (statements prepared once per
// SQL text); PostgreSQL answers with promises, on the connection of the unit's transaction.
import type Database from 'better-sqlite3'
import type pg from 'pg'

export type Dialect = 'sqlite' | 'postgres'

export interface RunResult {
  /** Rows written by the statement. */
  changes: number
}

export interface SqliteConn {
  readonly dialect: 'sqlite'
  get<T>(sql: string, params?: readonly unknown[]): T | undefined
  all<T>(sql: string, params?: readonly unknown[]): T[]
  run(sql: string, params?: readonly unknown[]): RunResult
}

export interface PgConn {
  readonly dialect: 'postgres'
  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>
  run(sql: string, params?: readonly unknown[]): Promise<RunResult>
}

export type Conn = SqliteConn | PgConn

// better-sqlite3 binds no booleans: 1 and 0, as SQLite stores them.
const sqliteValue = (v: unknown) => (v === true ? 1 : v === false ? 0 : v)

class BetterSqliteConn implements SqliteConn {
  readonly dialect = 'sqlite' as const
  private readonly statements = new Map<string, Database.Statement>()
  constructor(private readonly sqlite: Database.Database) {}

  private prepared(sql: string): Database.Statement {
    let s = this.statements.get(sql)
    if (!s) this.statements.set(sql, (s = this.sqlite.prepare(sql)))
    return s
  }

  get<T>(sql: string, params: readonly unknown[] = []): T | undefined {
    return this.prepared(sql).get(...params.map(sqliteValue)) as T | undefined
  }

  all<T>(sql: string, params: readonly unknown[] = []): T[] {
    return this.prepared(sql).all(...params.map(sqliteValue)) as T[]
  }

  run(sql: string, params: readonly unknown[] = []): RunResult {
    return { changes: this.prepared(sql).run(...params.map(sqliteValue)).changes }
  }
}

const sqliteConns = new WeakMap<Database.Database, SqliteConn>()

/** The connection's one SqliteConn (its statements are cached with it). */
export function sqliteConn(sqlite: Database.Database): SqliteConn {
  let c = sqliteConns.get(sqlite)
  if (!c) sqliteConns.set(sqlite, (c = new BetterSqliteConn(sqlite)))
  return c
}

const numbered = new Map<string, string>()

/**
 * `?` → `$1, $2, …` outside quotes ('text', "name") and comments, so one SQL text serves both
 * dialects. Cached by text: repositories use a fixed set of statements.
 */
export function numberPlaceholders(sql: string): string {
  let out = numbered.get(sql)
  if (out !== undefined) return out
  let n = 0
  let quote: string | null = null
  out = ''
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!
    if (quote) {
      out += ch
      if (ch === quote) quote = null
    } else if (ch === "'" || ch === '"') {
      quote = ch
      out += ch
    } else if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      const stop = end === -1 ? sql.length : end
      out += sql.slice(i, stop)
      i = stop - 1
    } else if (ch === '?') {
      out += `$${++n}`
    } else {
      out += ch
    }
  }
  if (numbered.size < 10_000) numbered.set(sql, out)
  return out
}

class NodePgConn implements PgConn {
  readonly dialect = 'postgres' as const
  constructor(private readonly client: Pick<pg.ClientBase, 'query'>) {}

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    const r = await this.client.query(numberPlaceholders(sql), params as unknown[])
    return r.rows[0] as T | undefined
  }

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const r = await this.client.query(numberPlaceholders(sql), params as unknown[])
    return r.rows as T[]
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<RunResult> {
    const r = await this.client.query(numberPlaceholders(sql), params as unknown[])
    return { changes: r.rowCount ?? 0 }
  }
}

/** A PostgreSQL connection (a transaction's client, or the pool for a read) as a unit sees it. */
export function pgConn(client: Pick<pg.ClientBase, 'query'>): PgConn {
  return new NodePgConn(client)
}
