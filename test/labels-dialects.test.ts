// Labels written once for both databases (issue 17): the repository's and the domain's
// units, on a fresh SQLite and a fresh PostgreSQL database from their real migrations, give
// the same labels in the same order (by code point, whatever PostgreSQL's locale), the same
// refusals and the same `labels.changed` events — and another workspace's label is absent
// (404, UNKNOWN_LABEL), never changed.
import t from 'tap'
import { Labels, MAX_LABELS_PER_WORKSPACE } from '../src/domain/labels/labels.ts'
import { AppError } from '../src/errors.ts'
import { LabelsRepo } from '../src/store/labels.ts'
import { get, type Q } from '../src/store/unit.ts'
import type { Emitter } from '../src/events/event-log.ts'
import { type DialectDb, onBoth, pgDb, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2

/** A conversation in each workspace (labels are set on them). */
async function seed(db: DialectDb): Promise<{ conv: number; otherConv: number }> {
  const conversation = async (ws: number, external: string) => {
    const channel = await insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, ?)`, [
      ws,
      external,
      external,
    ])
    const contact = await insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id) VALUES (?, 'whatsapp', ?)`, [
      ws,
      `c${external}`,
    ])
    return insertId(db, 'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, ?, ?, ?)', [
      ws,
      channel,
      contact,
      1,
    ])
  }
  return { conv: await conversation(WS, 'p1'), otherConv: await conversation(OTHER_WS, 'p9') }
}

/** The answer, or the refusal's code (what the route would send). */
async function outcome<T>(run: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof AppError) return { error: err.code }
    throw err
  }
}

t.test('the same labels, refusals and events on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { conv, otherConv } = await seed(db)
    let now = 1_000
    const repo = new LabelsRepo()
    const labels = new Labels({ repo, now: () => ++now })
    const write = <T>(unit: (batch: Emitter) => Q<T>) => outcome(() => db.log.transact(unit))
    const read = <T>(unit: () => Q<T>) => outcome(() => db.runner.read(unit))
    const out: Record<string, unknown> = {}

    // Names whose code-point order is not a linguistic one (upper case first, '_' between).
    for (const name of ['beta', 'Alpha', '_under', 'Zeta', 'alpha two', 'Ärger'])
      out[`create ${name}`] = await write((b) => labels.createUnit(b, WS, { name, color: '#2563EB' }))
    out.createOther = await write((b) => labels.createUnit(b, OTHER_WS, { name: 'Secret', color: '#000000' }))
    out.clashCase = await write((b) => labels.createUnit(b, WS, { name: 'ZETA', color: '#000000' }))
    // Beyond ASCII: SQLite's NOCASE would not see these as one name; the domain does.
    out.clashUnicode = await write((b) => labels.createUnit(b, WS, { name: 'ärger', color: '#000000' }))
    out.badName = await write((b) => labels.createUnit(b, WS, { name: 'two\nlines', color: '#000000' }))
    out.badColor = await write((b) => labels.createUnit(b, WS, { name: 'Blue', color: 'blue' }))
    out.sameNameOtherWs = await write((b) => labels.createUnit(b, OTHER_WS, { name: 'beta', color: '#111111' }))

    out.list = await read(() => labels.listUnit(WS))
    out.listOther = await read(() => labels.listUnit(OTHER_WS))
    const id = (v: unknown) => (v as { id: number }).id
    const beta = id(out['create beta'])
    const alpha = id(out['create Alpha'])
    const secret = id(out.createOther)

    out.unchanged = await write((b) => labels.updateUnit(b, WS, beta, { name: ' beta ', color: '#2563eb' }))
    out.recase = await write((b) => labels.updateUnit(b, WS, beta, { name: 'Beta' }))
    out.recolour = await write((b) => labels.updateUnit(b, WS, beta, { color: '#DC2626' }))
    out.renameClash = await write((b) => labels.updateUnit(b, WS, beta, { name: 'alpha' }))
    out.updateOtherWs = await write((b) => labels.updateUnit(b, WS, secret, { name: 'Mine now' }))
    out.updateUnknown = await write((b) => labels.updateUnit(b, WS, 999_999, { name: 'Nope' }))

    // A conversation's labels: another workspace's label is unknown; the same set twice changes nothing.
    out.checkOtherWs = await read(() => labels.checkIds(WS, [alpha, secret]))
    out.checkOwn = await read(() => labels.checkIds(WS, [alpha, beta]))
    out.setFirst = await outcome(() => db.runner.transact(() => repo.setForConversation(conv, [alpha, beta], ++now)))
    out.setSame = await outcome(() => db.runner.transact(() => repo.setForConversation(conv, [beta, alpha], ++now)))
    out.idsAfterSet = await read(() => repo.idsOf(conv))
    out.setSwap = await outcome(() => db.runner.transact(() => repo.setForConversation(conv, [alpha], ++now)))
    out.idsAfterSwap = await read(() => repo.idsOf(conv))
    await db.runner.transact(() => repo.setForConversation(otherConv, [secret], ++now))

    out.removeOtherWs = await write((b) => labels.removeUnit(b, WS, secret))
    out.otherStillCarries = await read(() => repo.idsOf(otherConv))
    out.removeAlpha = await write((b) => labels.removeUnit(b, WS, alpha))
    out.idsAfterRemove = await read(() => repo.idsOf(conv))
    out.removeAgain = await write((b) => labels.removeUnit(b, WS, alpha))
    out.repoOtherWs = await read(function* () {
      return { byId: (yield* repo.byId(WS, secret)) ?? null, count: yield* repo.count(WS), countOther: yield* repo.count(OTHER_WS) }
    })

    // The limit per workspace, counted in the transaction.
    await db.runner.transact(function* () {
      const have = yield* repo.count(WS)
      for (let i = have; i < MAX_LABELS_PER_WORKSPACE; i++) yield* repo.insert(WS, `Filler ${String(i).padStart(3, '0')}`, '#000000', 0)
    })
    out.overLimit = await write((b) => labels.createUnit(b, WS, { name: 'One too many', color: '#000000' }))
    out.otherWsNotFull = await write((b) => labels.createUnit(b, OTHER_WS, { name: 'Fine', color: '#000000' }))

    out.events = db.published.map((e) => ({
      type: e.type,
      labels: (JSON.parse(e.data) as { labels: { name: string }[] }).labels.map((l) => l.name),
      channelId: e.channelId,
      userId: e.userId,
    }))
    return out
  })

  const o = sqlite as Record<string, unknown>
  t.match(o['create Alpha'], { name: 'Alpha', color: '#2563eb' }, 'colour stored lower case')
  t.match(o.clashCase, { error: 'LABEL_EXISTS' })
  t.match(o.clashUnicode, { error: 'LABEL_EXISTS' })
  t.match(o.badName, { error: 'LABEL_NAME_INVALID' })
  t.match(o.badColor, { error: 'LABEL_COLOR_INVALID' })
  t.match(o.sameNameOtherWs, { name: 'beta' }, 'names are per workspace')
  t.same(
    (o.list as { name: string }[]).map((l) => l.name),
    ['Alpha', 'Zeta', '_under', 'alpha two', 'beta', 'Ärger'],
    'by code point, this workspace only',
  )
  t.same(
    (o.listOther as { name: string }[]).map((l) => l.name),
    ['Secret', 'beta'],
  )
  t.match(o.recase, { name: 'Beta' })
  t.match(o.recolour, { name: 'Beta', color: '#dc2626' })
  t.match(o.renameClash, { error: 'LABEL_EXISTS' })
  t.match(o.updateOtherWs, { error: 'NOT_FOUND' })
  t.match(o.updateUnknown, { error: 'NOT_FOUND' })
  t.match(o.checkOtherWs, { error: 'UNKNOWN_LABEL' })
  t.equal(o.setFirst, true)
  t.equal(o.setSame, false, 'the same set again: nothing written')
  t.equal(o.setSwap, true)
  t.match(o.removeOtherWs, { error: 'NOT_FOUND' })
  t.equal((o.otherStillCarries as number[]).length, 1, "the other workspace's conversation keeps its label")
  t.same(o.idsAfterRemove, [], 'a deleted label comes off its conversations')
  t.match(o.removeAgain, { error: 'NOT_FOUND' })
  t.same(o.repoOtherWs, { byId: null, count: 5, countOther: 2 })
  t.match(o.overLimit, { error: 'LABEL_LIMIT' })
  t.match(o.otherWsNotFull, { name: 'Fine' })
  const events = o.events as { type: string; labels: string[]; channelId: number | null; userId: number | null }[]
  t.ok(
    events.every((e) => e.type === 'labels.changed' && e.channelId === null && e.userId === null),
    'labels.changed to the whole workspace',
  )
  // 6 + 2 creates, a recase, a recolour, a delete, and the other workspace's last create: no event for what was refused or unchanged.
  t.equal(events.length, 12)
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly what SQLite does')
  else t.comment('no PostgreSQL (PARLEY_TEST_PG_URL unset): SQLite only')
})

t.test('PostgreSQL with a linguistic collation still lists labels by code point, as SQLite does', async (t) => {
  const db = await pgDb(t)
  if (!db) return t.comment('no PostgreSQL (PARLEY_TEST_PG_URL unset)')
  // A database created with an ICU (or en_US) locale gives its text columns that collation:
  // 'alpha' before 'Beta' before '_x'. The test server's is C.UTF-8, so the column is given one.
  await db.exec('ALTER TABLE labels ALTER COLUMN name TYPE text COLLATE "en-x-icu"')
  const repo = new LabelsRepo()
  const names = ['beta', 'Alpha', '_under', 'Zeta', 'alpha two', 'Ärger']
  await db.runner.transact(function* () {
    for (const name of names) yield* repo.insert(WS, name, '#000000', 0)
  })
  const linguistic = await db.runner.read(function* () {
    return (yield* get<{ names: string }>(`SELECT string_agg(name, '|' ORDER BY name) AS names FROM labels WHERE workspace_id = ?`, [WS]))!
      .names
  })
  t.not(linguistic, ['Alpha', 'Zeta', '_under', 'alpha two', 'beta', 'Ärger'].join('|'), 'the column sorts linguistically')
  const listed = await db.runner.read(() => repo.list(WS))
  t.same(
    listed.map((l) => l.name),
    ['Alpha', 'Zeta', '_under', 'alpha two', 'beta', 'Ärger'],
    'the list: by code point',
  )
})
