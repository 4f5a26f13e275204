// Canned replies written once for both databases (issue 17): the same domain units, on a
// fresh SQLite and a fresh PostgreSQL database from their real migrations, give the same
// answers and the same refusals — lists in the same order, attribute variables known per
// workspace, render scoped by channel and workspace, another workspace's rows absent. On
// PostgreSQL the shortcut's uniqueness holds under concurrent requests (the workspace lock).
import t from 'tap'
import type { Access } from '../src/domain/accounts/access.ts'
import { CannedReplies } from '../src/domain/canned/canned-replies.ts'
import { AppError } from '../src/errors.ts'
import { CannedRepliesRepo } from '../src/store/canned-replies.ts'
import { get, type Q, step } from '../src/store/unit.ts'
import type { UnitRunner } from '../src/store/runner.ts'
import { onBoth, pgDb, insertId } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2

interface Seed {
  admin: Access
  bea: Access
  /** An admin of the other workspace. */
  zed: Access
  conv1: number
  conv2: number
  otherConv: number
}

/** One insert through the runner; the id the database gave. */
/** Two workspaces: an admin and an agent (one of two channels) in the first, an admin and a contact with its own attribute in the other. */
async function seed(db: { runner: UnitRunner }): Promise<Seed> {
  const user = (ws: number, email: string, name: string, role: string) =>
    insertId(db, 'INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, ?, ?)', [ws, email, name, 'x', role])
  const channel = (ws: number, external: string) =>
    insertId(db, `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, ?)`, [ws, external, external])
  const contact = (ws: number, external: string, name: string | null, attributes: Record<string, string> | null) =>
    insertId(db, `INSERT INTO contacts (workspace_id, kind, external_id, name, attributes) VALUES (?, 'whatsapp', ?, ?, ?)`, [
      ws,
      external,
      name,
      attributes === null ? null : JSON.stringify(attributes),
    ])
  const conversation = (ws: number, channelId: number, contactId: number) =>
    insertId(db, 'INSERT INTO conversations (workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, ?, ?, ?)', [
      ws,
      channelId,
      contactId,
      1,
    ])

  const adminId = await user(WS, 'ann@example.com', 'Ann Admin', 'admin')
  const beaId = await user(WS, 'bea@example.com', 'Bea Agent', 'agent')
  const zedId = await user(OTHER_WS, 'zed@example.com', 'Zed Other', 'admin')
  const c1 = await channel(WS, 'phone-1')
  const c2 = await channel(WS, 'phone-2')
  const otherChannel = await channel(OTHER_WS, 'phone-9')
  // Keys whose byte order differs from a linguistic one ('-' and '_' against letters, upper case first).
  const ana = await contact(WS, '4915100000001', 'Ana Sousa', { tier: 'gold', Zone: 'north', 'b-c': '1', b_c: '2', city: '' })
  const bo = await contact(WS, '4915100000002', null, null)
  const secret = await contact(OTHER_WS, '4915100000009', 'Someone Else', { secret: 'other workspace' })
  return {
    admin: { workspaceId: WS, userId: adminId, role: 'admin', channelIds: null },
    bea: { workspaceId: WS, userId: beaId, role: 'agent', channelIds: new Set([c1]) },
    zed: { workspaceId: OTHER_WS, userId: zedId, role: 'admin', channelIds: null },
    conv1: await conversation(WS, c1, ana),
    conv2: await conversation(WS, c2, bo),
    otherConv: await conversation(OTHER_WS, otherChannel, secret),
  }
}

/** A counter clock: the same updatedAt values on both databases. */
function cannedOn(): { canned: CannedReplies; repo: CannedRepliesRepo } {
  let now = 1_000
  const repo = new CannedRepliesRepo()
  return { canned: new CannedReplies({ repo, now: () => ++now }), repo }
}

/** The answer, or the refusal's code and message (what the route would send). */
async function outcome<T>(run: () => Promise<T>): Promise<T | { error: string; message: string }> {
  try {
    return await run()
  } catch (err) {
    if (err instanceof AppError) return { error: err.code, message: err.message }
    throw err
  }
}

t.test('the same replies, lists, refusals and renders on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const { canned, repo } = cannedOn()
    const tx = <T>(unit: () => Q<T>) => outcome(() => db.runner.transact(unit))
    const read = <T>(unit: () => Q<T>) => outcome(() => db.runner.read(unit))
    const out: Record<string, unknown> = { seed: { ...s, bea: { ...s.bea, channelIds: [...s.bea.channelIds!] } } }

    // Shortcuts whose case-insensitive byte order is not a linguistic one.
    for (const shortcut of ['hours', 'a-b', 'ab', 'A_c', 'Zeta', '9am'])
      out[`shared ${shortcut}`] = await tx(() =>
        canned.create(s.admin, { shortcut, text: `Hi {{contact.first_name}}, ${shortcut}`, shared: true }),
      )
    out.adminOwn = await tx(() => canned.create(s.admin, { shortcut: '/sig', text: '  Cheers, {{agent.name}}  ' }))
    out.beaOwn = await tx(() => canned.create(s.bea, { shortcut: 'Thanks', text: 'Thank you, {{ Contact.Name | friend }}!' }))
    out.beaTier = await tx(() => canned.create(s.bea, { shortcut: 'tier', text: 'Your tier: {{contact.tier}} {{contact.b-c}}' }))
    out.beaShared = await tx(() => canned.create(s.bea, { shortcut: 'x', text: 'y', shared: true }))
    out.beaClash = await tx(() => canned.create(s.bea, { shortcut: 'HOURS', text: 'taken by the shared one' }))
    out.adminClashOwn = await tx(() => canned.create(s.admin, { shortcut: 'SIG', text: 'taken by the admin own' }))
    out.adminSameAsBeaOwn = await tx(() =>
      canned.create(s.admin, { shortcut: 'thanks', text: 'Bea’s own does not block it', shared: true }),
    )
    out.badShortcut = await tx(() => canned.create(s.bea, { shortcut: 'two words', text: 'x' }))
    out.emptyText = await tx(() => canned.create(s.bea, { shortcut: 'empty', text: '   ' }))
    // An attribute only the other workspace's contacts have is unknown here.
    out.otherWsAttribute = await tx(() => canned.create(s.bea, { shortcut: 'secret', text: '{{contact.secret}} {{order.total}} {{oops' }))

    out.listAdmin = await read(() => canned.list(s.admin))
    out.listBea = await read(() => canned.list(s.bea))
    out.listZed = await read(() => canned.list(s.zed))
    out.variables = await read(() => canned.variables(s.admin))
    out.variablesZed = await read(() => canned.variables(s.zed))

    const id = (v: unknown) => (v as { id: number }).id
    const hours = id(out['shared hours'])
    const beaOwn = id(out.beaOwn)
    const adminOwn = id(out.adminOwn)
    out.updateSharedByBea = await tx(() => canned.update(s.bea, hours, { text: 'no' }))
    out.updateBeaOwnByAdmin = await tx(() => canned.update(s.admin, beaOwn, { text: 'not theirs' }))
    out.updateClash = await tx(() => canned.update(s.admin, adminOwn, { shortcut: 'Hours' }))
    out.updateOwnCase = await tx(() => canned.update(s.admin, adminOwn, { shortcut: 'Sig' }))
    out.updateShare = await tx(() => canned.update(s.admin, adminOwn, { shared: true, text: 'Cheers from the team' }))
    out.updateBeaShares = await tx(() => canned.update(s.bea, beaOwn, { shared: true }))
    // A shared 'thanks' came after Bea's own 'Thanks': a change of hers must rename it.
    out.updateBeaText = await tx(() => canned.update(s.bea, beaOwn, { text: 'Thanks, {{contact.first_name | there}}' }))
    out.updateBeaRename = await tx(() =>
      canned.update(s.bea, beaOwn, { shortcut: 'thanks-mine', text: 'Thanks, {{contact.first_name | there}}' }),
    )

    out.renderBea = await read(() => canned.render(s.bea, id(out.beaTier), s.conv1))
    out.renderFallback = await read(() => canned.render(s.admin, beaOwn, s.conv1))
    out.renderOthersOwn = await read(() => canned.render(s.admin, beaOwn, s.conv2))
    out.renderBeaOwnNoName = await read(() => canned.render(s.bea, beaOwn, s.conv1))
    out.renderAdminConv2 = await read(() => canned.render(s.admin, hours, s.conv2))
    out.renderOutOfChannel = await read(() => canned.render(s.bea, hours, s.conv2))
    out.renderOtherWsConv = await read(() => canned.render(s.admin, hours, s.otherConv))
    out.renderNoConv = await read(() => canned.render(s.admin, hours, 999_999))

    // The other workspace: none of the first one's replies exist for it.
    out.zedRender = await read(() => canned.render(s.zed, hours, s.otherConv))
    out.zedUpdate = await tx(() => canned.update(s.zed, hours, { text: 'mine now' }))
    out.zedRemove = await tx(() => canned.remove(s.zed, hours))
    out.zedSameShortcut = await tx(() => canned.create(s.zed, { shortcut: 'hours', text: 'Their own {{contact.secret}}', shared: true }))
    out.repoOtherWs = await tx(function* () {
      return {
        byId: (yield* repo.byId(OTHER_WS, hours)) ?? null,
        update: (yield* repo.update(OTHER_WS, hours, { ownerId: null, shortcut: 'x', text: 'x', now: 0 })) ?? null,
        contactOf: (yield* repo.contactOf(OTHER_WS, s.conv1)) ?? null,
        userName: (yield* repo.userName(OTHER_WS, s.admin.userId)) ?? null,
        attributeInUse: yield* repo.attributeInUse(OTHER_WS, 'tier'),
      }
    })
    out.repoDeleteOtherWs = await tx(() => repo.delete(OTHER_WS, hours))

    out.removeSharedByBea = await tx(() => canned.remove(s.bea, hours))
    out.removeBeaOwn = await tx(() => canned.remove(s.bea, beaOwn))
    out.removeAgain = await tx(() => canned.remove(s.bea, beaOwn))
    out.listBeaAfter = await read(() => canned.list(s.bea))
    // A reply saved before its attribute disappeared from every contact is refused on render.
    await db.exec(`UPDATE contacts SET attributes = '{}' WHERE workspace_id = ?`, [WS])
    out.renderStale = await read(() => canned.render(s.bea, id(out.beaTier), s.conv1))
    out.variablesAfter = await read(() => canned.variables(s.admin))
    return out
  })

  // What SQLite answers is what Parley answered before the port (test/canned-replies.test.ts
  // holds it over HTTP); a few landmarks here, then PostgreSQL must answer the same.
  const o = sqlite as Record<string, unknown>
  type Listed = { id: number; shortcut: string; shared: boolean }[]
  const listed = (v: unknown) => v as Listed
  t.match(o.adminOwn, { shortcut: 'sig', text: 'Cheers, {{agent.name}}', shared: false, ownerId: (o.seed as Seed).admin.userId })
  t.match(o.beaShared, { error: 'FORBIDDEN' })
  t.match(o.beaClash, { error: 'SHORTCUT_EXISTS' })
  t.match(o.adminClashOwn, { error: 'SHORTCUT_EXISTS' })
  t.match(o.adminSameAsBeaOwn, { shortcut: 'thanks', shared: true })
  t.match(o.otherWsAttribute, { error: 'UNKNOWN_VARIABLE', message: /\{\{contact\.secret\}\}, \{\{order\.total\}\}, \{\{oops/ })
  t.same(
    listed(o.listAdmin).map((r) => r.shortcut),
    ['9am', 'a-b', 'A_c', 'ab', 'hours', 'sig', 'thanks', 'Zeta'],
    'case-insensitive byte order',
  )
  t.same(
    listed(o.listBea).map((r) => `${r.shortcut}${r.shared ? '' : ' (own)'}`),
    ['9am', 'a-b', 'A_c', 'ab', 'hours', 'thanks', 'Thanks (own)', 'tier (own)', 'Zeta'],
    'the shared one first where an own reply has the same name',
  )
  t.same(o.listZed, [])
  t.same(
    (o.variables as { attributes: string[] }).attributes,
    ['Zone', 'b-c', 'b_c', 'city', 'tier'],
    'byte order; the other workspace’s key absent',
  )
  t.same((o.variablesZed as { attributes: string[] }).attributes, ['secret'])
  t.match(o.updateSharedByBea, { error: 'FORBIDDEN' })
  t.match(o.updateBeaOwnByAdmin, { error: 'NOT_FOUND' })
  t.match(o.updateClash, { error: 'SHORTCUT_EXISTS' })
  t.match(o.updateOwnCase, { shortcut: 'Sig', shared: false })
  t.match(o.updateShare, { shortcut: 'Sig', shared: true, ownerId: null, text: 'Cheers from the team' })
  t.match(o.updateBeaShares, { error: 'FORBIDDEN' })
  t.match(o.updateBeaText, { error: 'SHORTCUT_EXISTS' })
  t.match(o.updateBeaRename, { shortcut: 'thanks-mine', shared: false, ownerId: (o.seed as Seed).bea.userId })
  t.same(o.renderBea, { text: 'Your tier: gold 1', missing: [] })
  t.match(o.renderFallback, { error: 'NOT_FOUND' }, 'someone else’s own reply does not exist for an admin either')
  t.same(o.renderBeaOwnNoName, { text: 'Thanks, Ana', missing: [] })
  t.same(o.renderAdminConv2, { text: 'Hi , hours', missing: ['contact.first_name'] })
  t.match(o.renderOutOfChannel, { error: 'NOT_FOUND', message: /Conversation/ })
  t.match(o.renderOtherWsConv, { error: 'NOT_FOUND', message: /Conversation/ })
  t.match(o.renderNoConv, { error: 'NOT_FOUND', message: /Conversation/ })
  t.match(o.zedRender, { error: 'NOT_FOUND', message: /Canned reply/ })
  t.match(o.zedUpdate, { error: 'NOT_FOUND' })
  t.match(o.zedRemove, { error: 'NOT_FOUND' })
  t.match(o.zedSameShortcut, { shortcut: 'hours', shared: true }, 'shortcuts are per workspace')
  t.same(o.repoOtherWs, { byId: null, update: null, contactOf: null, userName: null, attributeInUse: false })
  t.equal(o.repoDeleteOtherWs, false)
  t.match(o.removeSharedByBea, { error: 'FORBIDDEN' })
  t.equal(o.removeBeaOwn, undefined)
  t.match(o.removeAgain, { error: 'NOT_FOUND' })
  t.notOk(
    listed(o.listBeaAfter).some((r) => r.id === (o.beaOwn as { id: number }).id),
    'the removed reply is gone',
  )
  t.match(o.renderStale, { error: 'UNKNOWN_VARIABLE', message: /\{\{contact\.tier\}\}/ })
  t.same((o.variablesAfter as { attributes: string[] }).attributes, [])

  if (pg) t.same(pg, sqlite, 'PostgreSQL answers exactly as SQLite')
})

/** Polls until `check` holds, or fails after `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('PostgreSQL: two concurrent creates of one shortcut — the second waits for the first and is refused', async (t) => {
  const db = await pgDb(t) // a pool of 4: this test holds 3 connections at once
  if (!db) return
  const s = await seed(db)
  const { canned } = cannedOn()
  let release!: () => void
  const gate = new Promise<void>((r) => {
    release = r
  })
  let firstCreated = false
  // The first request's transaction stays open after its insert until the gate opens.
  const first = db.runner.transact(function* () {
    const dto = yield* canned.create(s.admin, { shortcut: 'hours', text: 'First', shared: true })
    firstCreated = true
    yield* step(() => gate)
    return dto
  })
  await until('the first create to insert', async () => firstCreated)
  const second = outcome(() => db.runner.transact(() => canned.create(s.bea, { shortcut: 'Hours', text: 'Second' })))
  let secondDone = false
  void second.then(() => {
    secondDone = true
  })
  // Waiting on the workspace's advisory lock (without it, it would find the shortcut free:
  // the first insert is not committed yet, and it would insert a second 'hours').
  const waitingOnLock = () =>
    db.runner.read(function* () {
      const row = yield* get<{ n: number }>(
        `SELECT count(*) AS "n" FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
      )
      return row!.n === 1
    })
  try {
    await until('the second create to wait on the lock', async () => {
      if (secondDone) throw new Error('the second create finished while the first was open: nothing serialized them')
      return waitingOnLock()
    })
  } catch (err) {
    release() // so the first transaction ends and the teardown can drop the database
    throw err
  }
  // Another workspace's writes do not wait for this one's.
  const other = await db.runner.transact(() => canned.create(s.zed, { shortcut: 'hours', text: 'Elsewhere', shared: true }))
  t.match(other, { shortcut: 'hours', shared: true })
  t.notOk(secondDone, 'the second create is still waiting while the first is open')
  release()
  t.match(await first, { shortcut: 'hours', text: 'First' })
  t.match(await second, { error: 'SHORTCUT_EXISTS' })
  const rows = await db.runner.read(() => canned.list(s.bea))
  t.same(
    rows.map((r) => r.text),
    ['First'],
    'one reply named hours in the workspace',
  )
})
