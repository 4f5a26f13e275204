// The index's SQL (migrations 0013 and 0019: the triggers and the flush at each commit) and searchTextOf (the rule, in
// TypeScript) agree for every kind of message, on insert, update and delete; and the
// migration indexes what a database held before it.
import t from 'tap'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { startServer } from './helpers/server.ts'
import { contact, envelope, inbound, text, value } from './helpers/wa.ts'
import { MIGRATIONS_DIR, openDatabase } from '../src/store/db.ts'
import { searchTextOf, tokenize } from '../src/domain/search/text.ts'

/** The words the index holds for each message id (fts5vocab reads a contentless index). */
function indexed(db: Database.Database): Map<number, string[]> {
  db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS temp.message_search_words USING fts5vocab(main, 'message_search', 'instance')`)
  const out = new Map<number, string[]>()
  for (const r of db.prepare('SELECT doc, term FROM temp.message_search_words ORDER BY doc, offset').all() as {
    doc: number
    term: string
  }[]) {
    out.set(r.doc, [...(out.get(r.doc) ?? []), r.term])
  }
  return out
}

function expected(db: Database.Database): Map<number, string[]> {
  const out = new Map<number, string[]>()
  for (const r of db.prepare('SELECT id, direction, type, text, media, data FROM messages ORDER BY id').all() as {
    id: number
    direction: string
    type: string
    text: string | null
    media: string | null
    data: string | null
  }[]) {
    const s = searchTextOf({ ...r, media: r.media && JSON.parse(r.media), data: r.data && JSON.parse(r.data) })
    const words = s === null ? [] : tokenize(s).map((w) => w.word)
    if (words.length > 0) out.set(r.id, words)
  }
  return out
}

t.test('the triggers index exactly what searchTextOf says, for every kind of message', async (t) => {
  // SQLite's FTS5 index and its triggers: on SQLite whatever the suite's database.
  const s = await startServer(t, { sqlite: true })
  const from = '5511988880008'
  const send = async (m: Record<string, unknown>) => {
    const res = await s.webhook(envelope(value({ contacts: [contact(from, 'Zé Ninguém')], messages: [m] })))
    t.equal(res.status, 200)
  }
  await send(text(from, 'Olá, quero o sofá azul'))
  await send(inbound(from, 'image', { id: 'i', mime_type: 'image/png', sha256: 'a', caption: 'Foto do braço' }))
  await send(inbound(from, 'document', { id: 'd', mime_type: 'application/pdf', sha256: 'b', filename: 'Nota Fiscal 12.pdf' }))
  await send(
    inbound(from, 'document', { id: 'e', mime_type: 'application/pdf', sha256: 'c', filename: 'contrato.pdf', caption: 'assinado' }),
  )
  await send(inbound(from, 'location', { latitude: 1, longitude: 2, name: 'Café Central', address: 'Praça da Sé' }))
  await send(inbound(from, 'location', { latitude: 1, longitude: 2 }))
  await send(inbound(from, 'interactive', { type: 'button_reply', button_reply: { id: 'x', title: 'Rastrear pedido' } }))
  await send(inbound(from, 'button', { text: 'Parar promoções', payload: 'STOP' }))
  await send(inbound(from, 'contacts', [{ name: { formatted_name: 'João Silva' }, phones: [] }]))
  const target = s.db.$client.prepare(`SELECT provider_message_id FROM messages WHERE type = 'text'`).pluck().get() as string
  await send(inbound(from, 'reaction', { message_id: target, emoji: '👍' }))
  const admin = await s.login()
  const conv = s.db.$client.prepare('SELECT id FROM conversations').pluck().get() as number
  const note = await fetch(`${s.url}/api/conversations/${conv}/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'Cliente pediu entrega às 9h' }),
  })
  t.equal(note.status, 201)
  const resolved = await fetch(`${s.url}/api/conversations/${conv}/status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'resolved' }),
  })
  t.equal(resolved.status, 200)

  const db = s.db.$client
  t.same(indexed(db), expected(db), 'insert')
  t.ok(
    [...indexed(db).values()].some((w) => w.includes('fiscal')),
    'a file name is indexed',
  )
  t.notOk(
    [...indexed(db).values()].some((w) => w.includes('resolved')),
    'a system line is not',
  )
  // An edit (a caption fixed, a file renamed) and a delete reach the index in the same statement.
  db.prepare(`UPDATE messages SET text = 'Foto da perna' WHERE type = 'image'`).run()
  db.prepare(
    `UPDATE messages SET media = json_set(media, '$.filename', 'Recibo.pdf') WHERE json_extract(media, '$.filename') = 'contrato.pdf'`,
  ).run()
  db.prepare(`DELETE FROM mentions`).run()
  db.prepare(`DELETE FROM messages WHERE type = 'note'`).run()
  t.same(indexed(db), expected(db), 'update and delete')
  t.ok([...indexed(db).values()].some((w) => w.includes('perna')))
  t.notOk([...indexed(db).values()].some((w) => w.includes('braco')))
})

t.test('the migration indexes messages and contacts stored before it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-search-mig-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // The migrations as they were before search: the same folder without 0011 in its journal.
  const before = path.join(dir, 'before')
  cpSync(MIGRATIONS_DIR, before, { recursive: true })
  const journalFile = path.join(before, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] }
  const at = journal.entries.findIndex((e) => e.tag.endsWith('_search'))
  journal.entries = journal.entries.slice(0, at)
  writeFileSync(journalFile, JSON.stringify(journal))
  const sqlite = new Database(path.join(dir, 'p.db'))
  sqlite.pragma('foreign_keys = ON')
  const db = drizzle(sqlite)
  migrate(db, { migrationsFolder: before })
  t.equal(sqlite.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'message_search'`).pluck().get(), 0)
  sqlite.exec(`
    INSERT INTO workspaces (id, name) VALUES (1, 'W');
    INSERT INTO channels (id, workspace_id, kind, external_id, name) VALUES (1, 1, 'whatsapp', '1', 'Main');
    INSERT INTO contacts (id, workspace_id, kind, external_id, name) VALUES (1, 1, 'whatsapp', '5511977776666', 'Inês Araújo');
    INSERT INTO conversations (id, workspace_id, channel_id, contact_id, last_activity_at) VALUES (1, 1, 1, 1, 0);
    INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, media, status, timestamp)
      VALUES (1, 1, 1, 'in', 'document', NULL, '{"filename":"Orçamento.pdf"}', 'received', 0),
             (1, 1, 1, 'in', 'text', 'Quanto custa a cadeira?', NULL, 'received', 0);
  `)
  migrate(db, { migrationsFolder: MIGRATIONS_DIR })
  t.same(indexed(sqlite), expected(sqlite), 'existing messages are indexed')
  t.equal(sqlite.prepare(`SELECT rowid FROM message_search WHERE message_search MATCH '"orcamento"'`).pluck().get(), 1)
  t.equal(sqlite.prepare(`SELECT rowid FROM contact_search WHERE contact_search MATCH '"ines" AND "araujo"'`).pluck().get(), 1)
  t.equal(sqlite.prepare(`SELECT rowid FROM contact_phone_search WHERE contact_phone_search MATCH '"77776"'`).pluck().get(), 1)
  sqlite.close()
})

t.test('the index is written once, at the end of each writing transaction (migration 0019)', async (t) => {
  // SQLite's FTS5 index and its flush at commit: on SQLite whatever the suite's database.
  const s = await startServer(t, { sqlite: true })
  const from = '5511988880009'
  // Several webhooks at once share one group commit: every message is indexed by it.
  const texts = ['primeira mensagem', 'segunda mensagem', 'terceira mensagem', 'quarta mensagem']
  const answers = await Promise.all(
    texts.map((x) => s.webhook(envelope(value({ contacts: [contact(from, 'Zé')], messages: [text(from, x)] })))),
  )
  t.same(
    answers.map((r) => r.status),
    [200, 200, 200, 200],
  )
  const db = new Database(path.join(s.dataDir, 'parley.db'), { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.prepare('SELECT count(*) FROM message_search_pending').pluck().get(), 0, 'nothing left noted after the commits')
  t.same(indexed(db), expected(db), 'each message indexed once, as searchTextOf says')
  const found = db.prepare(`SELECT count(*) FROM message_search WHERE message_search MATCH '"mensagem"'`).pluck().get()
  t.equal(found, 4)
})

t.test('a message a tool stored by hand is indexed at the next start', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-search-pending-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'p.db')
  openDatabase(file, { busyTimeoutMs: 1000 }).$client.close()
  const sqlite = new Database(file)
  sqlite.exec(`
    INSERT INTO workspaces (id, name) VALUES (1, 'W');
    INSERT INTO channels (id, workspace_id, kind, external_id, name) VALUES (1, 1, 'whatsapp', '1', 'Main');
    INSERT INTO contacts (id, workspace_id, kind, external_id, name) VALUES (1, 1, 'whatsapp', '5511977776666', 'Inês');
    INSERT INTO conversations (id, workspace_id, channel_id, contact_id, last_activity_at) VALUES (1, 1, 1, 1, 0);
    INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, status, timestamp)
      VALUES (1, 1, 1, 'in', 'text', 'Quanto custa a poltrona?', 'received', 0);
  `)
  t.equal(sqlite.prepare('SELECT count(*) FROM message_search_pending').pluck().get(), 1, 'noted, not yet indexed')
  sqlite.close()
  const db = openDatabase(file, { busyTimeoutMs: 1000 })
  t.teardown(() => db.$client.close())
  t.equal(db.$client.prepare('SELECT count(*) FROM message_search_pending').pluck().get(), 0)
  t.equal(db.$client.prepare(`SELECT rowid FROM message_search WHERE message_search MATCH '"poltrona"'`).pluck().get(), 1)
})
