// The inbox's actions as units of work (issue 17): a note with its mentions and its
// deletion, a conversation's status, one person's read and a conversation's labels run
// through a UnitLog on a fresh SQLite and a fresh PostgreSQL database from their real
// migrations, and give the same rows and the same events (types, audiences, order) on both.
// Another workspace's conversation is not found. On PostgreSQL, two sessions setting the
// same conversation's status at the same moment write one line and one event, not two.
import t, { type Test } from 'tap'
import { until as pollUntil } from './helpers/emulator.ts'
import { AppError } from '../src/errors.ts'
import type { Access } from '../src/domain/accounts/access.ts'
import {
  type ConversationStatus,
  conversationInScopeUnit,
  setConversationStatus,
  setConversationStatusUnit,
} from '../src/domain/inbox/conversation-status.ts'
import { InboxWriter } from '../src/domain/inbox/writer.ts'
import { Labels } from '../src/domain/labels/labels.ts'
import { Notes } from '../src/domain/notes/notes.ts'
import { inboxRepos } from '../src/store/inbox-store.ts'
import { LabelsRepo } from '../src/store/labels.ts'
import { MentionsRepo } from '../src/store/mentions.ts'
import { get, type Q, step } from '../src/store/unit.ts'
import { type DialectDb, insertId, onBoth, pgDb } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2

function actionsOn(db: DialectDb) {
  let clock = 1_000_000
  const now = () => ++clock
  const repos = inboxRepos()
  const writer = new InboxWriter(repos, now)
  return {
    repos,
    writer,
    now,
    notes: new Notes({ store: repos, writer, mentions: new MentionsRepo(), now, unitLog: db.log }),
    labels: new Labels({ repo: new LabelsRepo(), writer, now }),
    status: (who: { workspaceId: number; userId: number }, id: number, s: ConversationStatus) =>
      setConversationStatus({ repos, writer, now, unitLog: db.log }, who, id, s),
  }
}

async function seed(db: DialectDb) {
  const user = (ws: number, name: string, role = 'agent') =>
    insertId(db, `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, 'x', ?)`, [
      ws,
      `${name.toLowerCase()}@x`,
      name,
      role,
    ])
  const ana = await user(WS, 'Ana')
  const bo = await user(WS, 'Bo Lima')
  const cy = await user(WS, 'Cy')
  const zed = await user(OTHER_WS, 'Zed')
  const wa = await insertId(db, 'INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, ?, ?, ?)', [
    WS,
    'whatsapp',
    'pn1',
    'Sales',
  ])
  const otherCh = await insertId(db, 'INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, ?, ?, ?)', [
    OTHER_WS,
    'whatsapp',
    'pn9',
    'Elsewhere',
  ])
  for (const u of [ana, bo]) await db.exec('INSERT INTO channel_members (channel_id, user_id) VALUES (?, ?)', [wa, u])
  const contact = (ws: number, ext: string) =>
    insertId(db, 'INSERT INTO contacts (workspace_id, kind, external_id, name, phone) VALUES (?, ?, ?, ?, ?)', [
      ws,
      'whatsapp',
      ext,
      'Zoë',
      ext,
    ])
  const conversation = (ws: number, ch: number, ct: number, unread = 0) =>
    insertId(
      db,
      `INSERT INTO conversations (workspace_id, channel_id, contact_id, status, last_activity_at, unread_count, created_at, updated_at)
       VALUES (?, ?, ?, 'open', 500, ?, 1, 1)`,
      [ws, ch, ct, unread],
    )
  const conv = await conversation(WS, wa, await contact(WS, '4915100000001'))
  const other = await conversation(OTHER_WS, otherCh, await contact(OTHER_WS, '4915100000009'))
  // An unread customer message on the conversation a person reads below.
  const readConv = await conversation(WS, wa, await contact(WS, '4915100000002'), 1)
  await db.exec(
    `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, status, timestamp, provider_message_id, created_at, updated_at)
     VALUES (?, ?, ?, 'in', 'text', 'hi', 'received', 600, 'wamid.r1', 600, 600)`,
    [WS, readConv, wa],
  )
  const access = (userId: number, ws = WS, channels: number[] | null = [wa]): Access => ({
    workspaceId: ws,
    userId,
    role: channels === null ? 'admin' : 'agent',
    channelIds: channels === null ? null : new Set(channels),
  })
  return { ana, bo, cy, zed, wa, conv, other, readConv, access }
}

async function outcome<T>(run: () => Promise<T>): Promise<T | { error: string; status: number }> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof AppError) return { error: err.code, status: err.statusCode }
    throw err
  }
}

/** Events as published, with ids and times left out (they differ between the databases' runs). */
function eventsOf(db: DialectDb, from: number) {
  return db.published.slice(from).map((e) => ({ type: e.type, channelId: e.channelId, userId: e.userId, data: JSON.parse(e.data) }))
}

async function scenario(t: Test, db: DialectDb): Promise<Record<string, unknown>> {
  const s = await seed(db)
  const a = actionsOn(db)
  const r = <T>(unit: () => Q<T>) => db.runner.read(unit)
  const out: Record<string, unknown> = {}
  const ana = s.access(s.ana)
  let mark = db.published.length
  const since = () => {
    const e = eventsOf(db, mark)
    mark = db.published.length
    return e
  }

  // A note naming Bo (a member) and its author (nobody is told about themselves).
  const created = await a.notes.create(ana, s.conv, { text: 'Over to @Bo Lima, ask @Ana', mentions: [s.bo] })
  out.note = created
  const noteEvents = since()
  out.noteEvents = noteEvents
  t.same(
    noteEvents.map((e) => [e.type, e.channelId, e.userId]),
    [
      ['message.created', s.wa, null],
      ['mention.created', s.wa, s.bo],
    ],
    'message.created to the channel, mention.created to Bo alone',
  )
  out.mentionRows = await db.readOther('SELECT user_id, conversation_id, message_id, author_id FROM mentions ORDER BY id')
  out.noteRow = await db.readOther('SELECT direction, type, text, sender_user_id FROM messages WHERE id = ?', [created.note.id])
  out.boMentions = await a.notes.list(s.access(s.bo), { limit: 10 })
  // Cy works no channel of it: naming Cy refuses the whole note, and nothing is written.
  out.noAccess = await outcome(() => a.notes.create(ana, s.conv, { text: 'cc @Cy' }))
  out.afterRefusal = since()
  // Another workspace's conversation, and one outside the caller's channels: not found.
  out.otherWs = await outcome(() => a.notes.create(ana, s.other, { text: 'hello' }))
  out.otherWsAsZed = await outcome(() => a.notes.create(s.access(s.zed, OTHER_WS, []), s.other, { text: 'hello' }))
  // Someone else's note cannot be deleted; the author's can.
  out.deleteNotMine = await outcome(() => a.notes.delete(s.access(s.bo), s.conv, created.note.id))
  out.deleteOtherWs = await outcome(() => a.notes.delete(s.access(s.zed, OTHER_WS, null), s.conv, created.note.id))
  await a.notes.delete(ana, s.conv, created.note.id)
  const deleted = since()
  out.deleted = deleted
  t.same(
    deleted.map((e) => [e.type, e.channelId, e.userId]),
    [['message.deleted', s.wa, null]],
    'message.deleted to the channel',
  )
  out.mentionsAfterDelete = await db.readOther('SELECT id FROM mentions ORDER BY id')
  t.same(out.mentionsAfterDelete, [], 'the mention went with the note')

  // Status open → pending → resolved, each with its line and conversation.updated.
  const who = { workspaceId: WS, userId: s.ana }
  out.pending = await a.status(who, s.conv, 'pending')
  out.resolved = await a.status(who, s.conv, 'resolved')
  const statusEvents = since()
  out.statusEvents = statusEvents
  t.same(
    statusEvents.map((e) => [e.type, e.channelId, e.userId]),
    [
      ['message.created', s.wa, null],
      ['conversation.updated', s.wa, null],
      ['message.created', s.wa, null],
      ['conversation.updated', s.wa, null],
    ],
    'a line and conversation.updated for each change',
  )
  // The same status again: the conversation as it is, no event, no line.
  out.resolvedAgain = await a.status(who, s.conv, 'resolved')
  t.same(since(), [], 'the same status again emits nothing')
  out.statusOtherWs = await outcome(() => a.status({ workspaceId: OTHER_WS, userId: s.zed }, s.conv, 'open'))
  out.lines = await db.readOther(`SELECT type, text, data FROM messages WHERE conversation_id = ? AND type = 'activity' ORDER BY id`, [
    s.conv,
  ])
  t.equal((out.lines as unknown[]).length, 2, 'two lines')

  // One person reads: their unread 0, the event to them alone; another's stays.
  out.read = await db.log.transact(function* (batch) {
    yield* conversationInScopeUnit(a.repos, ana, s.readConv)
    return yield* a.writer.markRead(batch, WS, s.readConv, s.ana, a.now())
  })
  const readEvents = since()
  out.readEvents = readEvents
  t.same(
    readEvents.map((e) => [e.type, e.channelId, e.userId]),
    [['conversation.updated', s.wa, s.ana]],
    'the read reaches the reader alone',
  )
  out.anaUnread = (await r(() => a.repos.conversations.conversationDTOFor({ userId: s.ana }, WS, s.readConv)))?.unreadCount
  out.boUnread = (await r(() => a.repos.conversations.conversationDTOFor({ userId: s.bo }, WS, s.readConv)))?.unreadCount
  t.equal(out.anaUnread, 0)
  t.equal(out.boUnread, 1, "Bo's unread stays")
  out.readAgain = await db.log.transact((batch) => a.writer.markRead(batch, WS, s.readConv, s.ana, a.now()))
  t.same(since(), [], 'nothing unread: nothing emitted')
  out.readOtherWs = await outcome(() =>
    db.log.transact(function* (batch) {
      yield* conversationInScopeUnit(a.repos, s.access(s.zed, OTHER_WS, null), s.readConv)
      return yield* a.writer.markRead(batch, OTHER_WS, s.readConv, s.zed, a.now())
    }),
  )

  // Labels: set → conversation.updated; the same set again → nothing; another's label refused.
  const label = (ws: number, name: string) =>
    insertId(db, 'INSERT INTO labels (workspace_id, name, color) VALUES (?, ?, ?)', [ws, name, '#112233'])
  const vip = await label(WS, 'vip')
  const urgent = await label(WS, 'Urgent')
  const foreign = await label(OTHER_WS, 'theirs')
  out.labelsSet = await db.log.transact((batch) => a.labels.setOnConversationUnit(batch, WS, s.conv, [vip, urgent, vip]))
  const labelEvents = since()
  out.labelEvents = labelEvents
  t.same(
    labelEvents.map((e) => [e.type, e.channelId, e.userId]),
    [['conversation.updated', s.wa, null]],
    'labels set: conversation.updated',
  )
  out.labelsAgain = await db.log.transact((batch) => a.labels.setOnConversationUnit(batch, WS, s.conv, [urgent, vip]))
  t.same(since(), [], 'the same set again: nothing')
  out.labelsForeign = await outcome(() => db.log.transact((batch) => a.labels.setOnConversationUnit(batch, WS, s.conv, [foreign])))
  out.labelRows = await db.readOther('SELECT label_id FROM conversation_labels WHERE conversation_id = ? ORDER BY label_id', [s.conv])

  // Mentions read by Bo: mentions.read to him alone (none left after the deletion: nothing).
  out.mentionsRead = await a.notes.markRead(s.access(s.bo), null)
  out.mentionsReadEvents = since()
  return out
}

t.test('the inbox actions give the same rows and events on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, (db) => scenario(t, db))
  t.match(sqlite.noAccess, { error: 'MENTION_NO_ACCESS', status: 422 })
  t.match(sqlite.otherWs, { error: 'NOT_FOUND', status: 404 })
  t.match(sqlite.otherWsAsZed, { error: 'NOT_FOUND', status: 404 })
  t.match(sqlite.deleteNotMine, { error: 'NOTE_NOT_YOURS' })
  t.match(sqlite.deleteOtherWs, { error: 'NOT_FOUND', status: 404 })
  t.match(sqlite.statusOtherWs, { error: 'NOT_FOUND', status: 404 })
  t.match(sqlite.readOtherWs, { error: 'NOT_FOUND', status: 404 })
  t.match(sqlite.labelsForeign, { error: 'UNKNOWN_LABEL' })
  t.same(sqlite.afterRefusal, [], 'a refused note emits nothing')
  t.match(sqlite.boMentions, { unread: 1, mentions: [{ conversationId: Number }] })
  t.equal(sqlite.labelsAgain, undefined)
  t.match(sqlite.pending, { status: 'pending' })
  t.match(sqlite.resolved, { status: 'resolved' })
  t.match(sqlite.resolvedAgain, { status: 'resolved' })
  if (!pg) {
    t.comment('no PostgreSQL server (PARLEY_TEST_PG_URL): SQLite only')
    return
  }
  for (const key of Object.keys(sqlite)) t.same(pg[key], sqlite[key], `${key}: the same on both`)
})

/** The project's poll (helpers/emulator.ts), named first as these tests read. */
const until = (what: string, check: () => Promise<boolean>) => pollUntil(check, what)

t.test('PostgreSQL: two sessions setting the same status at once write one line, not two', async (t) => {
  const db = await pgDb(t) // a pool of 4: this test holds 3 connections at once
  if (!db) return
  const s = await seed(db)
  const a = actionsOn(db)
  // A third transaction holds the conversation's row, so both sessions below are under way
  // (begun, and as far as the row lock lets them) before either can change it.
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  let held = false
  const holder = db.runner.transact(function* () {
    yield* get('SELECT id FROM conversations WHERE id = ? FOR UPDATE', [s.conv])
    held = true
    yield* step(() => gate)
  })
  await until('the row to be held', async () => held)
  const mark = db.published.length
  const who = (userId: number) => ({ workspaceId: WS, userId })
  const both = [s.ana, s.bo].map((u) =>
    db.log.transact((batch) =>
      setConversationStatusUnit({ repos: a.repos, writer: a.writer, now: a.now }, batch, who(u), s.conv, 'resolved'),
    ),
  )
  try {
    // Both sessions wait on the row: at the status read (locked) — without that lock they
    // would both have read 'open' already and wait only at the UPDATE, then each write a line.
    await until('both sessions to wait on the row', async () => {
      const rows = await db.readOther<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      )
      return Number(rows[0]!.n) >= 2
    })
  } finally {
    release()
  }
  await holder
  const results = await Promise.all(both)
  for (const r of results) t.match(r, { status: 'resolved' })
  const lines = await db.readOther<{ text: string }>(
    `SELECT text FROM messages WHERE conversation_id = ? AND type = 'activity' ORDER BY id`,
    [s.conv],
  )
  t.equal(lines.length, 1, 'one line')
  t.same(
    eventsOf(db, mark).map((e) => e.type),
    ['message.created', 'conversation.updated'],
    'one change announced',
  )
})
