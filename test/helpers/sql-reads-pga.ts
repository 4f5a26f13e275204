// better-sqlite3's `.pluck()` for TestServer.sql: the first column's value, whatever the
// database names it (SQLite calls `count(*)` "count(*)", PostgreSQL "count").
import type { TestSql } from './server.ts'

const first = (row: Record<string, unknown>) => Object.values(row)[0]

/** The first row's first column, or undefined when there is no row. */
export async function pluck<T = unknown>(sql: TestSql, q: string, params: readonly unknown[] = []): Promise<T | undefined> {
  const row = await sql.get<Record<string, unknown>>(q, params)
  return row === undefined ? undefined : (first(row) as T)
}

/** Every row's first column. */
export async function pluckAll<T = unknown>(sql: TestSql, q: string, params: readonly unknown[] = []): Promise<T[]> {
  return (await sql.all<Record<string, unknown>>(q, params)).map((r) => first(r) as T)
}
