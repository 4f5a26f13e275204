// Issue 16: a contact's data over real HTTP. The export carries what was stored (conversations on
// two numbers, messages, a media file's metadata, a note, labels, tags, a campaign row); the
// erasure leaves nothing of the contact in any table (search finds nothing, the search index has
// no row — FTS5 on SQLite, the `search` schema's tsvectors on PostgreSQL —, the media file is gone,
// event payloads are tombstones with their ids kept), other contacts are untouched, open streams
// hear `conversation.deleted`, agents get 403 and another workspace 404. Runs on either database
// (PARLEY_TEST_DATABASE=postgres): what it reads beneath the API goes through s.sql.
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { twoChannelServer, otherWorkspaceAdmin } from './helpers/team-fixtures.ts'
import { envelope, status, value } from './helpers/wa.ts'
import { uploadMedia } from './helpers/media-files.ts'
import { connectSse } from './helpers/sse.ts'
import { GRAPH_TOKEN, startEmulator, until, WABA_ID } from './helpers/emulator.ts'
import type { TestSql } from './helpers/server.ts'

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')
interface ExportMessage {
  text: string | null
  type: string
  files: unknown[]
}
interface ExportData {
  contact: { id: number; externalId: string; tags: string[] }
  conversations: Array<{ id: number; messages: ExportMessage[]; notes: Array<{ text: string }>; labels: Array<{ name: string }> }>
  campaigns: unknown[]
}
const RITA = '15550001111'
const OTTO = '15550002222'

/**
 * The two-number team server with Meta played by the emulator on its own listener (the built-in
 * sandbox's emulator runs on SQLite only): the first number's sends reach it, and its status
 * webhooks come back signed, on either database.
 */
async function emulatedServer(t: Test) {
  const emu = await startEmulator(t)
  const ts = await twoChannelServer(t, {
    env: { GRAPH_API_URL: emu.graphUrl, WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN, WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID },
  })
  emu.emulator.setWebhookUrl(`${ts.s.url}/webhooks/whatsapp`)
  return { ...ts, emulator: emu.emulator }
}

async function stocked(t: Test) {
  const ts = await emulatedServer(t)
  const { s, api, customerWrites, second } = ts
  const { sql } = s
  await customerWrites(RITA, 'Rita Lopez', 'My parcel zanzibarish never came')
  await customerWrites(RITA, 'Rita Lopez', 'Also on the support line quixotical', 'second')
  await customerWrites(OTTO, 'Otto Berg', 'Otto asks about zanzibarish too')
  const contactOf = async (wa: string) => (await sql.get<{ id: number }>('SELECT id FROM contacts WHERE external_id = ?', [wa]))!.id
  const convsOf = async (contactId: number) =>
    (await sql.all<{ id: number }>('SELECT id FROM conversations WHERE contact_id = ? ORDER BY id', [contactId])).map((r) => r.id)
  const rita = await contactOf(RITA)
  const otto = await contactOf(OTTO)
  const [ritaX, ritaY] = (await convsOf(rita)) as [number, number]
  const [ottoX] = (await convsOf(otto)) as [number]

  // A picture sent to Rita (its file stays on disk). The first number's sends go to the
  // emulator, which accepts the picture and reports it failed (she is none of its customers) by a status webhook some time later —
  // before the erasure or after it (see the last test).
  const up = await uploadMedia(s.url, ts.adminToken, PNG, 'image/png', 'receipt-rita.png')
  t.equal(up.status, 201)
  const sent = await api('POST', `/api/conversations/${ritaX}/messages`, {
    clientMessageId: 'img-1',
    type: 'image',
    mediaId: up.body.media.id,
  })
  t.equal(sent.status, 202)
  // A note mentioning Ana (who works the first number), a label, a tag.
  const ana = await ts.agent('Ana', [ts.first])
  t.equal(
    (await api('POST', `/api/conversations/${ritaX}/notes`, { text: '@Ana Refund her, she is a regular', mentions: [ana.id] })).status,
    201,
  )
  const label = (await api('POST', '/api/labels', { name: 'Refund', color: '#2563eb' })).body.label
  t.equal((await api('PUT', `/api/conversations/${ritaX}/labels`, { labelIds: [label.id] })).status, 200)
  t.equal((await api('PUT', `/api/conversations/${ottoX}/labels`, { labelIds: [label.id] })).status, 200)
  t.equal((await api('PATCH', `/api/contacts/${rita}`, { tags: ['vip'] })).status, 200)
  t.equal((await api('POST', `/api/conversations/${ritaY}/read`, {})).status, 200)
  // A status for a message Parley never stored (sent from another app): kept, naming her number.
  const kept = await s.webhook(envelope(value({ statuses: [status('wamid.elsewhere-1', 'delivered', RITA)] })))
  t.equal(kept.status, 200)
  t.equal(
    await count(sql, `SELECT count(*) AS n FROM pending_statuses WHERE raw LIKE '%' || ? || '%'`, [RITA]),
    1,
    'a kept status names her',
  )
  // A campaign that reached both (a fixture row: campaigns need Meta's templates).
  const ws = ts.workspaceId
  const campaignId = (await sql.get<{ id: number }>(
    `INSERT INTO campaigns (workspace_id, channel_id, name, status, template_name, template_language, params, audience)
     VALUES (?, ?, 'Spring', 'completed', 'order_update', 'en', '{}', '{}') RETURNING id`,
    [ws, second],
  ))!.id
  for (const c of [rita, otto]) {
    await sql.run(`INSERT INTO campaign_recipients (campaign_id, workspace_id, contact_id, state) VALUES (?, ?, ?, 'skipped')`, [
      campaignId,
      ws,
      c,
    ])
  }
  return { ...ts, ana, sql, rita, otto, ritaX, ritaY, ottoX, campaignId, mediaId: up.body.media.id as number }
}

/** A `SELECT count(*) AS n …` as a number (SQLite and PostgreSQL alike). */
async function count(sql: TestSql, q: string, params: readonly unknown[] = []): Promise<number> {
  return Number((await sql.get<{ n: number }>(q, params))!.n)
}

/**
 * Every table of the app's database, search indexes aside (they are checked on their own): on
 * SQLite the tables of sqlite_master (FTS5's tables and their shadows are named *search*); on
 * PostgreSQL the base tables of every schema but the system's and `search` (migrations/pg
 * …_search), drizzle's own bookkeeping included.
 */
async function tablesOf(sql: TestSql): Promise<string[]> {
  if (sql.dialect === 'sqlite') {
    const rows = await sql.all<{ name: string }>(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%search%' AND name NOT LIKE 'sqlite_%'`,
    )
    return rows.map((r) => `"${r.name}"`)
  }
  const rows = await sql.all<{ schema: string; name: string }>(
    `SELECT table_schema AS "schema", table_name AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema', 'search')
        AND left(table_schema, 3) <> 'pg_'`,
  )
  return rows.map((r) => `"${r.schema}"."${r.name}"`)
}

/** The tables (search indexes aside) whose rows, as JSON text, contain `needle`. */
async function tablesNaming(sql: TestSql, needle: string): Promise<string[]> {
  const tables = await tablesOf(sql)
  if (tables.length < 20) throw new Error(`only ${tables.length} tables found: the scan would prove nothing`)
  const naming: string[] = []
  for (const tb of tables) if (JSON.stringify(await sql.all(`SELECT * FROM ${tb}`)).includes(needle)) naming.push(tb)
  return naming
}

/**
 * What the search indexes still hold of `word` (one word, as typed): SQLite's FTS5 tables
 * matching it; on PostgreSQL the `search` schema's documents (message_doc, contact_doc: tsvectors
 * of folded words, and a contact's phone digits) matching it the way search does, and every
 * table of that schema whose rows, as text, contain the word folded (lower case). Zero: nothing.
 */
async function searchIndexHits(sql: TestSql, word: string): Promise<Record<string, number>> {
  if (sql.dialect === 'sqlite') {
    const hits: Record<string, number> = {}
    for (const tb of ['message_search', 'contact_search', 'contact_phone_search']) {
      // Quoted: a string to FTS5, never its query syntax.
      hits[tb] = await count(sql, `SELECT count(*) AS n FROM ${tb} WHERE ${tb} MATCH ?`, [`"${word}"`])
    }
    return hits
  }
  const hits: Record<string, number> = {
    message_doc: await count(sql, 'SELECT count(*) AS n FROM search.message_doc WHERE doc @@ search.query(?::text[], false)', [[word]]),
    contact_doc: await count(sql, 'SELECT count(*) AS n FROM search.contact_doc WHERE doc @@ search.query(?::text[], false)', [[word]]),
  }
  if (/^\d+$/.test(word)) {
    hits.contact_digits = await count(sql, `SELECT count(*) AS n FROM search.contact_doc WHERE digits LIKE '%' || ? || '%'`, [word])
  }
  const tables = await sql.all<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'search' AND table_type = 'BASE TABLE'`,
  )
  if (tables.length === 0) throw new Error('no table in the search schema: the scan would prove nothing')
  for (const { name } of tables) {
    hits[`search.${name} as text`] = JSON.stringify(await sql.all(`SELECT * FROM search."${name}"`)).includes(word.toLowerCase()) ? 1 : 0
  }
  return hits
}

t.test('export: everything stored of the contact, admins only, audited', async (t) => {
  const { s, api, ana, rita, ritaX, ritaY, campaignId, mediaId, sql } = await stocked(t)
  const res = await fetch(`${s.url}/api/contacts/${rita}/export`, { headers: { authorization: `Bearer ${(await s.login()).token}` } })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-disposition'), /attachment; filename="contact-\d+\.json"/)
  const data = (await res.json()) as ExportData
  t.equal(data.contact.id, rita)
  t.equal(data.contact.externalId, RITA)
  t.same(data.contact.tags, ['vip'])
  t.same(
    data.conversations.map((c) => c.id),
    [ritaX, ritaY],
  )
  const x = data.conversations[0]!
  const texts = x.messages.map((m) => m.text)
  t.ok(texts.includes('My parcel zanzibarish never came'), 'the customer’s message')
  t.ok(texts.includes('@Ana Refund her, she is a regular'), 'the note among the messages')
  t.same(
    x.notes.map((n) => n.text),
    ['@Ana Refund her, she is a regular'],
  )
  const image = x.messages.find((m) => m.type === 'image')!
  t.match(image.files, [{ id: mediaId, mimeType: 'image/png', filename: 'receipt-rita.png', size: PNG.length }], 'media metadata')
  t.same(
    x.labels.map((l) => l.name),
    ['Refund'],
  )
  t.ok(data.conversations[1]!.messages.some((m) => m.text === 'Also on the support line quixotical'))
  t.match(data.campaigns, [{ campaignId, campaignName: 'Spring', state: 'skipped' }])
  t.notOk(JSON.stringify(data).includes('Otto'), 'nothing of another contact')
  t.equal(await count(sql, `SELECT count(*) AS n FROM audit_log WHERE action = 'contact.exported' AND target_id = ?`, [String(rita)]), 1)

  const refused = await ana.call('GET', `/api/contacts/${rita}/export`)
  t.equal(refused.status, 403, 'agents may not export')
  t.equal((await api('GET', '/api/contacts/999999/export')).status, 404)
  const other = await otherWorkspaceAdmin(s)
  t.equal((await other.call('GET', `/api/contacts/${rita}/export`)).status, 404, 'another workspace: 404')
})

t.test('erase: nothing of the contact remains; others untouched; streams told; cursors valid', async (t) => {
  const { s, api, ana, sql, rita, otto, ritaX, ritaY, ottoX, dataDir: _d, campaignId } = { ...(await stocked(t)), dataDir: '' }
  const mediaDir = path.join(s.dataDir, 'media')
  const filesBefore = readdirSync(mediaDir)
  t.equal(filesBefore.length, 1, 'the picture is on disk')
  const eventIds = async () => (await sql.all<{ id: number }>('SELECT id FROM events ORDER BY id')).map((r) => Number(r.id))
  const eventsBefore = await eventIds()
  // The table scan sees her now (it reads every table, so finding nothing later means something).
  t.ok(
    (await tablesNaming(sql, 'quixotical')).includes(sql.dialect === 'sqlite' ? '"messages"' : '"public"."messages"'),
    'the scan finds her message',
  )
  // Her words are in the search index now, so finding none there later means they were removed.
  const SEARCH_WORDS = ['quixotical', 'rita', 'lopez', '0001111', 'receipt']
  for (const word of SEARCH_WORDS) {
    const hits = await searchIndexHits(sql, word)
    t.ok(
      Object.values(hits).some((n) => n > 0),
      `the search index holds "${word}" before the erasure`,
    )
  }

  const refused = await ana.call('POST', `/api/contacts/${rita}/erase`, { confirm: 'Rita Lopez' })
  t.equal(refused.status, 403, 'agents may not erase')
  const other = await otherWorkspaceAdmin(s)
  t.equal((await other.call('POST', `/api/contacts/${rita}/erase`, { confirm: 'Rita Lopez' })).status, 404, 'another workspace: 404')
  const wrong = await api('POST', `/api/contacts/${rita}/erase`, { confirm: 'Otto Berg' })
  t.equal(wrong.status, 422)
  t.equal(wrong.body.error.code, 'ERASE_CONFIRM_MISMATCH')
  t.equal((await api('POST', `/api/contacts/${rita}/erase`, {})).status, 400, 'the confirmation is required')

  const sse = await connectSse(`${s.url}/stream`, { token: (await s.login()).token })
  t.teardown(() => sse.close())
  const erased = await api('POST', `/api/contacts/${rita}/erase`, { confirm: '+1 555 000 1111' })
  t.equal(erased.status, 200, 'the number confirms it too')
  t.match(erased.body.erased, { conversations: 2, messages: 4, media: 1, mediaFiles: 1, campaignRows: 1, mentions: 1 })
  await sse.waitFor(
    (evs) => evs.filter((e) => e.event === 'conversation.deleted').length === 2 && evs.some((e) => e.event === 'contact.deleted'),
  )
  t.same(
    sse
      .data<{ conversationId: number }>('conversation.deleted')
      .map((d) => d.conversationId)
      .sort(),
    [ritaX, ritaY].sort(),
    'open streams hear which conversations are gone',
  )

  // Nothing of Rita in any table.
  const ritaConvs = [ritaX, ritaY]
  t.equal(await count(sql, 'SELECT count(*) AS n FROM contacts WHERE id = ?', [rita]), 0)
  t.equal(await count(sql, 'SELECT count(*) AS n FROM contact_tags WHERE contact_id = ?', [rita]), 0)
  t.equal(await count(sql, 'SELECT count(*) AS n FROM campaign_recipients WHERE contact_id = ?', [rita]), 0)
  for (const table of ['messages', 'mentions', 'outbox', 'conversation_reads', 'conversation_labels', 'report_episodes']) {
    t.equal(await count(sql, `SELECT count(*) AS n FROM ${table} WHERE conversation_id IN (?, ?)`, ritaConvs), 0, `${table}: none left`)
  }
  t.equal(await count(sql, 'SELECT count(*) AS n FROM conversations WHERE id IN (?, ?)', ritaConvs), 0)
  t.equal(await count(sql, 'SELECT count(*) AS n FROM media'), 0, 'the media row')
  t.same(readdirSync(mediaDir), [], 'the media file')
  t.notOk(existsSync(path.join(mediaDir, filesBefore[0]!)))
  for (const word of SEARCH_WORDS) {
    const hits = await searchIndexHits(sql, word)
    t.same(
      Object.entries(hits).filter(([, n]) => n > 0),
      [],
      `no search index row holds "${word}"`,
    )
  }
  if (sql.dialect === 'postgres') {
    // The index documents are keyed by their row's id: none outlives its message or contact.
    t.equal(
      await count(sql, 'SELECT count(*) AS n FROM search.message_doc d WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = d.id)'),
      0,
    )
    t.equal(
      await count(sql, 'SELECT count(*) AS n FROM search.contact_doc d WHERE NOT EXISTS (SELECT 1 FROM contacts k WHERE k.id = d.id)'),
      0,
    )
  }
  const search = await api('GET', '/api/search?q=quixotical')
  t.same(search.body.results, [], 'search finds nothing')
  t.same((await api('GET', '/api/search?q=rita')).body.results, [], 'nor her name')

  // Every text of hers is gone from every table (the whole database, as text).
  for (const needle of ['quixotical', 'Rita Lopez', 'Refund her', RITA, 'receipt-rita']) {
    t.same(await tablesNaming(sql, needle), [], `"${needle}" is in no table`)
  }

  // The event log keeps its ids (cursors stay valid); the scrubbed ones are tombstones.
  const eventsAfter = await eventIds()
  t.same(eventsAfter.slice(0, eventsBefore.length), eventsBefore, 'no event id was removed')
  t.ok((await count(sql, `SELECT count(*) AS n FROM events WHERE type = 'erased' AND payload = '{"erased":true}'`)) > 0)
  const resumed = await connectSse(`${s.url}/stream`, {
    token: (await s.login()).token,
    lastEventId: sse.events.find((e) => e.id)?.id ?? '',
  })
  t.teardown(() => resumed.close())
  t.equal(resumed.status, 200, 'an old cursor still resumes')

  // Otto is untouched.
  t.equal(await count(sql, 'SELECT count(*) AS n FROM contacts WHERE id = ?', [otto]), 1)
  t.equal(await count(sql, 'SELECT count(*) AS n FROM messages WHERE conversation_id = ?', [ottoX]), 1)
  t.equal(await count(sql, 'SELECT count(*) AS n FROM conversation_labels WHERE conversation_id = ?', [ottoX]), 1)
  t.equal(await count(sql, 'SELECT count(*) AS n FROM campaign_recipients WHERE contact_id = ? AND campaign_id = ?', [otto, campaignId]), 1)
  t.equal((await api('GET', '/api/search?q=zanzibarish')).body.results.length, 1, 'his message is still found')
  const list = (await api('GET', '/api/conversations')).body.conversations.map((c: { id: number }) => c.id)
  t.same(list, [ottoX], 'the inbox lists only his')

  const audit = (
    await sql.all<{ detail: string }>(`SELECT detail FROM audit_log WHERE action = 'contact.erased' AND target_id = ?`, [String(rita)])
  ).map((r) => r.detail)
  t.equal(audit.length, 1)
  t.match(JSON.parse(audit[0]!), { conversations: 2, messages: 4 }, 'audited with counts')
  t.notOk(audit[0]!.includes('Rita'), 'and no content')
  t.equal((await api('POST', `/api/contacts/${rita}/erase`, { confirm: 'Rita Lopez' })).status, 404, 'erased: 404')
  t.equal((await api('GET', `/api/contacts/${rita}/export`)).status, 404)
})

// Meta goes on reporting on a message it accepted (sent, delivered, read, failed) after the
// contact was erased. The status finds no message and is kept for when its message appears
// (it never will): it must not bring her number back. Here the emulator holds its webhooks
// while the erasure runs, which is what a loaded machine did by chance.
t.test('erase: a status still on its way for her message does not bring her number back', async (t) => {
  const ts = await emulatedServer(t)
  const { s, api, emulator } = ts
  const { sql } = s
  await ts.customerWrites(RITA, 'Rita Lopez', 'Is my parcel on its way?')
  const rita = (await sql.get<{ id: number }>('SELECT id FROM contacts WHERE external_id = ?', [RITA]))!.id
  const conv = (await sql.get<{ id: number }>('SELECT id FROM conversations WHERE contact_id = ?', [rita]))!.id

  emulator.setFaults({ pauseWebhooks: true })
  const sent = await api('POST', `/api/conversations/${conv}/messages`, { clientMessageId: 'late-1', type: 'text', text: 'It is' })
  t.equal(sent.status, 202)
  // Meta accepted it (a wamid) and its failed status waits in the emulator's queue.
  const wamid = await until(
    async () => (await sql.get<{ p: string | null }>(`SELECT provider_message_id AS p FROM messages WHERE direction = 'out'`))?.p,
    'the reply named by Meta',
  )
  await until(async () => emulator.stats().statusesScheduled === 0 && emulator.stats().webhooksPending > 0, 'the status queued')

  t.equal((await api('POST', `/api/contacts/${rita}/erase`, { confirm: 'Rita Lopez' })).status, 200)
  const delivered = emulator.stats().webhooksDelivered
  emulator.setFaults({ pauseWebhooks: false })
  await until(
    async () => emulator.stats().webhooksPending === 0 && emulator.stats().webhooksDelivered > delivered,
    'the status delivered after the erasure',
  )

  const kept = await sql.all<{ status: string; raw: string }>('SELECT status, raw FROM pending_statuses WHERE provider_message_id = ?', [
    wamid,
  ])
  t.match(kept, [{ status: 'failed' }], 'the status is kept (its message is unknown now)')
  t.match(JSON.parse(kept[0]!.raw), { errors: [{ code: 131026 }] }, 'with what applying it needs')
  t.notOk('recipient_id' in JSON.parse(kept[0]!.raw), 'but not whom it was for')
  t.same(await tablesNaming(sql, RITA), [], 'her number is in no table')
  t.same(
    Object.entries(await searchIndexHits(sql, RITA)).filter(([, n]) => n > 0),
    [],
    'nor in the search index',
  )
  t.equal(await count(sql, 'SELECT count(*) AS n FROM contacts WHERE external_id = ?', [RITA]), 0, 'and she is not a contact again')
})
