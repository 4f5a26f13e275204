// Real PostgreSQL for the tests that need it (issue 17). PARLEY_TEST_PG_URL names a server on
// which the tests may create databases; .ci/run starts a throw-away cluster and sets it. Each
// test gets its own fresh database, dropped at its end. Without a server the PostgreSQL parts
// are skipped, with a line saying so — unless PARLEY_TEST_PG=required (CI), where a missing
// server fails them instead of hiding them.
import { randomBytes } from 'node:crypto'
import pg from 'pg'

type T = {
  comment(message: string): void
  fail(message: string): void
  teardown(fn: () => unknown): void
}

export function pgAdminUrl(): string | undefined {
  return process.env.PARLEY_TEST_PG_URL || undefined
}

/** The URL with another database name (the path), whatever form the URL has (TCP or ?host=socket dir). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/**
 * A new, empty database for this test, dropped when it ends; undefined when there is no
 * server (the test was skipped, or failed under PARLEY_TEST_PG=required).
 */
export async function freshPgDatabase(t: T): Promise<string | undefined> {
  const admin = pgAdminUrl()
  if (!admin) {
    if (process.env.PARLEY_TEST_PG === 'required') t.fail('PARLEY_TEST_PG=required but PARLEY_TEST_PG_URL is not set')
    // A comment, not a plan: a test may already have asserted its SQLite half (dialects.ts onBoth).
    else t.comment('PostgreSQL part skipped: set PARLEY_TEST_PG_URL to a server where tests may create databases')
    return undefined
  }
  const name = `parley_t_${randomBytes(6).toString('hex')}`
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  try {
    await c.query(`CREATE DATABASE ${name}`)
  } finally {
    await c.end()
  }
  t.teardown(async () => {
    const d = new pg.Client({ connectionString: admin })
    await d.connect()
    try {
      // pool.end() resolves before its connections have closed: a FORCE drop now would kill
      // one mid-close (FATAL 57P01 thrown in the teardown). Wait for them, a few seconds at most.
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        const r = await d.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name])
        if (r.rows[0].n === 0) break
        await new Promise((res) => setTimeout(res, 20))
      }
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    } finally {
      await d.end()
    }
  })
  return withDatabase(admin, name)
}
