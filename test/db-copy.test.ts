// `npm run db:copy` (issue 17): a SQLite database made by the real app (webhooks, replies,
// a team with an invitation, labels, notes with a mention, canned replies, contacts and a
// campaign) is copied into a real PostgreSQL; every row of every table must arrive equal,
// ids must continue, the event counter must follow SQLite's and the epoch must change. A
// second copy is refused without a change, and the command itself prints no password.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): it copies a SQLite database into PostgreSQL.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { is } from 'drizzle-orm'
import { drizzle as sqliteDrizzle } from 'drizzle-orm/better-sqlite3'
import { drizzle as pgDrizzle } from 'drizzle-orm/node-postgres'
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core'
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core'
import pg from 'pg'
import * as pgSchema from '../src/store/pg/schema.ts'
import * as sqliteSchema from '../src/store/schema.ts'
import { copyOrder, copySqliteToPg, DbCopyError } from '../src/store/pg/copy.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { twoChannelServer } from './helpers/team-fixtures.ts'
import { ORDER_UPDATE, contactsCsv } from './helpers/campaigns.ts'
import { say, status, statusWebhook, wamid } from './helpers/wa.ts'

const ROOT = path.join(import.meta.dirname, '..')

/** A data dir filled by a real Parley, which is then stopped: its parley.db is the copy's source. */
async function parleyDataDir(t: Test): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-dbcopy-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const team = await twoChannelServer(t, { dataDir, sqlite: true })
  const { s, api } = team
  const ana = await team.agent('Ana', [team.first, team.second])

  // Customers write on both numbers (contacts, conversations, messages, events, report facts).
  for (let i = 0; i < 12; i++)
    await team.customerWrites(`4915200000${String(i).padStart(3, '0')}`, `Customer ${i}`, `Hello ${i} — ünïcødé "quoted"`)
  await team.customerWrites('4915299999999', 'Second line', 'On the second number', 'second')
  await say(s, '4915200000000', 'Customer 0', 'A second message')
  const convs = (await api<{ conversations: { id: number }[] }>('GET', '/api/conversations')).body.conversations
  const conv = convs[0]!.id

  // A reply (outbox, an outgoing message), a note that mentions Ana, a label on the
  // conversation, a read marker, a canned reply, an invitation.
  t.equal(
    (await api('POST', `/api/conversations/${conv}/messages`, { text: 'On its way', clientMessageId: 'copy-1' })).status,
    202,
    'a reply (queued)',
  )
  t.equal((await api('POST', `/api/conversations/${conv}/notes`, { text: '@Ana please check', mentions: [ana.id] })).status, 201)
  const vip = (await api<{ label: { id: number } }>('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).body.label
  const gone = (await api<{ label: { id: number } }>('POST', '/api/labels', { name: 'Temporary', color: '#dc2626' })).body.label
  t.equal((await api('PUT', `/api/conversations/${conv}/labels`, { labelIds: [vip.id] })).status, 200)
  // The newest label deleted: its id stays taken (AUTOINCREMENT), and must stay taken on PostgreSQL.
  t.equal((await api('DELETE', `/api/labels/${gone.id}`)).status, 204)
  t.equal((await api('POST', `/api/conversations/${conv}/read`, {})).status, 200)
  t.equal((await api('POST', '/api/canned-replies', { shortcut: 'thanks', text: 'Thank you!', shared: true })).status, 201)
  t.equal(
    (await api('POST', '/api/users/invitations', { email: 'new.agent@example.com', role: 'agent', channelIds: [team.first] })).status,
    201,
  )

  // An API token, an outgoing webhook endpoint (its secret sealed), a password-reset link, and
  // a status for a message Parley does not know yet (kept until the message arrives).
  t.equal((await api('POST', '/api/tokens', { name: 'CRM sync', scope: 'write' })).status, 201)
  t.equal(
    (await api('POST', '/api/webhook-endpoints', { url: 'https://hooks.example.com/parley', events: ['message.created'] })).status,
    201,
  )
  t.equal((await api('POST', `/api/users/${ana.id}/password-reset`, {})).status, 201)
  t.equal((await s.webhook(statusWebhook(status(wamid('unknown'), 'delivered', '4915200000000')))).status, 200)

  // Contacts from a CSV, and a campaign to them (a draft: no send is needed for the copy).
  t.equal((await api('POST', '/api/contacts/import', { csv: contactsCsv(30, { tag: 'vip' }) })).status, 201)
  const campaign = await api('POST', '/api/campaigns', {
    name: 'Spring',
    ...ORDER_UPDATE,
    audience: { kind: 'tags', tags: ['vip'], match: 'any' },
  })
  t.equal(campaign.status, 201, 'a campaign')

  await s.close()
  return dataDir
}

type Row = Record<string, unknown>
const canonical = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort()

const sqliteTables = new Map(
  (Object.values(sqliteSchema) as unknown[])
    .filter((v) => is(v, SQLiteTable))
    .map((v) => [sqliteTableConfig(v as SQLiteTable).name, v as SQLiteTable]),
)
const pgTables = new Map(
  (Object.values(pgSchema) as unknown[]).filter((v) => is(v, PgTable)).map((v) => [pgTableConfig(v as PgTable).name, v as PgTable]),
)

t.test('db:copy copies every row of a real Parley into PostgreSQL, continues ids and bumps the epoch', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  const dataDir = await parleyDataDir(t)
  const file = path.join(dataDir, 'parley.db')

  const r = await copySqliteToPg({ from: file, to: url, nodeId: 'db-copy-test' })

  const sqlite = new Database(file, { readonly: true })
  t.teardown(() => sqlite.close())
  const sdb = sqliteDrizzle(sqlite)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const pdb = pgDrizzle(client)

  // Every drizzle table, each row decoded by its own schema on each side (booleans,
  // JSON, numbers) and compared whole.
  t.same(r.tables.map((x) => x.name).sort(), [...sqliteTables.keys()].sort(), 'every drizzle table was copied')
  for (const { name, rows } of r.tables) {
    const sTable = sqliteTables.get(name)!
    const pTable = pgTables.get(name)!
    let sRows = (await sdb.select().from(sTable)) as Row[]
    if (name === 'meta') sRows = sRows.filter((x) => x.key !== 'epoch')
    const pRows = (await pdb.select().from(pTable)) as Row[]
    t.equal(rows, sRows.length, `${name}: the summary counts the source's rows`)
    t.equal(pRows.length, sRows.length, `${name}: ${sRows.length} rows on both`)
    t.same(canonical(pRows), canonical(sRows), `${name}: every row equal`)
  }
  const count = (name: string) => r.tables.find((x) => x.name === name)!.rows
  for (const name of ['workspaces', 'users', 'channels', 'channel_members', 'contacts', 'conversations', 'messages', 'outbox', 'events'])
    t.ok(count(name) > 0, `${name}: the fixture made rows (${count(name)})`)
  for (const name of [
    'labels',
    'conversation_labels',
    'mentions',
    'conversation_reads',
    'canned_replies',
    'invitations',
    'campaigns',
    'sessions',
  ])
    t.ok(count(name) > 0, `${name}: the fixture made rows (${count(name)})`)
  t.ok(
    (await client.query(`SELECT count(*)::int AS n FROM channels WHERE enabled AND NOT assignee_only`)).rows[0].n >= 2,
    'booleans arrive as booleans',
  )
  t.notOk(
    (await client.query(`SELECT 1 FROM meta WHERE key = 'epoch'`)).rowCount,
    "SQLite's epoch row is not copied: the epoch lives in event_seq",
  )

  // The event counter follows SQLite's (sqlite_sequence survives pruning); the epoch is new.
  const seq = (name: string) =>
    (sqlite.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(name) as number | undefined) ?? 0
  const head = (await client.query<{ epoch: string; last: string }>('SELECT epoch, last FROM event_seq')).rows[0]!
  t.equal(Number(head.last), seq('events'), 'event_seq.last is the last event id SQLite handed out')
  t.equal(r.lastEventId, seq('events'))
  const sqliteEpoch = sqlite.prepare(`SELECT value FROM meta WHERE key = 'epoch'`).pluck().get()
  t.equal(head.epoch, r.epoch)
  t.not(head.epoch, sqliteEpoch, 'a new epoch: clients holding a cursor of the SQLite log reset and refetch')

  // Identities continue: a row inserted without an id takes the next one.
  const maxWs = Number((await client.query('SELECT max(id) AS m FROM workspaces')).rows[0].m)
  const ws = await client.query(`INSERT INTO workspaces (name) VALUES ('after the copy') RETURNING id`)
  t.equal(Number(ws.rows[0].id), maxWs + 1, 'workspaces: max + 1')
  const maxMsg = Number((await client.query('SELECT max(id) AS m FROM messages')).rows[0].m)
  t.equal(maxMsg, seq('messages'))
  const conv = (await client.query('SELECT id, channel_id FROM conversations LIMIT 1')).rows[0]
  const msg = await client.query(
    `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, status, timestamp)
     VALUES (1, $1, $2, 'out', 'text', 'pending', 0) RETURNING id`,
    [conv.id, conv.channel_id],
  )
  t.equal(Number(msg.rows[0].id), maxMsg + 1, 'messages: max + 1')
  const labelSeq = seq('labels')
  t.ok(labelSeq > Number((await client.query('SELECT max(id) AS m FROM labels')).rows[0].m), 'the deleted label was the newest')
  const label = await client.query(`INSERT INTO labels (workspace_id, name, color) VALUES (1, 'new', '#000000') RETURNING id`)
  t.equal(Number(label.rows[0].id), labelSeq + 1, "labels: past the deleted one's id, never reusing it (as SQLite's AUTOINCREMENT)")

  // A second copy into the same (now live) database is refused and changes nothing.
  const before = await snapshot(client)
  await t.rejects(copySqliteToPg({ from: file, to: url, nodeId: 'db-copy-test' }), {
    constructor: DbCopyError,
    message: /^The target database already holds data \(workspaces, .*\): db:copy copies only into an empty database and never merges/,
  })
  t.same(await snapshot(client), before, 'the refused copy changed nothing')
})

// Row counts of every table and the counter row: what a refused copy must leave as it was.
async function snapshot(client: pg.Client): Promise<unknown> {
  const out: Record<string, unknown> = {}
  for (const { name } of copyOrder()) out[name] = (await client.query(`SELECT count(*)::int AS n FROM "${name}"`)).rows[0].n
  out.event_seq = (await client.query('SELECT epoch, last FROM event_seq')).rows[0]
  return out
}

t.test('a copy while Parley still writes is one consistent snapshot', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-dbcopy-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const team = await twoChannelServer(t, { dataDir, sqlite: true })
  for (let i = 0; i < 5; i++) await team.customerWrites(`49152000002${i}`, `W${i}`, `before ${i}`)
  // Customers keep writing through the copy; batches of one row make the copy yield often.
  let writing = true
  let written = 0
  const writer = (async () => {
    while (writing) await team.customerWrites(`4915200000${300 + (written % 20)}`, 'During', `during ${written++}`)
  })()
  let r: Awaited<ReturnType<typeof copySqliteToPg>>
  try {
    r = await copySqliteToPg({ from: path.join(dataDir, 'parley.db'), to: url, nodeId: 'db-copy-test', batchSize: 1 })
  } finally {
    writing = false
    await writer
  }
  t.comment(`${written} webhooks written while copying`)

  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const one = async (sql: string) => Number((await client.query(sql)).rows[0].n)
  // The counter and the events were read in one snapshot: the copy ends exactly where the counter does.
  t.equal(await one('SELECT max(id) AS n FROM events'), r.lastEventId, 'the copied events end at the copied counter')
  t.equal(await one('SELECT count(*) AS n FROM events'), r.lastEventId, 'and none is missing below it')
  // SQLite commits in id order (one writer): a snapshot holds a prefix of every table.
  const sqlite = team.s.db.$client
  const maxMsg = await one('SELECT max(id) AS n FROM messages')
  t.equal(
    await one('SELECT count(*) AS n FROM messages'),
    sqlite.prepare('SELECT count(*) FROM messages WHERE id <= ?').pluck().get(maxMsg),
  )
  t.equal(
    await one('SELECT count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.last_message_id >= m.id'),
    await one('SELECT count(*) AS n FROM messages'),
    "every copied message's conversation was copied as it was after that message",
  )
})

t.test('pruned events: the counter still continues after the last id handed out', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-dbcopy-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const team = await twoChannelServer(t, { dataDir, sqlite: true })
  for (let i = 0; i < 3; i++) await team.customerWrites(`49152000001${i}`, `C${i}`, `hi ${i}`)
  await team.s.close()
  // What retention does after EVENT_RETENTION_DAYS: the table empties, sqlite_sequence stays.
  const file = path.join(dataDir, 'parley.db')
  const w = new Database(file)
  const last = w.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).pluck().get() as number
  w.prepare('DELETE FROM events').run()
  w.close()
  t.ok(last > 0)

  const r = await copySqliteToPg({ from: file, to: url, nodeId: 'db-copy-test' })
  t.equal(r.tables.find((x) => x.name === 'events')?.rows, 0)
  t.equal(r.lastEventId, last, 'the next event id follows the last one handed out, not the empty table')
})

t.test('the command: exits 0 with a summary and never prints the password; a second run refuses', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-dbcopy-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const team = await twoChannelServer(t, { dataDir, sqlite: true })
  await team.customerWrites('4915200000077', 'Cmd', 'hello')
  await team.s.close()

  // A password in the URL, as a real DATABASE_URL has (the test server trusts the socket and ignores it).
  const password = 'pw-Sekr1t-do-not-print'
  const u = new URL(url)
  u.username ||= 'postgres'
  u.password = password
  const withPassword = u.toString()

  const first = await run(['--to', withPassword], dataDir)
  t.equal(first.code, 0, `exit 0 (stderr: ${first.stderr})`)
  t.match(first.stdout, /^\s+workspaces\s+1$/m, 'rows per table')
  t.match(first.stdout, /^\s+messages\s+1$/m)
  t.match(first.stdout, /Copied \d+ rows in \d+ tables in \d+\.\d s\./, 'the total and the time taken')
  t.match(first.stdout, /Events continue after id \d+; new stream epoch/)
  t.notOk((first.stdout + first.stderr).includes(password), 'the password is never printed')
  t.notOk((first.stdout + first.stderr).includes(encodeURIComponent(password)))

  // DATABASE_URL instead of --to, into the same database: refused, one line, no password.
  const second = await run([], dataDir, { DATABASE_URL: withPassword })
  t.equal(second.code, 1)
  t.match(second.stderr, /^db:copy failed: The target database already holds data/m)
  t.notOk((second.stdout + second.stderr).includes(password), 'the password is never printed')

  const usage = await run(['--to', 'mysql://x'], dataDir)
  t.equal(usage.code, 2, 'a URL that is not PostgreSQL: usage')
  t.notOk(usage.stderr.includes('mysql://x'), 'the value is not echoed (it may hold a password)')
})

function run(
  args: string[],
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = { ...process.env }
  delete base.DATABASE_URL
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/db-copy.ts', ...args], {
      cwd: ROOT,
      env: { ...base, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
