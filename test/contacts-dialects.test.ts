// Contacts written once for both databases (issue 17): the repositories' and the domain's
// units, on a fresh SQLite and a fresh PostgreSQL database from their real migrations, give
// the same rows, the same refusals and the same events — the inbound upsert, the contacts
// page (search, filters, tags, opt-out), the CSV import, the export and the erasure (one
// transaction, event payloads scrubbed). Another workspace's contact is absent everywhere.
// On PostgreSQL two sessions creating the same contact at once both succeed, with one row.
import t from 'tap'
import { AuditLog } from '../src/domain/audit/audit-log.ts'
import { ContactImporter } from '../src/domain/contacts/contacts-import.ts'
import { ContactsService } from '../src/domain/contacts/contacts.ts'
import { ContactData } from '../src/domain/contacts/erasure.ts'
import { AppError } from '../src/errors.ts'
import { AuditLogRepo } from '../src/store/audit-log.ts'
import { ContactErasureRepo, workspaceUserIds } from '../src/store/contact-erasure.ts'
import { ContactIdentities } from '../src/store/contact-identities.ts'
import { ContactsRepo } from '../src/store/contacts.ts'
import { all, get, type Q } from '../src/store/unit.ts'
import { type DialectDb, onBoth, pgDb, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2

/** The domain over one database, with a counter clock: the same times on both. */
function domainOn() {
  let now = 1_000_000
  const clock = () => ++now
  const repo = new ContactsRepo()
  const contacts = new ContactsService(repo, clock)
  const importer = new ContactImporter(contacts, repo, clock)
  const audit = new AuditLog({ repo: new AuditLogRepo(), now: clock })
  return { repo, contacts, importer, audit, clock }
}

/** What a unit threw: its code, or the unit's result. */
async function outcome<T>(p: Promise<T>): Promise<T | { error: string }> {
  try {
    return await p
  } catch (err) {
    if (err instanceof AppError) return { error: err.code }
    throw err
  }
}

const events = (db: DialectDb) => db.published.map((e) => ({ type: e.type, data: JSON.parse(e.data), channelId: e.channelId }))

t.test('the inbound upsert: created once, the profile name refreshed, an agent-set name kept, scoped by workspace', async (t) => {
  const ids = new ContactIdentities()
  const r = await onBoth(t, async (db) => {
    const u = (ws: number, ext: string, profile: string | null, now: number) =>
      db.runner.transact(() => ids.upsertContact(ws, 'whatsapp', ext, profile, ext, now))
    const first = await u(WS, '4915100000001', 'Ana', 10)
    const again = await u(WS, '4915100000001', 'Ana', 11)
    const renamed = await u(WS, '4915100000001', 'Ana S.', 12)
    await db.exec('UPDATE contacts SET name = ? WHERE id = ?', ['Ana (agent)', first.id])
    const kept = await u(WS, '4915100000001', 'Ana Sousa', 13)
    const noName = await u(WS, '4915100000001', null, 14)
    const other = await u(OTHER_WS, '4915100000001', 'Someone', 15)
    const lookup = await db.runner.read(function* () {
      return {
        mine: yield* ids.contactByExternalId(WS, 'whatsapp', '4915100000001'),
        messenger: yield* ids.contactByExternalId(WS, 'messenger', '4915100000001'),
        absent: yield* ids.contactByExternalId(WS, 'whatsapp', '999'),
      }
    })
    return { first, again, renamed, kept, noName, other, lookup }
  })
  t.equal(r.sqlite.first.id, r.sqlite.again.id, 'one contact')
  t.same([r.sqlite.renamed.name, r.sqlite.renamed.profileName], ['Ana S.', 'Ana S.'])
  t.same([r.sqlite.kept.name, r.sqlite.kept.profileName], ['Ana (agent)', 'Ana Sousa'], 'the agent-set name wins')
  t.equal(r.sqlite.noName.updatedAt, 13, 'no name: nothing written')
  t.not(r.sqlite.other.id, r.sqlite.first.id, "another workspace's contact is its own")
  t.equal(r.sqlite.lookup.messenger, undefined)
  t.equal(r.sqlite.lookup.absent, undefined)
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL gives the same rows')
})

t.test('the contacts page: create, edit, search, filters, tags, lists and opt-out give the same answers', async (t) => {
  const r = await onBoth(t, async (db) => {
    const { contacts, repo } = domainOn()
    const tx = <T>(unit: (batch: Parameters<Parameters<DialectDb['log']['transact']>[0]>[0]) => Q<T>) => outcome(db.log.transact(unit))
    const read = <T>(unit: () => Q<T>) => outcome(db.runner.read(unit))
    const ana = (await db.log.transact((b) =>
      contacts.createUnit(WS, { phone: '+49 151 0000 0001', name: 'Ana Sousa', tags: ['VIP', 'Berlin'], attributes: { tier: 'gold' } }, b),
    )) as { id: number }
    const bo = (await db.log.transact((b) =>
      contacts.createUnit(WS, { phone: '+49 151 0000 0002', name: 'bo_50%', tags: ['vip'] }, b),
    )) as {
      id: number
    }
    const other = (await db.log.transact((b) => contacts.createUnit(OTHER_WS, { phone: '+49 151 0000 0001', name: 'Ana Other' }, b))) as {
      id: number
    }
    const out = {
      invalid: await tx((b) => contacts.createUnit(WS, { phone: '0151' }, b)),
      // The same number again: the existing contact, its attributes merged.
      merged: await tx((b) => contacts.createUnit(WS, { phone: '4915100000001', attributes: { city: 'Berlin' } }, b)),
      edited: await tx((b) => contacts.updateUnit(WS, bo.id, { name: 'Bo', tags: ['late', 'vip'] }, b)),
      editOther: await tx((b) => contacts.updateUnit(WS, other.id, { name: 'x' }, b)),
      tooMany: await tx((b) => contacts.updateUnit(WS, bo.id, { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, b)),
      bulk: await tx((b) => contacts.bulkTagUnit(WS, [ana.id, bo.id, other.id, 999], ['Spring'], ['berlin'], b)),
      optOut: await tx((b) => contacts.setOptOutUnit(WS, ana.id, true, b)),
      optOutOther: await tx((b) => contacts.setOptOutUnit(WS, other.id, true, b)),
      get: await read(() => contacts.getUnit(WS, bo.id)),
      getOther: await read(() => contacts.getUnit(WS, other.id)),
      rowOther: await read(() => contacts.rowUnit(WS, other.id)),
      search: {
        all: await read(() => contacts.listUnit(WS, { limit: 10 })),
        // Case does not matter on either database; LIKE's wildcards typed by the user are literal.
        lowerName: await read(() => contacts.listUnit(WS, { q: 'ANA', limit: 10 })),
        wildcard: await read(() => contacts.listUnit(WS, { q: '%', limit: 10 })),
        digits: await read(() => contacts.listUnit(WS, { q: '0000 0002', limit: 10 })),
        tag: await read(() => contacts.listUnit(WS, { tag: ' VIP ', limit: 10 })),
        noTag: await read(() => contacts.listUnit(WS, { tag: '!!', limit: 10 })),
        optedOut: await read(() => contacts.listUnit(WS, { optedOut: true, limit: 10 })),
        optedIn: await read(() => contacts.listUnit(WS, { optedOut: false, limit: 10 })),
        kind: await read(() => contacts.listUnit(WS, { kind: 'messenger', limit: 10 })),
        page1: await read(() => contacts.listUnit(WS, { limit: 1 })),
        page2: await read(() => contacts.listUnit(WS, { limit: 1, beforeId: bo.id })),
        otherWs: await read(() => contacts.listUnit(OTHER_WS, { q: 'ana', limit: 10 })),
      },
      tags: await read(() => contacts.tagsUnit(WS)),
      byPhone: await read(() => contacts.byExternalIdUnit(WS, '4915100000002')),
      tagsOf: [...((await db.runner.read(() => repo.tagsOf([ana.id, bo.id, other.id]))) as Map<number, string[]>).entries()],
      existing: [...(await db.runner.read(() => repo.existingPhones(WS, ['4915100000001', '4915100000003', '4915100000002'])))].sort(),
      events: events(db),
    }
    return out
  })
  const s = r.sqlite
  t.same(s.invalid, { error: 'CONTACT_INVALID' })
  t.same(s.editOther, { error: 'NOT_FOUND' }, "another workspace's contact cannot be edited")
  t.same(s.optOutOther, { error: 'NOT_FOUND' })
  t.same(s.getOther, { error: 'NOT_FOUND' })
  t.equal(s.rowOther, undefined)
  t.same(s.tooMany, { error: 'CONTACT_INVALID' })
  t.equal(s.bulk, 2, "the other workspace's id and an unknown one are skipped")
  t.same((s.merged as { attributes: unknown }).attributes, { tier: 'gold', city: 'Berlin' })
  t.same(s.search.lowerName && (s.search.lowerName as { contacts: { name: string }[] }).contacts.map((c) => c.name), ['Ana Sousa'])
  t.same(
    (s.search.wildcard as { contacts: { name: string }[] }).contacts.map((c) => c.name),
    [],
    "'%' matches literally",
  )
  t.same(
    (s.search.digits as { contacts: { name: string }[] }).contacts.map((c) => c.name),
    ['Bo'],
  )
  t.same((s.search.tag as { contacts: { name: string }[] }).contacts.map((c) => c.name).sort(), ['Ana Sousa', 'Bo'])
  t.same((s.search.noTag as { contacts: unknown[] }).contacts, [])
  t.same(
    (s.search.optedOut as { contacts: { name: string }[] }).contacts.map((c) => c.name),
    ['Ana Sousa'],
  )
  t.same(
    (s.search.otherWs as { contacts: { name: string }[] }).contacts.map((c) => c.name),
    ['Ana Other'],
  )
  t.equal((s.search.page1 as { nextBeforeId: number | null }).nextBeforeId !== null, true)
  t.same(s.existing, ['4915100000001', '4915100000002'])
  t.ok(s.events.length >= 6, 'the writes emitted contact.updated')
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL gives the same answers and events')
})

t.test('opt-out from the webhook and from Meta: the same decisions on both', async (t) => {
  const r = await onBoth(t, async (db) => {
    const { contacts, repo } = domainOn()
    const id = (await db.log.transact((b) => contacts.createUnit(WS, { phone: '+4915100000001', name: 'Ana' }, b))).id
    const step = (unit: (b: Parameters<Parameters<DialectDb['log']['transact']>[0]>[0]) => Q<boolean>) => db.log.transact(unit)
    return {
      stop: await step((b) => contacts.optOutUnit(id, 'keyword', 'STOP', 5_000, b)),
      stopAgain: await step((b) => contacts.optOutUnit(id, 'keyword', 'STOP', 6_000, b)),
      olderResume: await step((b) => contacts.optInUnit(id, 'whatsapp_resume', 4_000, b)),
      resume: await step((b) => contacts.optInUnit(id, 'whatsapp_resume', 7_000, b)),
      lateStop: await step((b) => contacts.optOutUnit(id, 'meta_131050', null, 6_500, b)),
      unknown: await step((b) => contacts.optOutUnit(9_999, 'keyword', 'STOP', 8_000, b)),
      row: await db.runner.read(() => contacts.rowUnit(WS, id)),
      refusals: await db.runner.read(() => repo.unmarkedRefusals(131050)),
      recipient: await db.runner.read(() => repo.recipientOfMessage(12345)),
      events: events(db),
    }
  })
  t.same(
    [r.sqlite.stop, r.sqlite.stopAgain, r.sqlite.olderResume, r.sqlite.resume, r.sqlite.lateStop, r.sqlite.unknown],
    [true, false, false, true, false, false],
  )
  t.equal(r.sqlite.row?.optedOutAt, null)
  t.equal(r.sqlite.row?.optOutReversedAt, 7_000)
  if (r.pg) t.same(r.pg, r.sqlite)
})

t.test('the CSV import: the same preview, the same import, the same list', async (t) => {
  const csv =
    'phone;name;tags;city\n+49 151 0000 0001;Ana;VIP|berlin;Berlin\n0151 00000002;Bo;;Hamburg\n+49 151 0000 0001;Dup;;\nabc;Bad;;\n'
  const r = await onBoth(t, async (db) => {
    const { contacts, importer } = domainOn()
    await db.log.transact((b) => contacts.createUnit(WS, { phone: '+4915100000002', name: 'Bo old', attributes: { keep: 'yes' } }, b))
    // The other workspace's contact with the same number is not "existing" here.
    await db.log.transact((b) => contacts.createUnit(OTHER_WS, { phone: '+4915100000001', name: 'Other' }, b))
    const input = { csv, defaultCountryCode: '49', tags: ['Spring'], listName: 'Spring list' }
    const preview = await db.runner.read(() => importer.previewUnit(WS, input))
    const report = await db.log.transact((b) => importer.commitUnit(WS, 7, input, b))
    const none = await outcome(db.log.transact((b) => importer.commitUnit(WS, 7, { csv: 'phone\nabc\n' }, b)))
    return {
      preview,
      report,
      none,
      lists: await db.runner.read(() => contacts.listsUnit(WS)),
      otherLists: await db.runner.read(() => contacts.listsUnit(OTHER_WS)),
      listById: await db.runner.read(() => contacts.listByIdUnit(WS, report.listId!)),
      listByIdOther: await db.runner.read(() => contacts.listByIdUnit(OTHER_WS, report.listId!)),
      inList: await db.runner.read(() => contacts.listUnit(WS, { listId: report.listId, limit: 10 })),
      events: events(db),
    }
  })
  const s = r.sqlite
  t.same([s.preview.newContacts, s.preview.existingContacts, s.preview.duplicateCount, s.preview.invalidCount], [1, 1, 1, 1])
  t.same([s.report.created, s.report.updated], [1, 1])
  t.same(s.none, { error: 'CSV_INVALID' })
  t.equal(s.lists.length, 1)
  t.equal(s.lists[0]!.size, 2)
  t.same(s.otherLists, [])
  t.equal(s.listByIdOther, undefined)
  t.same(
    // Newest first: Ana was created by the import, Bo before it.
    s.inList.contacts.map((c) => [c.name, c.tags, c.attributes]),
    [
      ['Ana', ['berlin', 'spring', 'vip'], { city: 'Berlin' }],
      ['Bo', ['spring'], { keep: 'yes', city: 'Hamburg' }],
    ],
  )
  if (r.pg) t.same(r.pg, r.sqlite)
})

/** A contact with a conversation, messages, a media file, a tag, a list, and events naming them; and one in the other workspace. */
async function seedErasure(db: DialectDb) {
  const user = await insertId(db, 'INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, ?, ?)', [
    WS,
    'ann@example.com',
    'Ann',
    'x',
    'admin',
  ])
  const channel = await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', 'p1', 'Main')`, [
    WS,
  ])
  const otherChannel = await insertId(
    db,
    `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', 'p9', 'O')`,
    [OTHER_WS],
  )
  const contact = (ws: number, ext: string, name: string) =>
    insertId(
      db,
      `INSERT INTO contacts (workspace_id, kind, external_id, phone, name, attributes, created_at, updated_at) VALUES (?, 'whatsapp', ?, ?, ?, ?, 1, 1)`,
      [ws, ext, ext, name, JSON.stringify({ tier: 'gold' })],
    )
  const ana = await contact(WS, '4915100000001', 'Ana Sousa')
  const keep = await contact(WS, '4915100000002', 'Bo Keep')
  const other = await contact(OTHER_WS, '4915100000009', 'Other One')
  const conv = (ws: number, ch: number, c: number) =>
    insertId(
      db,
      'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at, created_at, updated_at) VALUES (?, ?, ?, 1, 1, 1)',
      [ws, ch, c],
    )
  const anaConv = await conv(WS, channel, ana)
  const keepConv = await conv(WS, channel, keep)
  await conv(OTHER_WS, otherChannel, other)
  const msg = (c: number, dir: string, type: string, text: string, pid: string | null) =>
    insertId(
      db,
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, provider_message_id, status, "timestamp", created_at, updated_at, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'delivered', 5, 5, 5, ?)`,
      [WS, c, channel, dir, type, text, pid, JSON.stringify({ x: 1 })],
    )
  const m1 = await msg(anaConv, 'in', 'text', 'my secret', 'wamid.1')
  await msg(anaConv, 'system', 'note', 'a note about Ana', null)
  const kept = await msg(keepConv, 'in', 'text', 'keep me', 'wamid.2')
  await insertId(
    db,
    `INSERT INTO media (workspace_id, channel_id, message_id, direction, state, mime_type, path, created_at) VALUES (?, ?, ?, 'in', 'ready', 'image/jpeg', 'media/a.jpg', 5)`,
    [WS, channel, m1],
  )
  await db.exec('INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES (?, ?, ?)', [WS, ana, 'vip'])
  const list = await insertId(db, 'INSERT INTO contact_lists (workspace_id, name, created_at) VALUES (?, ?, 1)', [WS, 'L'])
  await db.exec('INSERT INTO contact_list_members (list_id, contact_id) VALUES (?, ?)', [list, ana])
  await db.exec('INSERT INTO raw_webhooks (provider, reason, body, created_at) VALUES (?, ?, ?, 1), (?, ?, ?, 1)', [
    'whatsapp',
    'unknown',
    '{"from":"4915100000001"}',
    'whatsapp',
    'unknown',
    '{"from":"4915100000002"}',
  ])
  await db.log.transact(function* (b) {
    const emit = b.emit.bind(b) as (ws: number, type: string, payload: unknown, audience?: { channelId?: number }) => void
    emit(WS, 'message.created', { message: { id: m1, conversationId: anaConv, text: 'my secret' } }, { channelId: channel })
    emit(WS, 'conversation.updated', { conversation: { id: anaConv } }, { channelId: channel })
    emit(WS, 'contact.updated', { contact: { id: ana, name: 'Ana Sousa' } })
    emit(WS, 'message.created', { message: { id: kept, conversationId: keepConv, text: 'keep me' } }, { channelId: channel })
    emit(OTHER_WS, 'contact.updated', { contact: { id: other, name: 'Other One' } })
    yield* all('SELECT 1 AS one')
  })
  return { user, ana, keep, other, anaConv, keepConv }
}

t.test('export and erasure: the same data, counts, events and tombstones; another workspace untouched', async (t) => {
  const r = await onBoth(t, async (db) => {
    const { audit, clock } = domainOn()
    const data = new ContactData({
      repo: new ContactErasureRepo(),
      unitLog: db.log,
      audit,
      mediaDir: '/nonexistent-parley-media',
      now: () => 1_700_000_000_000,
    })
    void clock
    const s = await seedErasure(db)
    const actor = { userId: s.user, ip: '127.0.0.1' }
    const exported = await db.runner.transact(() => data.exportUnit(WS, s.ana, actor))
    const exportOther = await outcome(db.runner.transact(() => data.exportUnit(WS, s.other, actor)))
    const wrongName = await outcome(data.erase(WS, s.ana, 'Bo Keep', actor))
    const eraseOther = await outcome(data.erase(WS, s.other, 'Other One', actor))
    const before = db.published.length
    const counts = await data.erase(WS, s.ana, '+49 151 0000 0001', actor)
    const erasedEvents = events(db).slice(before)
    const left = await db.runner.read(function* () {
      return {
        contacts: yield* all<{ name: string }>('SELECT name FROM contacts ORDER BY id'),
        messages: yield* all<{ text: string }>('SELECT text FROM messages ORDER BY id'),
        media: yield* all('SELECT id FROM media'),
        tags: yield* all('SELECT tag FROM contact_tags'),
        members: yield* all('SELECT list_id FROM contact_list_members'),
        raw: yield* all<{ body: string }>('SELECT body FROM raw_webhooks ORDER BY id'),
        events: yield* all<{ type: string; payload: string }>('SELECT type, payload FROM events ORDER BY id'),
        audit: yield* all<{ action: string; detail: string }>('SELECT action, detail FROM audit_log ORDER BY id'),
        users: yield* workspaceUserIds(WS),
      }
    })
    return { exported, exportOther, wrongName, eraseOther, counts, erasedEvents, left }
  })
  const s = r.sqlite
  t.same(s.exportOther, { error: 'NOT_FOUND' })
  t.same(s.eraseOther, { error: 'NOT_FOUND' }, "another workspace's contact cannot be erased")
  t.same(s.wrongName, { error: 'ERASE_CONFIRM_MISMATCH' })
  const ex = s.exported as { contact: { tags: string[]; attributes: unknown }; conversations: { messages: unknown[]; notes: unknown[] }[] }
  t.same(ex.contact.tags, ['vip'])
  t.same(ex.contact.attributes, { tier: 'gold' })
  t.equal(ex.conversations[0]!.messages.length, 2)
  t.equal(ex.conversations[0]!.notes.length, 1)
  t.same(s.counts, { conversations: 1, messages: 2, media: 1, mediaFiles: 1, campaignRows: 0, mentions: 0, events: 3, rawWebhooks: 1 })
  t.same(
    s.erasedEvents.map((e) => e.type),
    ['conversation.deleted', 'contact.deleted'],
  )
  t.same(
    s.left.contacts.map((c) => c.name),
    ['Bo Keep', 'Other One'],
  )
  t.same(
    s.left.messages.map((m) => m.text),
    ['keep me'],
  )
  t.same(s.left.media, [])
  t.same(s.left.tags, [])
  t.same(s.left.members, [])
  t.same(
    s.left.raw.map((x) => x.body),
    ['{"from":"4915100000002"}'],
  )
  t.notMatch(JSON.stringify(s.left.events), /my secret|Ana Sousa/, 'no event carries the erased content')
  t.match(JSON.stringify(s.left.events), /keep me/, "another contact's events stay")
  t.match(JSON.stringify(s.left.events), /Other One/, "the other workspace's events stay")
  t.same(
    s.left.audit.map((a) => a.action),
    ['contact.exported', 'contact.erased'],
  )
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL erases the same rows and emits the same events')
})

t.test('PostgreSQL: two sessions creating the same contact at once both get it, and there is one row', async (t) => {
  const db = await pgDb(t)
  if (!db) {
    t.comment('no PostgreSQL (PARLEY_TEST_PG_URL): skipped')
    return
  }
  const ids = new ContactIdentities()
  for (let round = 0; round < 10; round++) {
    const ext = `49151000${String(round).padStart(5, '0')}`
    const [a, b, c] = await Promise.all(
      [0, 1, 2].map((i) => db.runner.transact(() => ids.upsertContact(WS, 'whatsapp', ext, `P${i}`, ext, 100 + round))),
    )
    t.ok(a!.id === b!.id && b!.id === c!.id, `round ${round}: one contact`)
  }
  const n = await db.runner.read(() => get<{ n: number }>('SELECT count(*) AS n FROM contacts'))
  t.equal(n?.n, 10)
})

t.test('tags are listed by code point on both, also where PostgreSQL has a linguistic collation', async (t) => {
  const tags = ['b_c', 'bc', 'b-c', 'ärger', 'zeta', 'a b', '10', '9']
  const r = await onBoth(t, async (db) => {
    // A database created with an ICU (or en_US) locale gives its text columns that collation;
    // the test server's is C.UTF-8, so the column is given one.
    if (db.runner.dialect === 'postgres') await db.exec('ALTER TABLE contact_tags ALTER COLUMN tag TYPE text COLLATE "en-x-icu"')
    const { contacts, repo } = domainOn()
    const id = (await db.log.transact((b) => contacts.createUnit(WS, { phone: '+4915100000001', name: 'Ana', tags }, b))).id
    const data = new ContactData({ repo: new ContactErasureRepo(), unitLog: db.log, audit: domainOn().audit, mediaDir: '/x', now: () => 1 })
    return {
      tagsOf: (await db.runner.read(() => repo.tagsOf([id]))).get(id),
      counts: (await db.runner.read(() => repo.tagCounts(WS))).map((c) => c.tag),
      exported: ((await db.runner.transact(() => data.exportUnit(WS, id, { userId: null }))) as { contact: { tags: string[] } }).contact
        .tags,
    }
  })
  const byCodePoint = [...tags].sort()
  t.same(r.sqlite, { tagsOf: byCodePoint, counts: byCodePoint, exported: byCodePoint })
  if (r.pg) t.same(r.pg, r.sqlite, 'PostgreSQL: the same order')
})
