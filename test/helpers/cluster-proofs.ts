// Helpers shared by the multi-process proofs of issue 17 (test/multi-process-*.test.ts):
// who holds a lease now, read straight from PostgreSQL's `leases` table (PgOwnership's rows).
// A copy of multi-process-pg.test.ts's local ownersOf, kept apart so that file stays as it is.
import pg from 'pg'

/** The owners of the live leases whose names start with `prefix` (issue 17: PgOwnership's rows). */
export async function ownersOf(url: string, prefix: string): Promise<string[]> {
  return (await liveLeases(url, prefix)).map((l) => l.owner)
}

/** The live leases whose names start with `prefix`: which process holds which name, on the database's clock. */
export async function liveLeases(url: string, prefix: string): Promise<Array<{ name: string; owner: string }>> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query<{ name: string; owner: string }>(
      `SELECT name, owner FROM leases WHERE starts_with(name, $1) AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint ORDER BY name`,
      [prefix],
    )
    return r.rows
  } finally {
    await c.end()
  }
}
