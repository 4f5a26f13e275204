// A status kept for a message Parley has not stored names its recipient only while they are a
// contact of the channel's workspace (store/webhook-leftovers.ts): the same rows on SQLite and
// PostgreSQL; and on PostgreSQL, a status kept while its contact is being erased is either
// deleted by the erasure or kept without the name, whichever transaction goes first.
import t, { type Test } from 'tap'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { ContactErasureRepo } from '../src/store/contact-erasure.ts'
import { PgRunner } from '../src/store/runner.ts'
import { all, get, type Q, step } from '../src/store/unit.ts'
import { PendingStatuses } from '../src/store/webhook-leftovers.ts'
import { type DialectDb, insertId, onBoth } from './helpers/dialects.ts'
import { until } from './helpers/emulator.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const pending = new PendingStatuses()

async function seed(db: { runner: DialectDb['runner'] }) {
  const ws = await insertId(db, `INSERT INTO workspaces (name) VALUES ('W')`, [])
  const other = await insertId(db, `INSERT INTO workspaces (name) VALUES ('Other')`, [])
  const channel = await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', 'p1', 'Line')`, [
    ws,
  ])
  const contact = (w: number, external: string) =>
    insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id, name, phone) VALUES (?, 'whatsapp', ?, 'C', ?)`, [
      w,
      external,
      `+${external}`,
    ])
  const known = await contact(ws, '15550001111')
  await contact(other, '15550002222')
  return { ws, channel, known }
}

const keep = (channelId: number, id: string, raw: unknown) =>
  pending.keep({ channelId, providerMessageId: id, status: 'delivered', timestamp: 5, raw })
const rows = () =>
  all<{ id: string; raw: string | null }>(`SELECT provider_message_id AS "id", raw FROM pending_statuses ORDER BY provider_message_id`)

t.test('a kept status names its recipient only while they are a contact of the workspace: the same on both', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const tx = <T>(unit: () => Q<T>) => db.runner.transact(unit)
    await tx(() => keep(s.channel, 'wamid.a', { id: 'wamid.a', recipient_id: '15550001111' }))
    await tx(() => keep(s.channel, 'wamid.b', { id: 'wamid.b', recipient_id: '15550002222', errors: [{ code: 131026 }] }))
    await tx(() => keep(s.channel, 'wamid.c', { id: 'wamid.c', recipient_user_id: 'US.13491208655302741918' }))
    await tx(() => keep(s.channel, 'wamid.d', { id: 'wamid.d' }))
    await tx(() => keep(s.channel, 'wamid.e', null))
    return (await db.runner.read(rows)).map((r) => ({ id: r.id, raw: r.raw === null ? null : JSON.parse(r.raw) }))
  })
  t.same(sqlite, [
    { id: 'wamid.a', raw: { id: 'wamid.a', recipient_id: '15550001111' } },
    { id: 'wamid.b', raw: { id: 'wamid.b', errors: [{ code: 131026 }] } },
    { id: 'wamid.c', raw: { id: 'wamid.c' } },
    { id: 'wamid.d', raw: { id: 'wamid.d' } },
    { id: 'wamid.e', raw: null },
  ])
  if (pg) t.same(pg, sqlite, 'PostgreSQL keeps exactly what SQLite keeps')
})

async function pgRunner(t: Test) {
  const url = await freshPgDatabase(t)
  if (!url) return undefined
  await migratePg(url, 'pending-test')
  const pool = openPgPool(url, { nodeId: 'pending-test', max: 4 })
  t.teardown(() => pool.end())
  return new PgRunner(pool)
}

/** Sessions of this database waiting on a lock now (a fresh statistics snapshot each time). */
const waitingOnLocks = (runner: PgRunner) =>
  runner.transact(function* () {
    yield* step((c) => c.get('SELECT pg_stat_clear_snapshot()'))
    const r = yield* get<{ n: number }>(
      `SELECT count(*) AS "n" FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    )
    return r!.n
  })

/** Runs `unit` in a transaction that stays open, after it ran, until the returned `release` is called. */
function held<T>(runner: PgRunner, unit: () => Q<T>) {
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  let ran = false
  const done = runner.transact(function* () {
    const out = yield* unit()
    ran = true
    yield* step(() => gate)
    return out
  })
  return { done, release, ran: () => ran }
}

t.test('PostgreSQL: a status kept while its contact is erased is deleted with it or kept without the name', async (t) => {
  const runner = await pgRunner(t)
  if (!runner) return
  const repo = new ContactErasureRepo()
  const s = await seed({ runner })
  let contactId = s.known
  const erase = function* () {
    yield* repo.contact(s.ws, contactId, true)
    return yield* repo.erase(s.ws, contactId, '15550001111')
  }
  const naming = (id: string) => keep(s.channel, id, { id, recipient_id: '15550001111' })

  // The status first: the erasure waits for it, then deletes it.
  const keeping = held(runner, () => naming('wamid.first'))
  await until(async () => keeping.ran(), 'the status kept, uncommitted')
  const erasing = runner.transact(erase)
  try {
    await until(async () => (await waitingOnLocks(runner)) === 1, 'the erasure waiting for it')
  } finally {
    keeping.release()
  }
  await Promise.all([keeping.done, erasing])
  t.same(await runner.read(rows), [], 'deleted by the erasure')

  // The erasure first (its contact again): the status waits, then finds no contact.
  contactId = await insertId(
    { runner },
    `INSERT INTO contacts (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', '15550001111', 'C')`,
    [s.ws],
  )
  const erasing2 = held(runner, erase)
  await until(async () => erasing2.ran(), 'the erasure done, uncommitted')
  const keeping2 = runner.transact(() => naming('wamid.second'))
  try {
    await until(async () => (await waitingOnLocks(runner)) === 1, 'the status waiting for the erasure')
  } finally {
    erasing2.release()
  }
  await Promise.all([erasing2.done, keeping2])
  t.same(
    (await runner.read(rows)).map((r) => ({ id: r.id, raw: JSON.parse(r.raw!) })),
    [{ id: 'wamid.second', raw: { id: 'wamid.second' } }],
    'kept without whom it was for',
  )
})
