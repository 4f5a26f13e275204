// Search written once for both databases (issue 17): the same messages, notes and contacts,
// stored with plain SQL on a fresh SQLite (FTS5, migrations/sqlite 0013/0019) and a fresh
// PostgreSQL (tsvector + GIN, migrations/pg …_search), give the same results — the same
// conversations in the same order, the same matching message, the same keyset pages, the same
// snippets and highlights — for words, a prefix, phrases, diacritics and case, phone fragments,
// every filter, an agent's channels, and another workspace's rows absent. Typed text that is
// tsquery or FTS5 syntax (quotes, & | ! : *) is only ever words. Edits and deletions reach the
// index in the writer's own transaction on both.
import t from 'tap'
import { fork } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { parseQuery } from '../src/domain/search/query.ts'
import { Search, type SearchFound, type SearchRequest } from '../src/domain/search/search.ts'
import { SearchQueries } from '../src/store/search.ts'
import { flushSearchIndex } from '../src/store/search-index.ts'
import { all } from '../src/store/unit.ts'
import { numberPlaceholders } from '../src/store/conn.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PgRunner } from '../src/store/runner.ts'
import { type DialectDb, onBoth } from './helpers/dialects.ts'
import { freshPgDatabase, pgAdminUrl, withDatabase } from './helpers/pg.ts'

type Store = Pick<DialectDb, 'runner' | 'exec'>

const WS = 1
const OTHER_WS = 2
const day = (s: string) => Date.parse(`${s}T12:00:00Z`)

/** Runs SQL and then the index's last step of a commit (SQLite: migration 0019's pending list; PostgreSQL: nothing). */
async function write(db: Store, sql: string, params: unknown[] = []): Promise<void> {
  await db.exec(sql, params)
  await db.runner.transact(() => flushSearchIndex())
}

/** Workspace 1: channels Sales (1) and Support (2), agents Ana Silva (1) and Bruno (2); workspace 2 mirrors some of it. */
async function seed(db: Store): Promise<void> {
  await db.exec(`INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (1, 'whatsapp', 'p1', 'Sales'),
    (1, 'whatsapp', 'p2', 'Support'), (2, 'whatsapp', 'p3', 'Sales')`)
  await db.exec(`INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES
    (1, 'ana@x', 'Ana Silva', 'h', 'agent'), (1, 'bruno@x', 'Bruno', 'h', 'agent'), (2, 'ana@y', 'Ana Silva', 'h', 'agent')`)
  await db.exec(`INSERT INTO contacts (workspace_id, kind, external_id, phone, name, profile_name) VALUES
    (1, 'whatsapp', '5511987654321', '+55 11 98765-4321', 'José Souza', NULL),
    (1, 'whatsapp', '5511911112222', NULL, 'Maria', 'Mari'),
    (1, 'whatsapp', '5521933334444', NULL, 'Zoë Café', NULL),
    (2, 'whatsapp', '5511987654321', '+55 11 98765-4321', 'José Souza', NULL),
    (1, 'whatsapp', '5531955556666', NULL, 'Quiet Person', NULL)`)
  await db.exec(`INSERT INTO conversations (workspace_id, channel_id, contact_id, status, assignee_id, last_activity_at) VALUES
    (1, 1, 1, 'open', 1, 0), (1, 2, 2, 'resolved', NULL, 0), (1, 1, 3, 'pending', 2, 0), (2, 3, 4, 'open', 3, 0), (1, 2, 5, 'open', NULL, 0)`)
  await db.exec(`INSERT INTO labels (workspace_id, name, color) VALUES (1, 'VIP', 'red'), (2, 'vip', 'red')`)
  await db.exec('INSERT INTO conversation_labels (conversation_id, label_id) VALUES (1, 1), (4, 2)')
  const m = `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, media, data, sender_user_id, status, timestamp)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?)`
  const rows: unknown[][] = [
    [1, 1, 1, 'in', 'text', 'Hello, I want a sofa in São Paulo', null, null, null, day('2026-03-01')],
    [1, 1, 1, 'out', 'text', 'The blue sofa ships tomorrow', null, null, 1, day('2026-03-02')],
    [1, 2, 2, 'in', 'text', 'SOFA cushions are torn; it’s bad', null, null, null, day('2026-03-03')],
    [1, 2, 2, 'system', 'note', 'customer wants a refund for the sofa', null, null, 2, day('2026-03-04')],
    [1, 3, 1, 'in', 'document', null, JSON.stringify({ filename: 'orçamento-sofá.pdf' }), null, null, day('2026-03-05')],
    [1, 3, 1, 'in', 'reaction', 'sofa', null, null, null, day('2026-03-06')],
    [1, 3, 1, 'in', 'location', null, null, JSON.stringify({ name: 'Café Central', address: 'Rua Augusta 10' }), null, day('2026-03-07')],
    [2, 4, 3, 'in', 'text', 'sofa sao paulo blue', null, null, null, day('2026-03-08')],
    [1, 1, 1, 'in', 'text', 'Can I pay with <script>alert(1)</script> card? a&b|c !x y:* \\ (z)', null, null, null, day('2026-03-09')],
    [1, 3, 1, 'out', 'text', 'red lamp and blue sofa', null, null, 2, day('2026-03-10')],
    [1, 2, 2, 'system', 'resolved', 'sofa resolved by Bruno', null, null, 2, day('2026-03-11')],
    [
      1,
      5,
      2,
      'in',
      'text',
      `${'filler words '.repeat(30)}the lonely sofa at the very end ${'more filler '.repeat(20)}`,
      null,
      null,
      null,
      day('2026-03-12'),
    ],
  ]
  for (const r of rows) await db.exec(m, r)
  await write(db, 'UPDATE conversations SET last_message_id = (SELECT max(id) FROM messages m WHERE m.conversation_id = conversations.id)')
}

const search = new Search(new SearchQueries())

function request(q: string, over: Partial<SearchRequest> = {}): SearchRequest {
  const parsed = parseQuery(q)
  if (!parsed.ok) throw new Error(`${q}: ${parsed.message}`)
  return { workspaceId: WS, channelIds: null, userId: 1, query: parsed.query, limit: 100, ...over }
}

const find = (db: DialectDb, q: string, over: Partial<SearchRequest> = {}) => db.runner.read(() => search.findUnit(request(q, over)))

/** Every page of `size`, following the cursor, joined. */
async function pages(db: DialectDb, q: string, size: number, over: Partial<SearchRequest> = {}): Promise<SearchFound[]> {
  const out: SearchFound[] = []
  let after: SearchRequest['after']
  for (let i = 0; i < 50; i++) {
    const page = await find(db, q, { ...over, limit: size, after })
    out.push(...page)
    if (page.length < size) return out
    const last = page[page.length - 1]!.hit
    after = { key: last.key, conversationId: last.conversationId }
  }
  throw new Error('more than 50 pages')
}

const QUERIES = [
  'sofa',
  'SOFA',
  'so',
  'sof',
  'blue sofa',
  '"blue sofa"',
  '"sofa blue"',
  'sao paulo',
  'São',
  'são paulo',
  '"sao paulo"',
  'orcamento',
  'orçamento-sofá',
  'pdf',
  'cafe',
  'augusta',
  'zoe',
  'mari',
  'maria',
  'jose',
  'josé souza',
  '98765',
  '+55 11 9876',
  '4444',
  '12',
  'script',
  'alert',
  '"a&b|c"',
  "it's",
  'it’s',
  'x y',
  'z',
  'a&b|c !x "y:*"',
  'nothing-matches-this',
  'lonely',
  'sofa from:customer',
  'sofa from:agent',
  'sofa from:"ana silva"',
  'sofa from:bruno',
  'from:agent',
  'sofa in:sales',
  'sofa in:SUPPORT',
  'in:sales',
  'sofa label:vip',
  'label:VIP',
  'sofa assignee:me',
  'sofa assignee:none',
  'sofa assignee:bruno',
  'assignee:"ana silva"',
  'status:resolved',
  'sofa status:open',
  'sofa before:2026-03-03',
  'sofa after:2026-03-03',
  'after:2026-03-05 before:2026-03-10',
  'resolved',
  'refund',
  'refund from:agent',
  'jose status:open',
]

t.test('the same results, snippets and highlights for every kind of query, as an admin and as agents', async (t) => {
  const viewers: Record<string, Partial<SearchRequest>> = {
    admin: {},
    'agent of Sales': { channelIds: [1], userId: 1 },
    'agent of Support (Bruno)': { channelIds: [2], userId: 2 },
    'agent without channels': { channelIds: [] },
  }
  const r = await onBoth(t, async (db) => {
    await seed(db)
    const out: Record<string, SearchFound[]> = {}
    for (const q of QUERIES) for (const [who, over] of Object.entries(viewers)) out[`${q} (${who})`] = await find(db, q, over)
    return out
  })
  const s = r.sqlite
  // The SQLite half, as it always was: these are what both must give.
  t.same(
    s['sofa (admin)']!.map((f) => [f.hit.conversationId, f.messageId]),
    [
      [5, 12],
      [3, 10],
      [2, 4],
      [1, 2],
    ],
    'sofa: each conversation once, at its newest matching message, newest first (the reaction and the system line are not indexed)',
  )
  t.same(
    s['cafe (admin)']!.map((f) => [f.hit.conversationId, f.messageId]),
    [[3, null]],
    "a location's name and the contact Zoë Café: one result, at the newer of the two (the contact's: the conversation's last message)",
  )
  t.same(
    s['augusta (admin)']!.map((f) => [f.hit.conversationId, f.messageId, f.snippet]),
    [[3, 7, 'Café Central Rua Augusta 10']],
    'a location without text is found by its name and address',
  )
  t.same(
    s['98765 (admin)']!.map((f) => [f.hit.conversationId, f.messageId, f.snippet]),
    [[1, null, 'José Souza · +55 11 98765-4321']],
    'a phone fragment finds the contact, not the other workspace’s',
  )
  t.same(s['sofa (agent without channels)'], [], 'an agent without channels finds nothing')
  t.ok(
    Object.entries(s).every(([, found]) => found.every((f) => f.hit.conversationId !== 4)),
    'workspace 2 never appears',
  )
  const lonely = s['lonely (admin)']![0]!
  t.ok(lonely.snippet.startsWith('…') && lonely.highlights.length === 1, 'a long text is cut around its match')
  t.equal(s['script (admin)']![0]!.snippet.includes('<script>'), true, 'the snippet is the text as typed (the browser renders it as text)')
  if (r.pg === undefined) return
  for (const key of Object.keys(s)) t.same(r.pg[key], s[key], `PostgreSQL = SQLite: ${key}`)
})

t.test('keyset pages: every size gives the same sequence on both, none twice, none missing', async (t) => {
  const r = await onBoth(t, async (db) => {
    await seed(db)
    const out: Record<string, number[][]> = {}
    for (const q of ['sofa', 'sao', 's', 'in:sales', 'status:open', 'from:customer', 'jose', 'after:2026-03-02']) {
      for (const size of [1, 2, 3]) {
        out[`${q} / ${size}`] = (await pages(db, q, size)).map((f) => [f.hit.conversationId, f.messageId ?? 0, f.hit.key])
        out[`${q} / ${size} / agent`] = (await pages(db, q, size, { channelIds: [1] })).map((f) => [
          f.hit.conversationId,
          f.messageId ?? 0,
          f.hit.key,
        ])
      }
      out[`${q} / all`] = (await find(db, q)).map((f) => [f.hit.conversationId, f.messageId ?? 0, f.hit.key])
    }
    return out
  })
  for (const key of Object.keys(r.sqlite)) {
    if (key.endsWith(' / all')) continue
    const all = r.sqlite[`${key.split(' / ')[0]} / all`]!
    if (!key.endsWith('agent')) t.same(r.sqlite[key], all, `SQLite pages = one read: ${key}`)
  }
  if (r.pg === undefined) return
  for (const key of Object.keys(r.sqlite)) t.same(r.pg[key], r.sqlite[key], `PostgreSQL = SQLite: ${key}`)
})

t.test('edits, deletions and contact changes reach the index in the same transaction', async (t) => {
  const r = await onBoth(t, async (db) => {
    await seed(db)
    const ids = async (q: string) => (await find(db, q)).map((f) => [f.hit.conversationId, f.messageId])
    const out: Record<string, unknown> = {}
    await write(db, `UPDATE messages SET text = 'an armchair now' WHERE id = 2`)
    out.editedAway = await ids('blue')
    out.editedIn = await ids('armchair')
    await write(db, `UPDATE messages SET type = 'reaction' WHERE id = 3`)
    out.becameReaction = await ids('cushions')
    await write(db, 'DELETE FROM messages WHERE id = 10')
    out.deleted = await ids('lamp')
    await write(db, `UPDATE contacts SET name = 'Joana Prado', phone = '+55 11 90000-1234' WHERE id = 1`)
    out.oldName = await ids('jose')
    out.newName = await ids('joana')
    out.oldPhone = await ids('98765')
    out.newPhone = await ids('0000123')
    // The status of a message changes nothing that is indexed.
    await write(db, `UPDATE messages SET status = 'read' WHERE id = 1`)
    out.statusOnly = await ids('paulo')
    return out
  })
  t.same(r.sqlite, {
    editedAway: [[3, 10]],
    editedIn: [[1, 2]],
    becameReaction: [],
    deleted: [],
    oldName: [],
    newName: [[1, null]],
    oldPhone: [],
    newPhone: [[1, null]],
    statusOnly: [[1, 1]],
  })
  if (r.pg !== undefined) t.same(r.pg, r.sqlite, 'PostgreSQL = SQLite')
})

t.test('another workspace: its contact and message reads are absent', async (t) => {
  const r = await onBoth(t, async (db) => {
    await seed(db)
    const repo = new SearchQueries()
    return db.runner.read(function* () {
      return {
        contactOwn: yield* repo.contactOf(WS, 1),
        contactOther: (yield* repo.contactOf(OTHER_WS, 1)) ?? null,
        messageOwn: yield* repo.messageOf(WS, 1),
        messageOther: (yield* repo.messageOf(OTHER_WS, 1)) ?? null,
        otherWorkspaceSearch: (yield* search.findUnit(request('sofa', { workspaceId: OTHER_WS }))).map((f) => [
          f.hit.conversationId,
          f.messageId,
        ]),
      }
    })
  })
  t.same(r.sqlite.contactOther, null)
  t.same(r.sqlite.messageOther, null)
  t.equal(r.sqlite.contactOwn?.name, 'José Souza')
  t.equal(r.sqlite.messageOwn?.text, 'Hello, I want a sofa in São Paulo')
  t.same(r.sqlite.otherWorkspaceSearch, [[4, 8]])
  if (r.pg !== undefined) t.same(r.pg, r.sqlite, 'PostgreSQL = SQLite')
})

t.test('a bad query is refused before any database, with the same words', async (t) => {
  for (const q of ['"open', 'foo:bar', 'status:closed', 'before:2026-02-30', '', '!!!', 'after:2026-03-02 before:2026-03-01']) {
    const parsed = parseQuery(q)
    t.equal(parsed.ok, false, `${JSON.stringify(q)} is refused`)
  }
})

t.test(
  'PostgreSQL: a writer killed with SIGKILL mid-stream leaves every committed message and contact searchable, nothing else',
  async (t) => {
    const url = await freshPgDatabase(t)
    if (!url) return
    await migratePg(url, 'search-crash-test')
    const pool = openPgPool(url, { nodeId: 'search-crash-test', max: 2 })
    t.teardown(() => pool.end())
    const runner = new PgRunner(pool)
    const db: Store = {
      runner,
      exec: async (sql: string, params: unknown[] = []) => void (await pool.query(numberPlaceholders(sql), params)),
    }
    await db.exec(`INSERT INTO workspaces (name) VALUES ('W'), ('Other')`)
    await seed(db)
    const committed: { i: number; contact: number; conversation: number; message: number }[] = []
    const child = fork(path.join(import.meta.dirname, 'helpers', 'search-pg-writer.ts'), {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, PG_URL: url },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    child.on('message', (m) => committed.push(m as (typeof committed)[number]))
    // Wait for a state, not a time: enough commits seen, then kill it wherever it is.
    const deadline = Date.now() + 60_000
    while (committed.length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGKILL')
    await exited
    t.ok(committed.length >= 30, `${committed.length} transactions committed before the kill`)
    const state = await runner.read(function* () {
      return {
        unindexed: yield* all<{ id: number }>(
          `SELECT id FROM messages WHERE type <> 'reaction' AND (direction <> 'system' OR type = 'note')
          AND id NOT IN (SELECT id FROM search.message_doc)`,
        ),
        orphans: yield* all<{ id: number }>('SELECT id FROM search.message_doc WHERE id NOT IN (SELECT id FROM messages)'),
        contactsUnindexed: yield* all<{ id: number }>('SELECT id FROM contacts WHERE id NOT IN (SELECT id FROM search.contact_doc)'),
        contactOrphans: yield* all<{ id: number }>('SELECT id FROM search.contact_doc WHERE id NOT IN (SELECT id FROM contacts)'),
      }
    })
    t.same(state, { unindexed: [], orphans: [], contactsUnindexed: [], contactOrphans: [] }, 'the index holds exactly the stored rows')
    for (const c of [committed[0]!, committed[committed.length - 1]!]) {
      const byWord = await runner.read(() => search.findUnit(request(`crashword${c.i}`)))
      t.same(
        byWord.map((f) => [f.hit.conversationId, f.messageId]),
        [[c.conversation, c.message]],
        `message ${c.message} (committed) is found by its word`,
      )
      const byName = await runner.read(() => search.findUnit(request(`crashname${c.i}`)))
      t.same(
        byName.map((f) => [f.hit.conversationId, f.messageId]),
        [[c.conversation, null]],
        `contact ${c.contact} (committed) is found by its name`,
      )
    }
  },
)

t.test('PostgreSQL: a database not in UTF8 is refused by the migration, in words', async (t) => {
  const admin = pgAdminUrl()
  if (!admin) return
  const name = `parley_t_ascii_${Date.now().toString(36)}`
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  t.teardown(async () => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
  })
  await c.query(`CREATE DATABASE ${name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
  const err = await migratePg(withDatabase(admin, name), 'search-ascii-test').then(
    () => undefined,
    (e: unknown) => e as Error & { cause?: Error },
  )
  // drizzle's migrator wraps the server's words as the cause of a "Failed query" error.
  const said = `${err?.message ?? ''} ${err?.cause?.message ?? ''}`
  t.match(said, /Parley needs a UTF8 PostgreSQL database \(this one is SQL_ASCII\)/, 'refused, saying why')
})
