// Statements prepared once, for the hot paths. Drizzle's query builder rebuilds and
// re-prepares SQL on every call (profiled: ~45% of webhook ingest time went to
// building and compiling statements). Drizzle still owns the schema and migrations;
// these helpers derive column names and JSON/boolean columns from that schema, so
// the SQL here cannot drift from it.
import type Database from 'better-sqlite3'
import { getTableColumns, getTableName, type Table } from 'drizzle-orm'
import { get, type Q } from './unit.ts'

interface ColumnInfo {
  key: string
  name: string
  json: boolean
  bool: boolean
}

export class TableCodec<Row> {
  readonly name: string
  private readonly cols: ColumnInfo[]
  private readonly byKey: Map<string, ColumnInfo>

  constructor(table: Table) {
    this.name = getTableName(table)
    this.cols = Object.entries(getTableColumns(table)).map(([key, c]) => ({
      key,
      name: c.name,
      json: c.dataType === 'json',
      bool: c.dataType === 'boolean',
    }))
    this.byKey = new Map(this.cols.map((c) => [c.key, c]))
  }

  private readonly selects = new Map<string, string>()
  private readonly quotedSelects = new Map<string, string>()

  /**
   * `alias.col AS "key", …`: the quoted form both databases read alike (PostgreSQL folds an
   * unquoted alias to lower case). Units of work (issue 17) use this one.
   */
  selectQuoted(alias = this.name): string {
    let s = this.quotedSelects.get(alias)
    if (s === undefined) {
      s = this.cols.map((c) => `${alias}.${c.name} AS "${c.key}"`).join(', ')
      this.quotedSelects.set(alias, s)
    }
    return s
  }

  /** A row as either database returns it: JSON text parsed, SQLite's 0/1 booleans as booleans. */
  decodeAny(raw: unknown): Row {
    const r = raw as Record<string, unknown>
    for (const c of this.cols) {
      const v = r[c.key]
      if (c.json && typeof v === 'string') r[c.key] = JSON.parse(v)
      else if (c.bool && typeof v === 'number') r[c.key] = v === 1
    }
    return r as Row
  }

  /** Positional parameters in key order: JSON stringified, booleans as booleans (each connection binds its own). */
  encodePositional(values: Record<string, unknown>): { keys: string[]; params: unknown[] } {
    const keys = Object.keys(values)
      .filter((k) => values[k] !== undefined)
      .sort()
    const params = keys.map((k) => {
      const c = this.byKey.get(k)
      if (!c) throw new Error(`${this.name} has no column ${k}`)
      const v = values[k]
      return v === null ? null : c.json ? JSON.stringify(v) : v
    })
    return { keys, params }
  }

  /** `alias.col AS key, …` for every column. */
  select(alias = this.name): string {
    let s = this.selects.get(alias)
    if (s === undefined) {
      s = this.cols.map((c) => `${alias}.${c.name} AS ${c.key}`).join(', ')
      this.selects.set(alias, s)
    }
    return s
  }

  column(key: string): string {
    const c = this.byKey.get(key)
    if (!c) throw new Error(`${this.name} has no column ${key}`)
    return c.name
  }

  decode(raw: unknown): Row {
    const r = raw as Record<string, unknown>
    for (const c of this.cols) {
      const v = r[c.key]
      if (c.json && typeof v === 'string') r[c.key] = JSON.parse(v)
      else if (c.bool && v !== null && v !== undefined) r[c.key] = v === 1
    }
    return r as Row
  }

  /** Named parameters for the given values (JSON stringified, booleans as 0/1). */
  encode(values: Record<string, unknown>): { keys: string[]; params: Record<string, unknown> } {
    const keys = Object.keys(values)
      .filter((k) => values[k] !== undefined)
      .sort()
    const params: Record<string, unknown> = {}
    for (const k of keys) {
      const c = this.byKey.get(k)
      if (!c) throw new Error(`${this.name} has no column ${k}`)
      const v = values[k]
      params[k] = v === null ? null : c.json ? JSON.stringify(v) : c.bool ? (v ? 1 : 0) : v
    }
    return { keys, params }
  }
}

/** A cache of prepared statements by SQL text. */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>()
  // Insert/update statements by table and column set, so the SQL text is built once.
  private readonly shaped = new Map<string, Database.Statement>()
  constructor(private readonly sqlite: Database.Database) {}

  private byShape(key: string, build: () => string): Database.Statement {
    let s = this.shaped.get(key)
    if (!s) this.shaped.set(key, (s = this.get(build())))
    return s
  }

  get(sql: string): Database.Statement {
    let s = this.cache.get(sql)
    if (!s) this.cache.set(sql, (s = this.sqlite.prepare(sql)))
    return s
  }

  /** INSERT of the given columns; `onConflict` e.g. 'DO NOTHING'. Returns the row or undefined. */
  insert<Row>(codec: TableCodec<Row>, values: Record<string, unknown>, onConflict?: string): Row | undefined {
    const { keys, params } = codec.encode(values)
    const stmt = this.byShape(
      `i|${codec.name}|${onConflict ?? ''}|${keys.join(',')}`,
      () =>
        `INSERT INTO ${codec.name} (${keys.map((k) => codec.column(k)).join(', ')}) ` +
        `VALUES (${keys.map((k) => `@${k}`).join(', ')})` +
        (onConflict ? ` ON CONFLICT ${onConflict}` : '') +
        ` RETURNING ${codec.select(codec.name)}`,
    )
    const row = stmt.get(params)
    return row === undefined ? undefined : codec.decode(row)
  }

  /** UPDATE … SET the given columns WHERE id = ?; returns the updated row. */
  updateById<Row>(codec: TableCodec<Row>, id: number, set: Record<string, unknown>): Row | undefined {
    const { keys, params } = codec.encode(set)
    if (keys.length === 0) throw new Error('empty update')
    const stmt = this.byShape(
      `u|${codec.name}|${keys.join(',')}`,
      () =>
        `UPDATE ${codec.name} SET ${keys.map((k) => `${codec.column(k)} = @${k}`).join(', ')} ` +
        `WHERE id = @__id RETURNING ${codec.select(codec.name)}`,
    )
    params.__id = id
    const row = stmt.get(params)
    return row === undefined ? undefined : codec.decode(row)
  }
}

// The same two shapes as units of work (issue 17): one SQL text for both databases.

/** INSERT of the given columns; `onConflict` e.g. '(channel_id, contact_id) DO NOTHING'. The row, or undefined. */
export function* insertRow<Row>(codec: TableCodec<Row>, values: Record<string, unknown>, onConflict?: string): Q<Row | undefined> {
  const { keys, params } = codec.encodePositional(values)
  const sql =
    `INSERT INTO ${codec.name} (${keys.map((k) => codec.column(k)).join(', ')}) VALUES (${keys.map(() => '?').join(', ')})` +
    (onConflict ? ` ON CONFLICT ${onConflict}` : '') +
    ` RETURNING ${codec.selectQuoted(codec.name)}`
  const row = yield* get<Record<string, unknown>>(sql, params)
  return row === undefined ? undefined : codec.decodeAny(row)
}

/** UPDATE … SET the given columns WHERE id = ?; the updated row, or undefined. */
export function* updateRowById<Row>(codec: TableCodec<Row>, id: number, set: Record<string, unknown>): Q<Row | undefined> {
  const { keys, params } = codec.encodePositional(set)
  if (keys.length === 0) throw new Error('empty update')
  const sql = `UPDATE ${codec.name} SET ${keys.map((k) => `${codec.column(k)} = ?`).join(', ')} WHERE id = ? RETURNING ${codec.selectQuoted(codec.name)}`
  const row = yield* get<Record<string, unknown>>(sql, [...params, id])
  return row === undefined ? undefined : codec.decodeAny(row)
}
