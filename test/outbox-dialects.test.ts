// The outbox's repository written once for both databases (issue 17): on a fresh SQLite and a
// fresh PostgreSQL database from their real migrations, a seeded outbox (several conversations
// and channels, replies and campaign messages, retries due and not due, rows in flight) gives
// the same rows, ids, order and answers; a message that is not outbound is refused on both.
// SQLite's claimDue is exactly the claimable-ids-then-claim-each loop it replaces. PostgreSQL
// only: three sessions claiming one channel at once never take one row twice, never two rows
// of one conversation, and never wait for each other; leases are set and expired by the
// database's clock, whatever the process's clock says.
import t from 'tap'
import { until as pollUntil } from './helpers/emulator.ts'
import { PgRunner } from '../src/store/runner.ts'
import { OutboxRepo, type OutboxRow, OutboxRowRefused } from '../src/store/outbox.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { all, get, type Q, step } from '../src/store/unit.ts'
import { type DialectDb, insertId, onBoth, pgDb, sqliteDb } from './helpers/dialects.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const WS = 1
const repo = new OutboxRepo()
// The process's clock, fixed for the test: leases set by it on SQLite must look live to the real clock.
const NOW = Date.now()
const LATER = NOW + 4_000
const LEASE_MS = 70_000
const HOUR = 3_600_000
const PG_NOW = 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms'

type Db = Pick<DialectDb, 'runner'>

/** A row's fields the test sets, by name; everything else is the insert's. */
interface Seed {
  conv: string
  channel?: 'A' | 'B'
  priority?: number
  due?: number
  state?: string
  attempts?: number
  /** Lease relative to the real clock (ms from now): rows in flight. */
  leaseIn?: number
}

// Conversations a1…a7 on channel A, b1 on channel B. Due at NOW unless said.
const SEEDS: Record<string, Seed> = {
  r1: { conv: 'a1' }, // the oldest of a1: claimable
  r2: { conv: 'a1' }, // behind r1
  r3: { conv: 'a2', priority: 1 }, // a campaign message: after every reply
  r4: { conv: 'a2', priority: 1 }, // behind r3
  r5: { conv: 'a3', attempts: 2 }, // a retry that is due
  r6: { conv: 'a4', due: LATER, attempts: 1 }, // a retry not due yet …
  r7: { conv: 'a4' }, // … holds back its conversation
  r8: { conv: 'b1', channel: 'B', due: NOW - 10 }, // waiting longest: its number is served first
  r9: { conv: 'a5', state: 'sending', attempts: 1, leaseIn: -60_000 }, // in flight, lease ran out
  r10: { conv: 'a5' }, // behind the row in flight
  r11: { conv: 'a6', state: 'sent', attempts: 1 },
  r12: { conv: 'a6', priority: 1 }, // its predecessor is settled: claimable
  r13: { conv: 'a7', state: 'sending', attempts: 1, leaseIn: HOUR }, // in flight, lease still good
}

interface Seeded {
  label: Map<number, string>
  id: Record<string, number>
  message: Record<string, number>
  channel: Record<'A' | 'B', number>
  conversation: Record<string, number>
  messages: { inbound: number; note: number }
}

async function seed(db: Db): Promise<Seeded> {
  const channel = {
    A: await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', 'pa', 'A')`, [WS]),
    B: await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', 'pb', 'B')`, [WS]),
  }
  const conversation: Record<string, number> = {}
  for (const name of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'b1']) {
    const contact = await insertId(
      db,
      `INSERT INTO contacts (workspace_id, kind, external_id, name, created_at, updated_at) VALUES (?, 'whatsapp', ?, ?, 1, 1)`,
      [WS, `c-${name}`, name],
    )
    conversation[name] = await insertId(
      db,
      'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at, created_at, updated_at) VALUES (?, ?, ?, 1, 1, 1)',
      [WS, name.startsWith('b') ? channel.B : channel.A, contact],
    )
  }
  const message = (conv: string, direction: string, type = 'text') =>
    insertId(
      db,
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, "timestamp", created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'queued', 10, 10, 10)`,
      [WS, conversation[conv], conv.startsWith('b') ? channel.B : channel.A, direction, type],
    )
  const id: Record<string, number> = {}
  const messageOf: Record<string, number> = {}
  const label = new Map<number, string>()
  const realNow = Date.now()
  for (const [name, s] of Object.entries(SEEDS)) {
    const messageId = await message(s.conv, 'out')
    const row = await db.runner.transact(() =>
      repo.insert({
        workspaceId: WS,
        channelId: channel[s.channel ?? 'A'],
        conversationId: conversation[s.conv]!,
        messageId,
        kind: 'text',
        payload: { to: s.conv, text: { body: `${name} ✓` }, _parley: { resend: 0 } },
        priority: s.priority ?? 0,
        state: 'queued',
        nextAttemptAt: s.due ?? NOW,
        createdAt: 5,
        updatedAt: 5,
      }),
    )
    if (s.state || s.attempts || s.leaseIn !== undefined) {
      await db.runner.transact(() =>
        repo.update(row.id, {
          state: (s.state ?? 'queued') as OutboxRow['state'],
          attempts: s.attempts ?? 0,
          leaseUntil: s.leaseIn === undefined ? null : realNow + s.leaseIn,
        }),
      )
    }
    id[name] = row.id
    messageOf[name] = messageId
    label.set(row.id, name)
  }
  return {
    label,
    id,
    message: messageOf,
    channel,
    conversation,
    messages: { inbound: await message('a1', 'in'), note: await message('a1', 'system', 'note') },
  }
}

/** A row with its ids as the seed's names (both databases number alike, but the test should not rely on it). */
function named(s: Seeded, row: OutboxRow | undefined) {
  if (!row) return row
  const { id, conversationId, channelId, messageId, leaseUntil, ...rest } = row
  return {
    ...rest,
    name: s.label.get(id),
    conv: Object.entries(s.conversation).find(([, v]) => v === conversationId)?.[0],
    channel: channelId === s.channel.A ? 'A' : 'B',
    messageIsNumber: typeof messageId === 'number',
    leased: leaseUntil !== null,
  }
}

const names = (s: Seeded, ids: number[]) => ids.map((i) => s.label.get(i))

/** What the worker's reads answer on the seeded outbox, then what a claim and updates do. */
async function answers(db: Db) {
  const s = await seed(db)
  const read = <T>(unit: () => Q<T>) => db.runner.read(unit)
  const realNow = Date.now()
  const r: Record<string, unknown> = {}
  r.byId = named(s, await read(() => repo.byId(s.id.r5!)))
  r.byIdMissing = await read(() => repo.byId(99_999))
  r.byMessage = named(s, await read(() => repo.byMessage(s.message.r12!)))
  r.dueChannels = (await read(() => repo.dueChannels(NOW))).map((c) => (c === s.channel.A ? 'A' : 'B'))
  r.dueChannelsEarly = (await read(() => repo.dueChannels(NOW - 1))).map((c) => (c === s.channel.A ? 'A' : 'B'))
  r.nextDueAt = await read(() => repo.nextDueAt(NOW))
  r.nextDueAtNone = await read(() => repo.nextDueAt(LATER))
  r.claimableA = names(s, await read(() => repo.claimableIds(s.channel.A, NOW, 10)))
  r.claimableA2 = names(s, await read(() => repo.claimableIds(s.channel.A, NOW, 2)))
  r.claimableLater = names(s, await read(() => repo.claimableIds(s.channel.A, LATER, 10)))
  r.claimableB = names(s, await read(() => repo.claimableIds(s.channel.B, NOW, 10)))
  r.sendingAll = names(s, await read(() => repo.sendingIds(null)))
  r.sendingExpired = names(s, await read(() => repo.sendingIds(realNow)))
  // The claim, limited: the first two in send order; then the rest.
  const first = await db.runner.transact(() => repo.claimDue(s.channel.A, NOW, 2, LEASE_MS))
  r.claimFirst = first.map((row) => named(s, row))
  r.claimRest = (await db.runner.transact(() => repo.claimDue(s.channel.A, NOW, 10, LEASE_MS))).map((row) => named(s, row))
  r.claimAgain = await db.runner.transact(() => repo.claimDue(s.channel.A, NOW, 10, LEASE_MS))
  r.claimNone = await db.runner.transact(() => repo.claimDue(s.channel.B, NOW, 0, LEASE_MS))
  // A claim of a row no longer queued answers nothing.
  r.claimRowTaken = await db.runner.transact(() => repo.claimRow(s.id.r1!, NOW + LEASE_MS, NOW))
  r.claimRowB = named(s, await db.runner.transact(() => repo.claimRow(s.id.r8!, NOW + LEASE_MS, NOW)))
  // Expired leases: the claim's own leases are good for LEASE_MS on either clock; r9's ran out.
  r.expired = (await db.runner.transact(() => repo.expireLeases(Date.now()))).map((row) => named(s, row))
  // Its sender renews r9's lease (with r2, still queued, and a row that does not exist): only
  // the row still `sending` moves, and it no longer runs out.
  r.renewed = await db.runner.transact(() => repo.renewLeases([s.id.r9!, s.id.r2!, 999_999], Date.now(), LEASE_MS))
  r.expiredAfterRenew = names(
    s,
    (await db.runner.transact(() => repo.expireLeases(Date.now()))).map((row) => row.id),
  )
  r.queuedUntouched = (await read(() => repo.byId(s.id.r2!)))!.leaseUntil
  r.sendingAfter = names(s, await read(() => repo.sendingIds(null)))
  // r1 settles: r2 becomes its conversation's next; a retry of r3 waits.
  await db.runner.transact(function* () {
    yield* repo.update(s.id.r1!, { state: 'sent', leaseUntil: null, providerMessageId: 'wamid.1', updatedAt: 7 })
    yield* repo.update(s.id.r3!, {
      state: 'queued',
      nextAttemptAt: LATER + 4_000,
      leaseUntil: null,
      lastErrorCode: 131000,
      lastErrorText: 'x',
    })
  })
  r.afterSettle = names(s, await read(() => repo.claimableIds(s.channel.A, NOW, 10)))
  r.nextDueAfter = await read(() => repo.nextDueAt(NOW))
  r.updated = named(s, await read(() => repo.byId(s.id.r3!)))
  r.payloadUpdated = await db.runner.transact(function* () {
    yield* repo.update(s.id.r2!, { payload: { to: 'x', _parley: { resend: 1 } }, lastErrorText: null })
    return (yield* repo.byId(s.id.r2!))!.payload
  })
  // Issue 14 on both: a customer's message, a note and a missing message are refused.
  const refuse = async (messageId: number) => {
    try {
      await db.runner.transact(() =>
        repo.insert({
          workspaceId: WS,
          channelId: s.channel.A,
          conversationId: s.conversation.a1!,
          messageId,
          kind: 'text',
          payload: {},
          state: 'queued',
          nextAttemptAt: NOW,
          createdAt: 1,
          updatedAt: 1,
        }),
      )
      return 'inserted'
    } catch (err) {
      return err instanceof OutboxRowRefused ? err.message.replace(String(messageId), 'N') : String(err)
    }
  }
  r.refused = [await refuse(s.messages.inbound), await refuse(s.messages.note), await refuse(987_654)]
  r.count = (await read(() => get<{ n: number }>('SELECT count(*) AS n FROM outbox')))!.n
  return r
}

t.test('the same answers on SQLite and PostgreSQL', async (t) => {
  const r = await onBoth(t, answers)
  const sq = r.sqlite
  t.same(sq.dueChannels, ['B', 'A'], 'the number waiting longest first')
  t.same(sq.dueChannelsEarly, ['B'])
  t.equal(sq.nextDueAt, LATER, 'the retry not due yet')
  t.equal(sq.nextDueAtNone, null)
  t.same(sq.claimableA, ['r1', 'r5', 'r3', 'r12'], 'oldest per conversation; replies, then campaigns; r2, r4, r7, r10 held back')
  t.same(sq.claimableA2, ['r1', 'r5'])
  t.same(sq.claimableLater, ['r1', 'r5', 'r6', 'r3', 'r12'], 'r6 once due (still before r7)')
  t.same(sq.claimableB, ['r8'])
  t.same(sq.sendingAll, ['r9', 'r13'])
  t.same(sq.sendingExpired, ['r9'])
  t.same(
    (sq.claimFirst as { name: string; state: string; attempts: number; leased: boolean }[]).map((x) => [
      x.name,
      x.state,
      x.attempts,
      x.leased,
    ]),
    [
      ['r1', 'sending', 1, true],
      ['r5', 'sending', 3, true],
    ],
  )
  t.same(
    (sq.claimRest as { name: string }[]).map((x) => x.name),
    ['r3', 'r12'],
    'the rest in send order; r2 waits for r1 in flight',
  )
  t.same(sq.claimAgain, [])
  t.same(sq.claimNone, [])
  t.equal(sq.claimRowTaken, undefined)
  t.match(sq.claimRowB, { name: 'r8', state: 'sending', attempts: 1, updatedAt: NOW })
  t.same(
    (sq.expired as { name: string }[]).map((x) => x.name),
    ['r9'],
  )
  t.equal(sq.renewed, 1, 'only the row still sending is renewed')
  t.notOk((sq.expiredAfterRenew as string[]).includes('r9'), 'a renewed lease has not run out')
  t.equal(sq.queuedUntouched, null, 'a queued row gets no lease')
  t.same(sq.afterSettle, ['r2'], 'r2 after r1 is sent; r3 back in the queue but not due')
  t.equal(sq.nextDueAfter, LATER)
  t.match(sq.updated, { name: 'r3', state: 'queued', nextAttemptAt: LATER + 4_000, lastErrorCode: 131000, attempts: 1, priority: 1 })
  t.same(sq.payloadUpdated, { to: 'x', _parley: { resend: 1 } })
  t.same(sq.refused, [
    'outbox: message N is not outbound (in); refused',
    'outbox: message N is not outbound (system); refused',
    'outbox: message N is not outbound (missing); refused',
  ])
  t.equal(sq.count, 13, 'nothing refused entered the outbox')
  t.match(sq.byId, { name: 'r5', payload: { to: 'a3', text: { body: 'r5 ✓' } }, attempts: 2, messageIsNumber: true })
  t.equal(sq.byIdMissing, undefined)
  t.match(sq.byMessage, { name: 'r12', priority: 1 })
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL answers exactly as SQLite')
})

t.test('SQLite: claimDue is the claimable-ids-then-claim-each loop it replaces, row for row', async (t) => {
  const one = await sqliteDb(t)
  const two = await sqliteDb(t)
  await seed(one)
  const s2 = await seed(two)
  const viaClaimDue = await one.runner.transact(() => repo.claimDue(s2.channel.A, NOW, 3, LEASE_MS))
  const viaLoop = await two.runner.transact(function* () {
    const rows: OutboxRow[] = []
    for (const id of yield* repo.claimableIds(s2.channel.A, NOW, 3)) {
      const row = yield* repo.claimRow(id, NOW + LEASE_MS, NOW)
      if (row) rows.push(row)
    }
    return rows
  })
  t.equal(viaClaimDue.length, 3)
  t.same(viaClaimDue, viaLoop, 'the same rows, leases and order')
  t.equal(viaClaimDue[0]!.leaseUntil, NOW + LEASE_MS, 'leased by the process clock on SQLite')
})

t.test('PostgreSQL: leases are set and expired by the database clock, not the process clock', async (t) => {
  const db = await pgDb(t)
  if (!db) return
  const s = await seed(db)
  const dbNow = async () => (await db.runner.read(() => get<{ ms: number }>(PG_NOW)))!.ms
  // The claim by a process whose clock is a day ahead: its `now` decides only what is due.
  const ahead = NOW + 24 * HOUR
  const before = await dbNow()
  const claimed = await db.runner.transact(() => repo.claimDue(s.channel.B, ahead, 5, LEASE_MS))
  const after = await dbNow()
  t.equal(claimed.length, 1)
  const lease = claimed[0]!.leaseUntil!
  t.ok(lease >= before + LEASE_MS && lease <= after + LEASE_MS, `lease ${lease} is the database's now + ${LEASE_MS}`)
  t.equal(claimed[0]!.updatedAt, ahead)
  // One lease a minute in the past, one a minute ahead, set by SQL on the database's clock.
  await db.exec(`UPDATE outbox SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 60000 WHERE id = ?`, [s.id.r9])
  await db.exec(`UPDATE outbox SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + 60000 WHERE id = ?`, [s.id.r13])
  for (const processNow of [0, Number.MAX_SAFE_INTEGER]) {
    const expired = await db.runner.transact(() => repo.expireLeases(processNow))
    t.same(
      expired.map((r) => s.label.get(r.id)),
      ['r9'],
      `only the lease in the past runs out, whatever the process's clock says (${processNow})`,
    )
  }
  // A row another session holds (its process is settling it right now) is passed over, not waited for.
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  let locked!: () => void
  const isLocked = new Promise<void>((r) => {
    locked = r
  })
  const holder = db.runner.transact(function* () {
    yield* get(`SELECT id FROM outbox WHERE id = ? FOR UPDATE`, [s.id.r9])
    locked()
    yield* step(() => gate)
  })
  await isLocked
  try {
    t.same(await db.runner.transact(() => repo.expireLeases(0)), [], 'the locked row is skipped at once')
  } finally {
    release()
    await holder
  }
})

/**
 * Three sessions claiming one channel at once, round after round until the outbox is empty:
 * held at a first advisory lock so they start together, then at a second one after their
 * claim and before their commit, so every claim runs while the others hold theirs
 * uncommitted. A session that waited for another's row lock would never reach the second
 * lock, and the round would time out.
 */
t.test('PostgreSQL: three sessions claiming at once never take one row twice nor two of one conversation', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'outbox-race')
  const pool = openPgPool(url, { nodeId: 'outbox-race', max: 8 })
  t.teardown(() => pool.end())
  await pool.query(`INSERT INTO workspaces (name) VALUES ('W')`)
  const runner = new PgRunner(pool)
  const db = { runner }
  const channel = await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (1, 'whatsapp', 'p', 'P')`, [])
  // 12 conversations × 4 rows, replies and campaign messages mixed: 48 rows.
  const CONVERSATIONS = 12
  const PER = 4
  const convOf = new Map<number, number>()
  for (let c = 0; c < CONVERSATIONS; c++) {
    const contact = await insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id) VALUES (1, 'whatsapp', ?)`, [`x${c}`])
    const conv = await insertId(
      db,
      'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (1, ?, ?, 1)',
      [channel, contact],
    )
    for (let k = 0; k < PER; k++) {
      const message = await insertId(
        db,
        `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, "timestamp") VALUES (1, ?, ?, 'out', 'text', 'queued', 1)`,
        [conv, channel],
      )
      const row = await runner.transact(() =>
        repo.insert({
          workspaceId: 1,
          channelId: channel,
          conversationId: conv,
          messageId: message,
          kind: 'text',
          payload: { k },
          priority: (c + k) % 2,
          state: 'queued',
          nextAttemptAt: NOW,
          createdAt: 1,
          updatedAt: 1,
        }),
      )
      convOf.set(row.id, conv)
    }
  }
  const START = 7_101
  const COMMIT = 7_102
  const holder = await pool.connect()
  t.teardown(() => holder.release())
  const waiting = async (key: number) =>
    Number(
      (
        await pool.query<{ n: number }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`, [
          key,
        ])
      ).rows[0]!.n,
    )
  const until = (what: string, check: () => Promise<boolean>) => pollUntil(check, what)
  const claimer = () =>
    runner.transact(function* () {
      yield* get(`SELECT pg_advisory_xact_lock_shared(${START}) AS x`)
      const rows = yield* repo.claimDue(channel, NOW, 5, LEASE_MS)
      yield* get(`SELECT pg_advisory_xact_lock_shared(${COMMIT}) AS x`)
      return rows.map((r) => r.id)
    })

  const everyClaim: number[] = []
  const sentOrder = new Map<number, number[]>()
  let rounds = 0
  let contested = 0
  while (everyClaim.length < CONVERSATIONS * PER && rounds < 50) {
    rounds++
    await holder.query(`SELECT pg_advisory_lock(${START}), pg_advisory_lock(${COMMIT})`)
    const claims = Promise.all([claimer(), claimer(), claimer()])
    try {
      await until('three sessions at the start', async () => (await waiting(START)) === 3)
      await holder.query(`SELECT pg_advisory_unlock(${START})`)
      await until('three sessions to claim, none waiting for another', async () => (await waiting(COMMIT)) === 3)
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()')
    }
    const round = await claims
    const ids = round.flat()
    if (round.filter((r) => r.length > 0).length > 1) contested++
    // Every conversation's next row, each taken by one session while the others hold theirs.
    t.equal(ids.length, CONVERSATIONS, `round ${rounds}: the three sessions together claimed every conversation's next row`)
    t.equal(new Set(ids).size, ids.length, `round ${rounds}: no row claimed twice`)
    const convs = ids.map((id) => convOf.get(id))
    t.equal(new Set(convs).size, convs.length, `round ${rounds}: at most one row in flight per conversation`)
    everyClaim.push(...ids)
    for (const id of ids) sentOrder.set(convOf.get(id)!, [...(sentOrder.get(convOf.get(id)!) ?? []), id])
    // Sent: the next row of each conversation becomes claimable.
    await runner.transact(function* () {
      for (const id of ids) yield* repo.update(id, { state: 'sent', leaseUntil: null })
    })
  }
  t.equal(everyClaim.length, CONVERSATIONS * PER, 'every row claimed')
  t.equal(rounds, PER, 'one round per row of a conversation')
  t.equal(new Set(everyClaim).size, everyClaim.length, 'no row claimed twice over all rounds')
  t.ok(contested > 0, `in ${contested} rounds more than one session claimed rows`)
  for (const [conv, ids] of sentOrder)
    t.same(
      ids,
      [...ids].sort((a, b) => a - b),
      `conversation ${conv} sent oldest first`,
    )
  const left = await runner.read(() => all<{ id: number }>(`SELECT id FROM outbox WHERE state <> 'sent' ORDER BY id`))
  t.same(left, [])
})
