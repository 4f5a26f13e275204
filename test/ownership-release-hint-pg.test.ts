// A graceful stop hands its numbers over at once (issue 17, a rolling restart): the stopping
// process releases its leases and hints the others over the relay (PgEphemeralRelay,
// hintReleased), and they run a round now instead of at their next period. Here the period is
// an hour, so only the hint can move the name: without it B would not own it in this test's
// lifetime. Real PostgreSQL (skipped without a server, see test/helpers/pg.ts).
import t from 'tap'
import { PgOwnership } from '../src/domain/ownership/pg-ownership.ts'
import { PgEphemeralRelay } from '../src/events/pg-ephemeral.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { until } from './helpers/emulator.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const HOUR = 3_600_000
const NAME = 'channel:1'

t.test('a stopping owner hints the others: the name moves without waiting for a round', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'test')
  const pool = openPgPool(url, { nodeId: 'test', max: 4 })
  t.teardown(() => pool.end())
  const errors: string[] = []
  const node = (id: string) => {
    const ownership = new PgOwnership(pool, {
      nodeId: id,
      names: [NAME],
      renewMs: HOUR,
      ttlMs: 2 * HOUR,
      graceMs: 0,
      onError: (err, what) => errors.push(`${id} ${what}: ${err}`),
    })
    const relay = new PgEphemeralRelay({
      url,
      pool,
      nodeId: id,
      deliver: () => undefined,
      onReleased: () => ownership.wake(),
      onError: (err, what) => errors.push(`${id} ${what}: ${err}`),
    })
    t.teardown(async () => {
      await ownership.stop()
      await relay.stop()
    })
    return { ownership, relay }
  }
  const a = node('A')
  await a.relay.start()
  await a.ownership.start()
  t.ok(a.ownership.owns(NAME), 'A, alone, owns the name')
  const b = node('B')
  await b.relay.start()
  await b.ownership.start()
  t.notOk(b.ownership.owns(NAME), 'B starts without it (A holds it)')

  // A stops as app.ts does: leases released, then the hint.
  await a.ownership.stop()
  await a.relay.hintReleased()
  await until(async () => b.ownership.owns(NAME), 'B to own the name after the hint', 20_000)
  t.pass('B took the name on the hint (its own next round is an hour away)')
  t.same(errors, [], 'no errors')
})

t.test('a hint that is not JSON, or from this process itself, is ignored', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'test')
  const pool = openPgPool(url, { nodeId: 'test', max: 2 })
  t.teardown(() => pool.end())
  let released = 0
  const relay = new PgEphemeralRelay({ url, pool, nodeId: 'A', deliver: () => undefined, onReleased: () => released++ })
  t.teardown(() => relay.stop())
  await relay.start()
  const other = new PgEphemeralRelay({ url, pool, nodeId: 'B', deliver: () => undefined, onReleased: () => undefined })
  t.teardown(() => other.stop())
  await other.start()
  await pool.query(`SELECT pg_notify('parley_ephemeral', 'not json')`)
  await relay.hintReleased() // its own: not heard as another's
  await other.hintReleased() // another's: heard once
  await until(async () => released === 1, 'the other process’s hint', 20_000)
  t.equal(released, 1, 'only the other process’s hint counts')
})
