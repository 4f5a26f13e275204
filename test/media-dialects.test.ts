// Media jobs, webhook leftovers, mentions and meta written once for both databases (issue 17):
// the repositories' units, on a fresh SQLite and a fresh PostgreSQL database from their real
// migrations, give the same answers; another workspace's rows are absent. A claimed download
// is settled conditionally: stored only while pending (the second process to finish keeps
// nothing), failed or given back only while the row carries that claim's lease. On PostgreSQL,
// three sessions claiming due media downloads at once never claim one twice, a claim whose
// lease has passed is due again, and two sessions taking one message's pending statuses at
// once take each status exactly once, in timestamp order.
import t from 'tap'
import { until as pollUntil } from './helpers/emulator.ts'
import type { Test } from 'tap'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { MediaRepo, type MediaRow, type NewMedia } from '../src/store/media.ts'
import { MentionsRepo } from '../src/store/mentions.ts'
import { bumpMeta, metaValue } from '../src/store/meta.ts'
import { PgRunner } from '../src/store/runner.ts'
import { all, get, type Q, run, step } from '../src/store/unit.ts'
import { PendingStatuses, rawWebhook } from '../src/store/webhook-leftovers.ts'
import { type DialectDb, insertId, onBoth } from './helpers/dialects.ts'
import { freshPgDatabase } from './helpers/pg.ts'

const WS = 1
const OTHER_WS = 2

/** The project's poll (helpers/emulator.ts), named first as these tests read. */
const until = (what: string, check: () => Promise<boolean>) => pollUntil(check, what)

/** Users, channels, a contact, conversations and notes in both workspaces. */
async function seed(db: { runner: DialectDb['runner'] }) {
  const user = (ws: number, name: string, role: string, disabledAt: number | null = null) =>
    insertId(db, 'INSERT INTO users (workspace_id, email, name, password_hash, role, disabled_at) VALUES (?, ?, ?, ?, ?, ?)', [
      ws,
      `${name.toLowerCase().replace(/ /g, '.')}@x.test`,
      name,
      'x',
      role,
      disabledAt,
    ])
  const admin = await user(WS, 'Admin', 'admin')
  const ana = await user(WS, 'Ana', 'agent')
  const anaLima = await user(WS, 'Ana Lima', 'agent')
  const gone = await user(WS, 'Gone', 'agent', 5)
  const zed = await user(OTHER_WS, 'Zed', 'admin')
  const channel = (ws: number, external: string) =>
    insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, ?)`, [
      ws,
      external,
      `Line ${external}`,
    ])
  const ch1 = await channel(WS, 'p1')
  const ch2 = await channel(WS, 'p2')
  const chz = await channel(OTHER_WS, 'pz')
  await db.runner.transact(() => run('INSERT INTO channel_members (channel_id, user_id) VALUES (?, ?)', [ch1, ana]))
  const contact = (ws: number, external: string) =>
    insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id, name, phone) VALUES (?, 'whatsapp', ?, ?, ?)`, [
      ws,
      external,
      `Customer ${external}`,
      `+${external}`,
    ])
  const c1 = await contact(WS, '551')
  const cz = await contact(OTHER_WS, '559')
  const conversation = (ws: number, ch: number, c: number) =>
    insertId(db, 'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, ?, ?, 1)', [ws, ch, c])
  const v1 = await conversation(WS, ch1, c1)
  const v2 = await conversation(WS, ch2, c1)
  const vz = await conversation(OTHER_WS, chz, cz)
  const message = (ws: number, v: number, ch: number, direction: string, type: string, text: string | null, author: number | null) =>
    insertId(
      db,
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, "timestamp", created_at, updated_at, text, sender_user_id)
       VALUES (?, ?, ?, ?, ?, 'received', 10, 10, 10, ?, ?)`,
      [ws, v, ch, direction, type, text, author],
    )
  const n1 = await message(WS, v1, ch1, 'system', 'note', '@Ana look', admin)
  const n2 = await message(WS, v2, ch2, 'system', 'note', '@Admin and @Ana', anaLima)
  const nz = await message(OTHER_WS, vz, chz, 'system', 'note', '@Zed', zed)
  const img = await message(WS, v1, ch1, 'in', 'image', null, null)
  const imgz = await message(OTHER_WS, vz, chz, 'in', 'image', null, null)
  return { admin, ana, anaLima, gone, zed, ch1, ch2, chz, c1, v1, v2, vz, n1, n2, nz, img, imgz }
}

/** A media row as both databases must agree on it; a lease from PostgreSQL's clock is only "in the future". */
const leased = (rows: MediaRow[], leaseEnd: number) =>
  rows.map((r) => ({ ...r, nextAttemptAt: (r.nextAttemptAt ?? 0) >= leaseEnd ? 'leased' : r.nextAttemptAt }))

function pendingIn(ws: number, channelId: number, messageId: number, providerMediaId: string, dueAt: number): NewMedia {
  return {
    workspaceId: ws,
    channelId,
    messageId,
    direction: 'in',
    providerMediaId,
    state: 'pending',
    mimeType: 'image/jpeg',
    filename: null,
    sha256: 'abc=',
    nextAttemptAt: dueAt,
    createdAt: 1,
    updatedAt: 1,
  }
}

t.test('media rows: the same answers on both, claims leased, another workspace absent', async (t) => {
  const repo = new MediaRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const tx = <T>(unit: () => Q<T>) => db.runner.transact(unit)
    const o: Record<string, unknown> = {}
    await tx(function* () {
      yield* repo.insertMedia(pendingIn(WS, s.ch1, s.img, 'wa-1', 300))
      yield* repo.insertMedia(pendingIn(WS, s.ch1, s.img, 'wa-2', 100))
      yield* repo.insertMedia(pendingIn(OTHER_WS, s.chz, s.imgz, 'wa-z', 150))
      yield* repo.insertMedia(pendingIn(WS, s.ch1, s.img, 'wa-3', 200))
      yield* repo.insertMedia(pendingIn(WS, s.ch1, s.img, 'wa-later', 5000))
    })
    o.upload = await tx(() =>
      repo.insertMediaReturning({
        workspaceId: WS,
        direction: 'out',
        state: 'stored',
        mimeType: 'application/pdf',
        filename: 'offer.pdf',
        sha256: 'q==',
        size: 42,
        path: 'f00d',
        uploadedBy: s.admin,
        createdAt: 7,
        updatedAt: 7,
      }),
    )
    const upload = (o.upload as MediaRow).id
    o.nextDue = await db.runner.read(() => repo.nextInboundMediaDueAt(250))
    o.nextDueNone = await db.runner.read(() => repo.nextInboundMediaDueAt(5000))
    // Two claimed of four due (earliest first), then the other two; then nothing is due.
    o.claim1 = leased(await tx(() => repo.claimDueInbound(250, 2, 1000)), 1250)
    o.claim2 = leased(await tx(() => repo.claimDueInbound(250, 10, 1000)), 1250)
    o.claim3 = await tx(() => repo.claimDueInbound(250, 10, 1000))
    // A claim whose process died: its lease passes (set here by SQL) and it is due again.
    const idOf = async (name: string) =>
      (await db.runner.read(() => get<{ id: number }>('SELECT id FROM media WHERE provider_media_id = ?', [name])))!.id
    const wa3 = await idOf('wa-3')
    const wa2 = await idOf('wa-2')
    o.ids = { wa3, wa2, upload, n1: s.n1, img: s.img }
    await db.exec('UPDATE media SET next_attempt_at = ? WHERE id = ?', [240, wa3])
    o.claimAgain = leased(await tx(() => repo.claimDueInbound(250, 10, 1000)), 1250)
    const one = (r: MediaRow | undefined) => (r === undefined ? r : leased([r], 1250)[0])
    o.failed = one(await tx(() => repo.updateMedia(wa3, { state: 'failed', attempts: 6, lastError: 'gone', updatedAt: 9 })))
    o.stored = one(await tx(() => repo.updateMedia(wa2, { state: 'stored', path: 'beef', size: 3, updatedAt: 9 })))
    o.byId = one(await db.runner.read(() => repo.mediaById(wa3)))
    o.missing = await db.runner.read(() => repo.mediaById(9999))
    o.storedUpload = await db.runner.read(() => repo.storedUpload(WS, upload))
    o.storedUploadOther = await db.runner.read(() => repo.storedUpload(OTHER_WS, upload))
    o.inboundIsNoUpload = await db.runner.read(() => repo.storedUpload(WS, wa2))
    o.file = one(await db.runner.read(() => repo.storedMediaFile(WS, wa2)))
    o.fileOther = await db.runner.read(() => repo.storedMediaFile(OTHER_WS, wa2))
    o.fileFailed = await db.runner.read(() => repo.storedMediaFile(WS, wa3))
    await tx(() => repo.attachUpload(upload, s.n1, 11))
    await tx(() => repo.attachUpload(wa3, s.n1, 11)) // inbound: not an upload, unchanged
    o.attached = await db.runner.read(() => repo.mediaById(upload))
    o.notAttached = ((await db.runner.read(() => repo.mediaById(wa3))) as MediaRow).messageId
    return o
  })
  t.equal(sqlite.nextDue, 300)
  t.equal(sqlite.nextDueNone, null)
  t.equal(
    (sqlite.claim1 as MediaRow[]).map((r) => r.providerMediaId).join(),
    'wa-2,wa-z',
    'the two earliest due claimed (id order), every workspace (the fetcher is one)',
  )
  t.ok(
    (sqlite.claim1 as { nextAttemptAt: unknown }[]).every((r) => r.nextAttemptAt === 'leased'),
    'claimed rows carry the lease',
  )
  t.equal((sqlite.claim2 as MediaRow[]).map((r) => r.providerMediaId).join(), 'wa-3', 'then the rest that is due')
  t.same(sqlite.claim3, [], 'a claimed row is not due for anyone else')
  t.equal((sqlite.claimAgain as MediaRow[]).map((r) => r.providerMediaId).join(), 'wa-3', 'a lease that passed is due again')
  t.match(sqlite.storedUpload, { filename: 'offer.pdf', direction: 'out', state: 'stored' })
  t.equal(sqlite.storedUploadOther, undefined, "another workspace's upload is absent")
  t.equal(sqlite.inboundIsNoUpload, undefined)
  t.match(sqlite.file, { path: 'beef', state: 'stored', size: 3 })
  t.equal(sqlite.fileOther, undefined, "another workspace's file is absent")
  t.equal(sqlite.fileFailed, undefined)
  const ids = sqlite.ids as { n1: number; img: number }
  t.match(sqlite.attached, { messageId: ids.n1, updatedAt: 11 })
  t.equal(sqlite.notAttached, ids.img, 'only an upload is attached')
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly as SQLite')
})

t.test('settling claims: the store is conditional on pending, a failure on the claim still holding', async (t) => {
  const repo = new MediaRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const tx = <T>(unit: () => Q<T>) => db.runner.transact(unit)
    const o: Record<string, unknown> = {}
    await tx(function* () {
      for (const name of ['wa-a', 'wa-b', 'wa-c']) yield* repo.insertMedia(pendingIn(WS, s.ch1, s.img, name, 100))
    })
    const claimed = await tx(() => repo.claimDueInbound(200, 10, 1000))
    const [a, b, c] = claimed as [MediaRow, MediaRow, MediaRow]
    const lease = (r: MediaRow) => r.nextAttemptAt!
    const one = (r: MediaRow | undefined) => (r === undefined ? r : leased([r], 1200)[0])
    o.claimed = leased(claimed, 1200)
    const got = { path: 'f1', size: 3, mimeType: 'image/png', updatedAt: 20 }
    // Two processes finished the same download: the first stores it, the second finds it stored.
    o.storedFirst = one(await tx(() => repo.storePendingInbound(a.id, got)))
    o.storedSecond = await tx(() => repo.storePendingInbound(a.id, { ...got, path: 'f2' }))
    o.failStored = await tx(() => repo.settleClaim(a.id, lease(a), { attempts: 1, lastError: 'late', nextAttemptAt: 900, updatedAt: 21 }))
    // A failed try under another lease than the row carries (taken over) changes nothing;
    // under its own it ends the lease with the retry time.
    o.failTakenOver = await tx(() =>
      repo.settleClaim(b.id, lease(b) + 1, { attempts: 1, lastError: 'x', nextAttemptAt: 500, updatedAt: 22 }),
    )
    o.failOwn = await tx(() => repo.settleClaim(b.id, lease(b), { attempts: 1, lastError: 'timeout', nextAttemptAt: 500, updatedAt: 22 }))
    o.failOwnAgain = await tx(() => repo.settleClaim(b.id, lease(b), { attempts: 2, lastError: 'x', nextAttemptAt: 600, updatedAt: 23 }))
    o.giveUp = one(await tx(() => repo.settleClaim(c.id, lease(c), { state: 'failed', attempts: 6, lastError: 'gone', updatedAt: 24 })))
    o.storeFailed = await tx(() => repo.storePendingInbound(c.id, got))
    // Given back at stop: due at once.
    const [b2] = await tx(() => repo.claimDueInbound(550, 10, 1000))
    o.reclaimed = one(b2)
    o.givenBack = await tx(() => repo.settleClaim(b2!.id, lease(b2!), { nextAttemptAt: 560, updatedAt: 25 }))
    o.claimAfterGiveBack = (await tx(() => repo.claimDueInbound(570, 10, 1000))).map((r) => r.providerMediaId)
    const upload = await tx(() =>
      repo.insertMediaReturning({ workspaceId: WS, direction: 'out', state: 'pending', createdAt: 1, updatedAt: 1, nextAttemptAt: 5 }),
    )
    o.uploadNotStored = await tx(() => repo.storePendingInbound(upload.id, got))
    o.uploadNotSettled = await tx(() => repo.settleClaim(upload.id, 5, { nextAttemptAt: 6 }))
    o.rows = leased(
      await db.runner
        .read(() => all<MediaRow>(`SELECT id FROM media ORDER BY id`))
        .then((ids) => Promise.all(ids.map((r) => db.runner.read(() => repo.mediaById(r.id)) as Promise<MediaRow>))),
      1200,
    )
    return o
  })
  t.match(sqlite.storedFirst, { providerMediaId: 'wa-a', state: 'stored', path: 'f1', size: 3, mimeType: 'image/png', updatedAt: 20 })
  t.equal(sqlite.storedSecond, undefined, 'the second store finds the row stored: nothing written')
  t.equal(sqlite.failStored, undefined, 'a stored row takes no failure')
  t.equal(sqlite.failTakenOver, undefined, 'a claim another process took over is not settled')
  t.match(sqlite.failOwn, { providerMediaId: 'wa-b', state: 'pending', attempts: 1, lastError: 'timeout', nextAttemptAt: 500 })
  t.equal(sqlite.failOwnAgain, undefined, 'a claim is settled once')
  t.match(sqlite.giveUp, { providerMediaId: 'wa-c', state: 'failed', attempts: 6 })
  t.equal(sqlite.storeFailed, undefined, 'a row given up is not stored')
  t.match(sqlite.givenBack, { providerMediaId: 'wa-b', nextAttemptAt: 560 })
  t.same(sqlite.claimAfterGiveBack, ['wa-b'], 'a claim given back is due again')
  t.equal(sqlite.uploadNotStored, undefined, 'an upload is no download')
  t.equal(sqlite.uploadNotSettled, undefined)
  t.match(sqlite.rows, [
    { providerMediaId: 'wa-a', state: 'stored', path: 'f1' },
    { providerMediaId: 'wa-b', state: 'pending', nextAttemptAt: 'leased' },
    { providerMediaId: 'wa-c', state: 'failed' },
    { direction: 'out' },
  ])
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly as SQLite')
})

t.test('webhook leftovers and meta: the same answers on both', async (t) => {
  const pending = new PendingStatuses()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const tx = <T>(unit: () => Q<T>) => db.runner.transact(unit)
    const keep = (status: string, timestamp: number, raw: unknown = { status, timestamp }) =>
      tx(() => pending.keep({ channelId: s.ch1, providerMessageId: 'wamid.A', status, timestamp, raw }))
    await keep('read', 30)
    await keep('delivered', 20)
    await keep('delivered', 20, { again: true }) // Meta's duplicate: stored once
    await keep('sent', 20, null) // same second as delivered: arrival order breaks the tie
    await tx(() => pending.keep({ channelId: s.ch2, providerMessageId: 'wamid.A', status: 'sent', timestamp: 1, raw: 'x' }))
    const o: Record<string, unknown> = {}
    o.stored = await db.runner.read(() => all('SELECT count(*) AS "n" FROM pending_statuses'))
    // Ids and kept times are each database's own (PostgreSQL's identity counts the duplicate).
    o.taken = (await tx(() => pending.take(s.ch1, 'wamid.A'))).map(({ id: _id, createdAt: _at, ...r }) => r)
    o.takenAgain = await tx(() => pending.take(s.ch1, 'wamid.A'))
    o.otherChannel = (await tx(() => pending.take(s.ch2, 'wamid.A'))).map(({ id: _id, createdAt: _at, ...r }) => r)
    await tx(() => rawWebhook('whatsapp', 'unknown_channel:9', { entry: [{ id: 'x' }] }))
    await tx(() => rawWebhook('messenger', 'malformed_json', '{not json'))
    o.raw = await db.runner.read(() => all('SELECT provider, reason, body FROM raw_webhooks ORDER BY id'))
    o.metaMissing = await db.runner.read(() => metaValue('probe'))
    await tx(() => bumpMeta('probe'))
    await tx(() => bumpMeta('probe'))
    o.meta = await db.runner.read(() => metaValue('probe'))
    return o
  })
  t.same(
    (sqlite.taken as { status: string; raw: unknown }[]).map((r) => [r.status, r.raw]),
    [
      ['delivered', { status: 'delivered', timestamp: 20 }],
      ['sent', null],
      ['read', { status: 'read', timestamp: 30 }],
    ],
    'kept twice, stored once; taken in timestamp order (ties in arrival order)',
  )
  t.same(sqlite.takenAgain, [], 'taken once')
  t.match(sqlite.otherChannel, [{ status: 'sent', raw: 'x' }])
  t.same(sqlite.raw, [
    { provider: 'whatsapp', reason: 'unknown_channel:9', body: '{"entry":[{"id":"x"}]}' },
    { provider: 'messenger', reason: 'malformed_json', body: '{not json' },
  ])
  t.equal(sqlite.metaMissing, undefined)
  t.equal(sqlite.meta, '2')
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly as SQLite')
})

t.test('mentions: the same answers on both, scoped to the channels a person sees and to the workspace', async (t) => {
  const mentions = new MentionsRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const tx = <T>(unit: () => Q<T>) => db.runner.transact(unit)
    const o: Record<string, unknown> = { s }
    o.people = await db.runner.read(() => mentions.people(WS))
    o.peopleOther = await db.runner.read(() => mentions.people(OTHER_WS))
    o.member = await db.runner.read(() => mentions.isMember(s.ch1, s.ana))
    o.notMember = await db.runner.read(() => mentions.isMember(s.ch2, s.ana))
    o.channelName = await db.runner.read(() => mentions.channelName(s.ch2))
    o.noChannel = await db.runner.read(() => mentions.channelName(9999))
    const mention = (userId: number, conversationId: number, messageId: number, authorId: number, createdAt: number) =>
      tx(() => mentions.insert({ workspaceId: WS, userId, conversationId, messageId, authorId, createdAt }))
    o.m1 = await mention(s.ana, s.v1, s.n1, s.admin, 100)
    o.m1again = await mention(s.ana, s.v1, s.n1, s.admin, 101)
    o.m2 = await mention(s.ana, s.v2, s.n2, s.anaLima, 200)
    o.m3 = await mention(s.admin, s.v2, s.n2, s.anaLima, 200)
    o.mz = await tx(() =>
      mentions.insert({ workspaceId: OTHER_WS, userId: s.zed, conversationId: s.vz, messageId: s.nz, authorId: s.zed, createdAt: 300 }),
    )
    const list = (ws: number, user: number, channels: number[] | null, opts: { limit: number; beforeId?: number }) =>
      db.runner.read(() => mentions.list(ws, user, channels, opts))
    o.anaAll = await list(WS, s.ana, null, { limit: 10 })
    o.anaCh1 = await list(WS, s.ana, [s.ch1], { limit: 10 })
    o.anaNone = await list(WS, s.ana, [], { limit: 10 })
    o.anaPage = await list(WS, s.ana, null, { limit: 1 })
    o.anaBefore = await list(WS, s.ana, null, { limit: 10, beforeId: (o.m2 as { id: number }).id })
    o.zedInWs = await list(WS, s.zed, null, { limit: 10 })
    o.anaInOther = await list(OTHER_WS, s.ana, null, { limit: 10 })
    o.unreadAll = await db.runner.read(() => mentions.unread(WS, s.ana, null))
    o.unreadCh1 = await db.runner.read(() => mentions.unread(WS, s.ana, [s.ch1]))
    o.readSome = await tx(() => mentions.markRead(WS, s.ana, [(o.m2 as { id: number }).id, (o.m3 as { id: number }).id], 500))
    o.readOtherWs = await tx(() => mentions.markRead(OTHER_WS, s.zed, [(o.m1 as { id: number }).id], 500))
    o.unreadAfter = await db.runner.read(() => mentions.unread(WS, s.ana, null))
    o.readAll = await tx(() => mentions.markRead(WS, s.ana, null, 600))
    o.readAllAgain = await tx(() => mentions.markRead(WS, s.ana, null, 700))
    o.afterRead = await list(WS, s.ana, null, { limit: 10 })
    o.deleted = await tx(() => mentions.deleteOfMessage(s.n2))
    o.left = await db.runner.read(() => all('SELECT id FROM mentions ORDER BY id'))
    o.zedUnread = await db.runner.read(() => mentions.unread(OTHER_WS, s.zed, null))
    return o
  })
  const s = sqlite.s as Awaited<ReturnType<typeof seed>>
  const ids = (v: unknown) => (v as { id: number }[]).map((m) => m.id)
  t.same(
    (sqlite.people as { name: string; disabled: boolean }[]).map((p) => [p.name, p.disabled]),
    [
      ['Ana Lima', false],
      ['Admin', false],
      ['Gone', true],
      ['Ana', false],
    ],
    'longest name first, deactivated people marked',
  )
  t.same(
    (sqlite.peopleOther as { name: string }[]).map((p) => p.name),
    ['Zed'],
  )
  t.equal(sqlite.member, true)
  t.equal(sqlite.notMember, false)
  t.equal(sqlite.channelName, 'Line p2')
  t.equal(sqlite.noChannel, undefined)
  t.match(sqlite.m1, {
    conversationId: s.v1,
    messageId: s.n1,
    author: { id: s.admin, name: 'Admin' },
    text: '@Ana look',
    createdAt: 100,
    readAt: null,
    contact: { id: s.c1, name: 'Customer 551', phone: '+551' },
  })
  t.equal(sqlite.m1again, undefined, 'a note names a person once')
  const m1 = (sqlite.m1 as { id: number }).id
  const m2 = (sqlite.m2 as { id: number }).id
  const m3 = (sqlite.m3 as { id: number }).id
  t.same(ids(sqlite.anaAll), [m2, m1], 'newest first')
  t.same(ids(sqlite.anaCh1), [m1], 'only the channels she sees')
  t.same(ids(sqlite.anaNone), [])
  t.same(ids(sqlite.anaPage), [m2])
  t.same(ids(sqlite.anaBefore), [m1])
  t.same(sqlite.zedInWs, [], "another workspace's person has nothing here")
  t.same(sqlite.anaInOther, [], "nothing of this workspace in another's")
  t.equal(sqlite.unreadAll, 2)
  t.equal(sqlite.unreadCh1, 1)
  t.same(sqlite.readSome, [m2], "only her own mentions (the admin's is not hers)")
  t.same(sqlite.readOtherWs, [], "another workspace's person reads nothing here")
  t.equal(sqlite.unreadAfter, 1)
  t.same(sqlite.readAll, [m1])
  t.same(sqlite.readAllAgain, [])
  t.match(sqlite.afterRead, [
    { id: m2, readAt: 500 },
    { id: m1, readAt: 600 },
  ])
  t.same(
    sqlite.deleted,
    [
      { id: m2, userId: s.ana },
      { id: m3, userId: s.admin },
    ],
    'the note’s mentions, who was named',
  )
  t.same(ids(sqlite.left), [m1, (sqlite.mz as { id: number }).id])
  t.equal(sqlite.zedUnread, 1)
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly as SQLite')
})

/** A PostgreSQL database with a runner on a pool big enough for the sessions a test holds at once. */
async function pgRunner(t: Test, max: number) {
  const url = await freshPgDatabase(t)
  if (!url) return undefined
  await migratePg(url, 'media-test')
  const pool = openPgPool(url, { nodeId: 'media-test', max })
  t.teardown(() => pool.end())
  await pool.query(`INSERT INTO workspaces (name) VALUES ('W'), ('Other')`)
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

t.test('PostgreSQL: three sessions claiming due media at once never claim one row twice', async (t) => {
  const runner = await pgRunner(t, 6)
  if (!runner) return
  const s = await seed({ runner })
  const repo = new MediaRepo()
  await runner.transact(function* () {
    for (let i = 0; i < 10; i++) yield* repo.insertMedia(pendingIn(WS, s.ch1, s.img, `wa-${i}`, 100 + i))
  })
  // A session holds the table so that all three claims wait on it, then start together.
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  let held = false
  const holder = runner.transact(function* () {
    yield* run('LOCK TABLE media IN EXCLUSIVE MODE')
    held = true
    yield* step(() => gate)
  })
  await until('the holder to lock the table', async () => held)
  const claims = [1, 2, 3].map(() => runner.transact(() => repo.claimDueInbound(1000, 4, 60_000)))
  try {
    await until('the three claims to wait on the held lock', async () => (await waitingOnLocks(runner)) === 3)
  } finally {
    release()
  }
  await holder
  const got = await Promise.all(claims)
  const all = got.flatMap((rows) => rows.map((r) => r.id))
  t.equal(new Set(all).size, all.length, 'no row claimed twice')
  t.equal(all.length, 10, 'every due row claimed by one of them (4 + 4 + 2)')
  t.same(await runner.transact(() => repo.claimDueInbound(1000, 10, 60_000)), [], 'nothing is due while the leases run')
  // One process died holding these: their lease passes and another claims them again.
  const dead = got[0]!.map((r) => r.id)
  await runner.transact(() => run('UPDATE media SET next_attempt_at = 0 WHERE id = ANY(?::bigint[])', [dead]))
  const again = await runner.transact(() => repo.claimDueInbound(1000, 10, 60_000))
  t.same(
    again.map((r) => r.id),
    [...dead].sort((a, b) => a - b),
    'a claim whose lease passed is due again',
  )
  const clock = await runner.read(() => get<{ now: number }>(`SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS "now"`))
  t.ok(
    again.every((r) => (r.nextAttemptAt ?? 0) > clock!.now),
    "the lease runs on the database's clock",
  )
})

t.test('PostgreSQL: two sessions taking one message’s pending statuses at once take each exactly once', async (t) => {
  const runner = await pgRunner(t, 4)
  if (!runner) return
  const s = await seed({ runner })
  const pending = new PendingStatuses()
  for (const [status, ts] of [
    ['read', 30],
    ['sent', 10],
    ['delivered', 20],
  ] as const) {
    await runner.transact(() => pending.keep({ channelId: s.ch1, providerMessageId: 'wamid.B', status, timestamp: ts, raw: null }))
  }
  // The first taker stays open after its take; the second must wait for it, then find nothing.
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  let took = false
  const first = runner.transact(function* () {
    const rows = yield* pending.take(s.ch1, 'wamid.B')
    took = true
    yield* step(() => gate)
    return rows
  })
  await until('the first take', async () => took)
  const second = runner.transact(() => pending.take(s.ch1, 'wamid.B'))
  try {
    await until('the second take to wait on the first', async () => (await waitingOnLocks(runner)) === 1)
  } finally {
    release()
  }
  const [a, b] = await Promise.all([first, second])
  t.same(
    a.map((r) => r.status),
    ['sent', 'delivered', 'read'],
    'the first took all, in timestamp order',
  )
  t.same(b, [], 'the second took none of them')
})
