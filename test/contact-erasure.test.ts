// Issue 16: a contact's data over real HTTP. The export carries what was stored (conversations on
// two numbers, messages, a media file's metadata, a note, labels, tags, a campaign row); the
// erasure leaves nothing of the contact in any table (search finds nothing, the FTS index has no
// row, the media file is gone, event payloads are tombstones with their ids kept), other contacts
// are untouched, open streams hear `conversation.deleted`, agents get 403 and another workspace 404.
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { twoChannelServer, otherWorkspaceAdmin } from './helpers/team-fixtures.ts'
import { envelope, status, value } from './helpers/wa.ts'
import { uploadMedia } from './helpers/media-files.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'

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

async function stocked(t: Test) {
  const ts = await twoChannelServer(t)
  const { s, api, customerWrites, second } = ts
  const db = s.db.$client
  await customerWrites(RITA, 'Rita Lopez', 'My parcel zanzibarish never came')
  await customerWrites(RITA, 'Rita Lopez', 'Also on the support line quixotical', 'second')
  await customerWrites(OTTO, 'Otto Berg', 'Otto asks about zanzibarish too')
  const contactOf = (wa: string) => db.prepare('SELECT id FROM contacts WHERE external_id = ?').pluck().get(wa) as number
  const convsOf = (contactId: number) =>
    db.prepare('SELECT id FROM conversations WHERE contact_id = ? ORDER BY id').pluck().all(contactId) as number[]
  const rita = contactOf(RITA)
  const otto = contactOf(OTTO)
  const [ritaX, ritaY] = convsOf(rita) as [number, number]
  const [ottoX] = convsOf(otto) as [number]

  // A picture sent to Rita (its file stays on disk). The test server runs in sandbox mode: the
  // first number's sends go to the emulator in the same process, which accepts the picture and
  // reports it failed (she is none of its customers) by a status webhook some time later —
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
  t.equal(db.prepare(`SELECT count(*) FROM pending_statuses WHERE instr(raw, ?) > 0`).pluck().get(RITA), 1, 'a kept status names her')
  // A campaign that reached both (a fixture row: campaigns need Meta's templates).
  const ws = ts.workspaceId
  const campaignId = db
    .prepare(
      `INSERT INTO campaigns (workspace_id, channel_id, name, status, template_name, template_language, params, audience)
       VALUES (?, ?, 'Spring', 'completed', 'order_update', 'en', '{}', '{}') RETURNING id`,
    )
    .pluck()
    .get(ws, second) as number
  for (const c of [rita, otto]) {
    db.prepare(`INSERT INTO campaign_recipients (campaign_id, workspace_id, contact_id, state) VALUES (?, ?, ?, 'skipped')`).run(
      campaignId,
      ws,
      c,
    )
  }
  return { ...ts, ana, db, rita, otto, ritaX, ritaY, ottoX, campaignId, mediaId: up.body.media.id as number }
}

type SqliteClient = Awaited<ReturnType<typeof stocked>>['db']

/** The tables (search indexes aside) whose rows, as JSON text, contain `needle`. */
function tablesNaming(db: SqliteClient, needle: string): string[] {
  const tables = db
    .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%search%' AND name NOT LIKE 'sqlite_%'`)
    .pluck()
    .all() as string[]
  return tables.filter((tb) => JSON.stringify(db.prepare(`SELECT * FROM "${tb}"`).all()).includes(needle))
}

t.test('export: everything stored of the contact, admins only, audited', async (t) => {
  const { s, api, ana, rita, ritaX, ritaY, campaignId, mediaId, db } = await stocked(t)
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
  t.equal(db.prepare(`SELECT count(*) FROM audit_log WHERE action = 'contact.exported' AND target_id = ?`).pluck().get(String(rita)), 1)

  const refused = await ana.call('GET', `/api/contacts/${rita}/export`)
  t.equal(refused.status, 403, 'agents may not export')
  t.equal((await api('GET', '/api/contacts/999999/export')).status, 404)
  const other = await otherWorkspaceAdmin(s)
  t.equal((await other.call('GET', `/api/contacts/${rita}/export`)).status, 404, 'another workspace: 404')
})

t.test('erase: nothing of the contact remains; others untouched; streams told; cursors valid', async (t) => {
  const { s, api, ana, db, rita, otto, ritaX, ritaY, ottoX, dataDir: _d, campaignId } = { ...(await stocked(t)), dataDir: '' }
  const mediaDir = path.join(s.dataDir, 'media')
  const filesBefore = readdirSync(mediaDir)
  t.equal(filesBefore.length, 1, 'the picture is on disk')
  const eventsBefore = db.prepare('SELECT id FROM events ORDER BY id').pluck().all() as number[]

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
  t.equal(db.prepare('SELECT count(*) FROM contacts WHERE id = ?').pluck().get(rita), 0)
  t.equal(db.prepare('SELECT count(*) FROM contact_tags WHERE contact_id = ?').pluck().get(rita), 0)
  t.equal(db.prepare('SELECT count(*) FROM campaign_recipients WHERE contact_id = ?').pluck().get(rita), 0)
  for (const table of ['messages', 'mentions', 'outbox', 'conversation_reads', 'conversation_labels', 'report_episodes']) {
    t.equal(
      db
        .prepare(`SELECT count(*) FROM ${table} WHERE conversation_id IN (?, ?)`)
        .pluck()
        .get(...ritaConvs),
      0,
      `${table}: none left`,
    )
  }
  t.equal(
    db
      .prepare('SELECT count(*) FROM conversations WHERE id IN (?, ?)')
      .pluck()
      .get(...ritaConvs),
    0,
  )
  t.equal(db.prepare('SELECT count(*) FROM media').pluck().get(), 0, 'the media row')
  t.same(readdirSync(mediaDir), [], 'the media file')
  t.notOk(existsSync(path.join(mediaDir, filesBefore[0]!)))
  t.equal(db.prepare(`SELECT count(*) FROM message_search WHERE message_search MATCH 'quixotical'`).pluck().get(), 0, 'no FTS row')
  t.equal(db.prepare(`SELECT count(*) FROM contact_search WHERE contact_search MATCH 'rita'`).pluck().get(), 0, 'no contact FTS row')
  t.equal(db.prepare(`SELECT count(*) FROM contact_phone_search WHERE contact_phone_search MATCH '0001111'`).pluck().get(), 0)
  const search = await api('GET', '/api/search?q=quixotical')
  t.same(search.body.results, [], 'search finds nothing')
  t.same((await api('GET', '/api/search?q=rita')).body.results, [], 'nor her name')

  // Every text of hers is gone from every table (the whole database, as text).
  for (const needle of ['quixotical', 'Rita Lopez', 'Refund her', RITA, 'receipt-rita']) {
    t.same(tablesNaming(db, needle), [], `"${needle}" is in no table`)
  }

  // The event log keeps its ids (cursors stay valid); the scrubbed ones are tombstones.
  const eventsAfter = db.prepare('SELECT id FROM events ORDER BY id').pluck().all() as number[]
  t.same(eventsAfter.slice(0, eventsBefore.length), eventsBefore, 'no event id was removed')
  t.ok((db.prepare(`SELECT count(*) FROM events WHERE type = 'erased' AND payload = '{"erased":true}'`).pluck().get() as number) > 0)
  const resumed = await connectSse(`${s.url}/stream`, {
    token: (await s.login()).token,
    lastEventId: sse.events.find((e) => e.id)?.id ?? '',
  })
  t.teardown(() => resumed.close())
  t.equal(resumed.status, 200, 'an old cursor still resumes')

  // Otto is untouched.
  t.equal(db.prepare('SELECT count(*) FROM contacts WHERE id = ?').pluck().get(otto), 1)
  t.equal(db.prepare('SELECT count(*) FROM messages WHERE conversation_id = ?').pluck().get(ottoX), 1)
  t.equal(db.prepare('SELECT count(*) FROM conversation_labels WHERE conversation_id = ?').pluck().get(ottoX), 1)
  t.equal(db.prepare('SELECT count(*) FROM campaign_recipients WHERE contact_id = ? AND campaign_id = ?').pluck().get(otto, campaignId), 1)
  t.equal((await api('GET', '/api/search?q=zanzibarish')).body.results.length, 1, 'his message is still found')
  const list = (await api('GET', '/api/conversations')).body.conversations.map((c: { id: number }) => c.id)
  t.same(list, [ottoX], 'the inbox lists only his')

  const audit = db
    .prepare(`SELECT detail FROM audit_log WHERE action = 'contact.erased' AND target_id = ?`)
    .pluck()
    .all(String(rita)) as string[]
  t.equal(audit.length, 1)
  t.match(JSON.parse(audit[0]!), { conversations: 2, messages: 4 }, 'audited with counts')
  t.notOk(audit[0]!.includes('Rita'), 'and no content')
  t.equal((await api('POST', `/api/contacts/${rita}/erase`, { confirm: 'Rita Lopez' })).status, 404, 'erased: 404')
  t.equal((await api('GET', `/api/contacts/${rita}/export`)).status, 404)
})

// Meta goes on reporting on a message it accepted (sent, delivered, read, failed) after the
// contact was erased. The status finds no message and is kept for when its message appears
// (it never will): it must not bring her number back. Here the sandbox's emulator holds its
// webhooks while the erasure runs, which is what a loaded machine did by chance.
t.test('erase: a status still on its way for her message does not bring her number back', async (t) => {
  const ts = await twoChannelServer(t)
  const { s, api } = ts
  const db = s.db.$client
  const emulator = s.app.services.sandbox?.emulator
  if (!emulator) throw new Error('the test server runs in sandbox mode')
  await ts.customerWrites(RITA, 'Rita Lopez', 'Is my parcel on its way?')
  const rita = db.prepare('SELECT id FROM contacts WHERE external_id = ?').pluck().get(RITA) as number
  const conv = db.prepare('SELECT id FROM conversations WHERE contact_id = ?').pluck().get(rita) as number

  emulator.setFaults({ pauseWebhooks: true })
  const sent = await api('POST', `/api/conversations/${conv}/messages`, { clientMessageId: 'late-1', type: 'text', text: 'It is' })
  t.equal(sent.status, 202)
  // Meta accepted it (a wamid) and its failed status waits in the emulator's queue.
  const wamid = await until(
    async () => db.prepare(`SELECT provider_message_id FROM messages WHERE direction = 'out'`).pluck().get() as string | null,
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

  const kept = db.prepare('SELECT status, raw FROM pending_statuses WHERE provider_message_id = ?').all(wamid) as Array<{
    status: string
    raw: string
  }>
  t.match(kept, [{ status: 'failed' }], 'the status is kept (its message is unknown now)')
  t.match(JSON.parse(kept[0]!.raw), { errors: [{ code: 131026 }] }, 'with what applying it needs')
  t.notOk('recipient_id' in JSON.parse(kept[0]!.raw), 'but not whom it was for')
  t.same(tablesNaming(db, RITA), [], 'her number is in no table')
  t.equal(db.prepare('SELECT count(*) FROM contacts WHERE external_id = ?').pluck().get(RITA), 0, 'and she is not a contact again')
})
