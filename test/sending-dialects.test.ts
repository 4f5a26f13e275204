// Sending written once for both databases (issue 17): the outbox's transitions as units of
// work, run through the unit log on a fresh SQLite and a fresh PostgreSQL database from their
// real migrations, with the real inbox writer and repositories (no HTTP). A reply recorded and
// enqueued is claimed (its message `sending`), settled sent with a wamid (a status that
// outran the answer applied then), and a later status for that wamid applies; a Meta refusal
// fails with its reason; an ambiguous answer leaves it unknown; a status carrying the outbox
// row's callback tag reconciles it. The same rows and the same events, in the same order, on
// both. A note is refused by the outbox on both. PostgreSQL only: a lease run out (set in the
// past by SQL on the database's clock) is abandoned to `unknown` once, even by two sessions
// abandoning at once — each row by exactly one, in the transaction that locked it. Replies'
// reads (a channel by id, the first WhatsApp number, mark-as-read's lookups) answer the same.
import t from 'tap'
import { ChannelProviders } from '../src/channels/index.ts'
import { GraphHttp } from '../src/channels/graph-http.ts'
import { InboxWriter } from '../src/domain/inbox/writer.ts'
import { Outbox, OutboxRefused, type OutboxRow } from '../src/domain/sending/outbox.ts'
import { plainReason } from '../src/domain/sending/meta-errors.ts'
import { Replies, type RepliesDeps } from '../src/domain/sending/replies.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { inboxRepos, type MessageRow } from '../src/store/inbox-store.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { get, run } from '../src/store/unit.ts'
import type { WaStatus } from '../src/channels/whatsapp/parse.ts'
import { type DialectDb, insertId, onBoth, pgDb, sqliteDb } from './helpers/dialects.ts'

const WS = 1
const NOW = Date.now()
const LEASE_MS = 60_000
const CUSTOMER = '15550001111'

function build() {
  const repos = inboxRepos()
  const channels = new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7)))
  const writer = new InboxWriter(repos, () => NOW)
  const providers = new ChannelProviders(new GraphHttp({ baseUrl: () => 'http://127.0.0.1:9', timeoutMs: 1000 }))
  const outbox = new Outbox({
    repos: { messages: repos.messages, channels },
    writer,
    epoch: () => 'test-epoch',
    providers,
    now: () => NOW,
  })
  return { repos, writer, outbox }
}

interface World {
  channel: number
  conversations: number[]
}

async function seed(db: DialectDb, conversations = 1): Promise<World> {
  const channel = await insertId(
    db,
    `INSERT INTO channels (workspace_id, kind, external_id, name, enabled) VALUES (?, 'whatsapp', 'pn-1', 'Main', ?)`,
    [WS, true],
  )
  const ids: number[] = []
  for (let i = 0; i < conversations; i++) {
    const contact = await insertId(
      db,
      `INSERT INTO contacts (workspace_id, kind, external_id, name, created_at, updated_at) VALUES (?, 'whatsapp', ?, ?, 1, 1)`,
      [WS, `${CUSTOMER}${i}`, `Customer ${i}`],
    )
    ids.push(
      await insertId(
        db,
        `INSERT INTO conversations (workspace_id, channel_id, contact_id, window_expires_at, last_activity_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 1, 1, 1)`,
        [WS, channel, contact, NOW + 3_600_000],
      ),
    )
  }
  return { channel, conversations: ids }
}

type S = ReturnType<typeof build>

/** A reply recorded and enqueued in one unit, as an agent's send stores it. */
async function reply(db: DialectDb, s: S, conversationId: number, text: string, clientId: string): Promise<MessageRow> {
  return db.log.transact(function* (batch) {
    const conv = (yield* get<{ channelId: number; contactId: number }>(
      'SELECT channel_id AS "channelId", contact_id AS "contactId" FROM conversations WHERE id = ?',
      [conversationId],
    ))!
    const row = (yield* s.repos.conversations.conversationByChannelContact(conv.channelId, conv.contactId))!
    const recorded = yield* s.writer.record(
      batch,
      row,
      {
        direction: 'out',
        type: 'text',
        text,
        media: null,
        data: null,
        context: null,
        replyToMessageId: null,
        clientMessageId: clientId,
        senderUserId: null,
        status: 'queued',
        timestamp: NOW,
        createdAt: NOW,
        updatedAt: NOW,
      },
      {
        by: 'agent',
        now: NOW,
        alongside: function* (m) {
          yield* s.outbox.enqueue(m, 'whatsapp', { to: CUSTOMER, content: { type: 'text', body: text, previewUrl: false } })
        },
      },
    )
    return recorded!.message
  })
}

const claim = (db: DialectDb, s: S, channel: number) => db.log.transact((b) => s.outbox.claim(b, channel, 10, LEASE_MS))

function status(providerId: string, name: WaStatus['status'], at: number, callback: string | null = null): WaStatus {
  return { providerId, status: name, timestamp: at, recipientId: CUSTOMER, bizOpaqueCallbackData: callback, error: null, raw: {} }
}

/** What a row and its message say, without the times a database's clock sets. */
async function picture(db: DialectDb, s: S, messageId: number) {
  return db.runner.read(function* () {
    const o = (yield* s.outbox.byMessage(messageId))!
    const m = (yield* s.repos.messages.messageRowById(messageId))!
    return {
      outbox: {
        state: o.state,
        attempts: o.attempts,
        leased: o.leaseUntil !== null,
        providerMessageId: o.providerMessageId,
        lastErrorCode: o.lastErrorCode,
        lastErrorText: o.lastErrorText,
      },
      message: {
        status: m.status,
        providerMessageId: m.providerMessageId,
        errorCode: m.errorCode,
        errorTitle: m.errorTitle,
        errorDetail: m.errorDetail,
        deliveredAt: m.deliveredAt,
        readAt: m.readAt,
        failedAt: m.failedAt,
      },
    }
  })
}

/** The published events as type and the message's status (the stream's view of the send). */
const eventsOf = (db: DialectDb) =>
  db.published.map((e) => {
    const data = JSON.parse(e.data) as { message?: { status?: string; providerMessageId?: string | null } }
    return `${e.type}:${data.message?.status ?? ''}:${data.message?.providerMessageId ?? ''}`
  })

t.test('a reply through the outbox: the same rows and events on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = build()
    const w = await seed(db)
    const conv = w.conversations[0]!
    const steps: Record<string, unknown> = {}

    // 1. Recorded and enqueued; claimed: the row is `sending` with a lease, the message too.
    const first = await reply(db, s, conv, 'hello', 'c-1')
    const claimed = await claim(db, s, w.channel)
    t.same(
      claimed.map((r) => r.messageId),
      [first.id],
      'the reply is claimed',
    )
    t.same(await claim(db, s, w.channel), [], 'and only once')
    steps.claimed = await picture(db, s, first.id)

    // 2. A status outran the answer (kept pending); the answer names the wamid: sent, then delivered.
    await db.log.transact(() =>
      s.writer.keepPendingStatus({ channelId: w.channel, providerMessageId: 'wamid.1', status: 'delivered', timestamp: NOW + 5, raw: {} }),
    )
    await db.log.transact((b) => s.outbox.markSent(b, claimed[0]!.id, 'wamid.1'))
    steps.sent = await picture(db, s, first.id)
    // A later status for that wamid applies as usual.
    await db.log.transact(function* (b) {
      const m = (yield* s.repos.messages.messageByProviderId(w.channel, 'wamid.1'))!
      return yield* s.writer.applyStatus(b, m, { status: 'read', timestamp: NOW + 9, error: null })
    })
    steps.read = await picture(db, s, first.id)
    // The same answer again (a settle repeated) changes nothing.
    await db.log.transact((b) => s.outbox.markSent(b, claimed[0]!.id, 'wamid.1'))

    // 3. Meta refuses with a code: failed, with the plain reason.
    const second = await reply(db, s, conv, 'are you there?', 'c-2')
    const [c2] = await claim(db, s, w.channel)
    await db.log.transact((b) =>
      s.outbox.markFailed(b, c2!.id, { code: 131047, title: 'Re-engagement message', reason: plainReason(131047, null) }),
    )
    steps.failed = await picture(db, s, second.id)

    // 4. An ambiguous answer: unknown, never resent by itself.
    const third = await reply(db, s, conv, 'one more', 'c-3')
    const [c3] = await claim(db, s, w.channel)
    await db.log.transact((b) => s.outbox.markUnknown(b, c3!.id, 'timeout'))
    steps.unknown = await picture(db, s, third.id)
    t.same(await claim(db, s, w.channel), [], 'an unknown send is not claimed again')

    // 5. A status naming the row by its callback tag (the answer never came) reconciles it.
    const tag = s.outbox.callbackData(c3!)
    const foreign = await db.log.transact((b) =>
      s.outbox.reconcileStatus({ id: w.channel }, status('wamid.x', 'sent', NOW + 20, 'parley:another-install:1'), b),
    )
    t.equal(foreign, undefined, "another install's tag settles nothing")
    const reconciled = await db.log.transact(function* (b) {
      const m = yield* s.outbox.reconcileStatus({ id: w.channel }, status('wamid.3', 'delivered', NOW + 30, tag), b)
      // The caller (the ingest) applies the status itself once the wamid is known.
      return m ? yield* s.writer.applyStatus(b, m, { status: 'delivered', timestamp: NOW + 30, error: null }) : undefined
    })
    t.equal(reconciled?.providerMessageId, 'wamid.3', 'the unknown send is named by the status')
    steps.reconciled = await picture(db, s, third.id)
    return { steps, events: eventsOf(db) }
  })
  const s = sqlite.steps as Record<string, Awaited<ReturnType<typeof picture>>>
  t.match(s.claimed, { outbox: { state: 'sending', attempts: 1, leased: true }, message: { status: 'sending' } })
  t.match(s.sent, {
    outbox: { state: 'sent', leased: false, providerMessageId: 'wamid.1' },
    message: { status: 'delivered', deliveredAt: NOW + 5 },
  })
  t.match(s.read, { message: { status: 'read', readAt: NOW + 9 } })
  t.match(s.failed, {
    outbox: { state: 'failed', lastErrorCode: 131047 },
    message: {
      status: 'failed',
      errorCode: 131047,
      errorTitle: 'Re-engagement message',
      errorDetail: plainReason(131047, null),
      failedAt: NOW,
    },
  })
  t.match(s.unknown, {
    outbox: { state: 'unknown', lastErrorText: 'timeout' },
    message: { status: 'unknown', errorTitle: 'Not confirmed' },
  })
  t.match(s.reconciled, { outbox: { state: 'sent', providerMessageId: 'wamid.3' }, message: { status: 'delivered', errorTitle: null } })
  if (pg) {
    t.same(pg.steps, sqlite.steps, 'the same rows at every step')
    t.same(pg.events, sqlite.events, 'the same events, in the same order')
  }
  t.same(
    sqlite.events.filter((e) => e.startsWith('message.updated')),
    [
      'message.updated:sending:',
      'message.updated:delivered:wamid.1',
      'message.updated:read:wamid.1',
      'message.updated:sending:',
      'message.updated:failed:',
      'message.updated:sending:',
      'message.updated:unknown:',
      'message.updated:sent:wamid.3',
      'message.updated:delivered:wamid.3',
    ],
    'each transition told once',
  )
})

t.test('a note can never be enqueued, on either database', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = build()
    const w = await seed(db)
    const note = await db.runner.transact(() =>
      s.repos.messages.insertMessage({
        workspaceId: WS,
        conversationId: w.conversations[0]!,
        channelId: w.channel,
        direction: 'system',
        type: 'note',
        text: 'internal only',
        status: 'pending',
        timestamp: NOW,
        createdAt: NOW,
        updatedAt: NOW,
      }),
    )
    t.throws(
      () => s.outbox.enqueue(note!, 'whatsapp', { to: CUSTOMER, content: { type: 'text', body: 'x', previewUrl: false } }),
      OutboxRefused,
      'refused at the call',
    )
    // Inside a unit the refusal rolls the caller's work back.
    await t.rejects(
      db.log.transact(function* () {
        yield* run(`UPDATE messages SET text = 'changed' WHERE id = ?`, [note!.id])
        yield* s.outbox.enqueue(note!, 'whatsapp', { to: CUSTOMER, content: { type: 'text', body: 'x', previewUrl: false } })
      }),
      OutboxRefused,
    )
    return db.runner.read(function* () {
      return {
        text: (yield* s.repos.messages.messageRowById(note!.id))!.text,
        rows: Number((yield* get<{ n: number | string }>('SELECT count(*) AS n FROM outbox'))!.n),
      }
    })
  })
  t.same(sqlite, { text: 'internal only', rows: 0 })
  if (pg) t.same(pg, sqlite, 'the same on PostgreSQL')
})

t.test('SQLite: abandonSending at start turns every `sending` row unknown; later only run-out leases', async (t) => {
  const sqlite = await (async (db: DialectDb) => {
    const s = build()
    const w = await seed(db, 2)
    const a = await reply(db, s, w.conversations[0]!, 'a', 'a')
    const b = await reply(db, s, w.conversations[1]!, 'b', 'b')
    const rows = await claim(db, s, w.channel)
    t.equal(rows.length, 2)
    t.equal(await db.log.transact((batch) => s.outbox.abandonSending(batch, NOW)), 0, 'no lease has run out by now')
    t.equal(
      await db.log.transact((batch) => s.outbox.abandonSending(batch, NOW + LEASE_MS + 1, new Set([rows[0]!.id]))),
      1,
      'one in flight is skipped',
    )
    t.equal(await db.log.transact((batch) => s.outbox.abandonSending(batch)), 1, 'at start: the rest')
    return [(await picture(db, s, a.id)).message.status, (await picture(db, s, b.id)).message.status]
  })(await sqliteDb(t))
  t.same(sqlite, ['unknown', 'unknown'])
})

t.test('PostgreSQL: a run-out lease is abandoned once, even by two sessions at once', async (t) => {
  const db = await pgDb(t)
  if (!db) return t.pass('no PostgreSQL server: skipped')
  const s = build()
  const w = await seed(db, 6)
  const messages: MessageRow[] = []
  for (const [i, conv] of w.conversations.entries()) messages.push(await reply(db, s, conv, `m${i}`, `m${i}`))
  const rows: OutboxRow[] = await claim(db, s, w.channel)
  t.equal(rows.length, 6)
  // A live lease is never abandoned on PostgreSQL, even "at start" (another process is sending it).
  t.equal(await db.log.transact((b) => s.outbox.abandonSending(b)), 0, 'live leases stay')
  // Five leases in the past by the database's clock; the sixth still live.
  const expired = rows.slice(0, 5).map((r) => r.id)
  await db.exec(
    `UPDATE outbox SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint - 60000 WHERE id IN (${expired.map(() => '?').join(', ')})`,
    expired,
  )
  const published = db.published.length

  // Both sessions hold their transaction open at an advisory lock the test holds, after
  // abandoning: they overlap for sure, and neither may wait for the other's row locks
  // (SKIP LOCKED) or it would never reach the advisory lock.
  const GATE = 917_17
  const holder = await db.readOther(`SELECT pg_advisory_lock(${GATE}) AS x`)
  t.ok(holder, 'the gate is held')
  const session = () =>
    db.log.transact(function* (b) {
      const n = yield* s.outbox.abandonSending(b)
      yield* get(`SELECT pg_advisory_xact_lock_shared(${GATE}) AS x`)
      return n
    })
  const both = Promise.all([session(), session()])
  for (;;) {
    const [r] = await db.readOther<{ n: string | number }>(
      `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ? AND NOT granted`,
      [GATE],
    )
    if (Number(r!.n) === 2) break
    await new Promise((resolve) => setImmediate(resolve))
  }
  await db.readOther(`SELECT pg_advisory_unlock(${GATE}) AS x`)
  const [n1, n2] = await both
  t.equal(n1 + n2, 5, `every run-out lease moved exactly once between the two sessions (${n1} + ${n2})`)
  t.equal(await db.log.transact((b) => s.outbox.abandonSending(b)), 0, 'and never again')

  const states = await db.runner.read(function* () {
    const out: string[] = []
    for (const m of messages)
      out.push(`${(yield* s.outbox.byMessage(m.id))!.state}/${(yield* s.repos.messages.messageRowById(m.id))!.status}`)
    return out
  })
  t.same(states, [...Array(5).fill('unknown/unknown'), 'sending/sending'], 'the live lease is still sending')
  const told = db.published
    .slice(published)
    .map((e) => `${e.type}:${(JSON.parse(e.data) as { message: { id: number; status: string } }).message.status}`)
  t.same(told, Array(5).fill('message.updated:unknown'), 'one event per abandoned send')
  const ids = db.published.slice(published).map((e) => (JSON.parse(e.data) as { message: { id: number } }).message.id)
  t.same(
    [...ids].sort((a, b) => a - b),
    messages.slice(0, 5).map((m) => m.id),
    'each message told once',
  )
})

t.test("replies' reads (channel lookups, mark-as-read) are units: the same answers on both", async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const w = await seed(db, 2)
    const repos = inboxRepos()
    const channels = new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7)))
    await db.runner.transact(() => channels.update(w.channel, { accessToken: 'token-1' }))
    await db.exec(
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, provider_message_id, status, "timestamp", created_at, updated_at)
       VALUES (?, ?, ?, 'in', 'text', 'hi', 'wamid.IN', 'received', 1, 1, 1)`,
      [WS, w.conversations[0], w.channel],
    )
    const warns: Array<{ conversationId?: number; msg: string }> = []
    // Only what these reads use; Meta is an address nothing answers at, so a mark-as-read that
    // got as far as sending fails, and says so in the log.
    const replies = new Replies({
      store: { ...repos, channels },
      reads: db.runner,
      providers: new ChannelProviders(new GraphHttp({ baseUrl: () => 'http://127.0.0.1:9', timeoutMs: 1000 })),
      markRead: true,
      log: { warn: (o: { conversationId?: number }, msg: string) => warns.push({ conversationId: o.conversationId, msg }) },
    } as unknown as RepliesDeps)
    const byId = await replies.channel(w.channel)
    const first = await replies.whatsappChannel(WS)
    const none = await replies.whatsappChannel(2)
    await replies.markReadOnWhatsApp(WS, w.conversations[1]!) // no inbound message: nothing to mark
    await replies.markReadOnWhatsApp(WS, 999_999) // no such conversation
    await replies.markReadOnWhatsApp(WS, w.conversations[0]!)
    return {
      byId: byId && { name: byId.name, token: byId.accessToken },
      first: first?.id === w.channel,
      none: none ?? null,
      warns: warns.map((x) => ({ ...x, conversationId: x.conversationId === w.conversations[0] ? 'first' : x.conversationId })),
    }
  })
  t.same(sqlite, {
    byId: { name: 'Main', token: 'token-1' },
    first: true,
    none: null,
    warns: [{ conversationId: 'first', msg: 'mark-as-read on WhatsApp failed' }],
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
})
