// API tokens written once for both databases (issue 17): the repository's and the domain's
// units give the same rows, the same audit lines and no events on a real SQLite and a real
// PostgreSQL database; another workspace's or person's token is absent. On PostgreSQL, two
// revocations (or two uses) of one token in racing transactions write and audit once.
import t from 'tap'
import { AuthService } from '../src/domain/accounts/auth.ts'
import { AuditLog } from '../src/domain/audit/audit-log.ts'
import { ApiTokens, hashToken, LAST_USED_GRANULARITY_MS, TOKEN_SESSION_PREFIX } from '../src/domain/tokens/api-tokens.ts'
import { ApiTokensRepo } from '../src/store/api-tokens.ts'
import { AuditLogRepo } from '../src/store/audit-log.ts'
import { get, step } from '../src/store/unit.ts'
import { type DialectDb, onBoth, pgDb } from './helpers/dialects.ts'

const T0 = 1_780_000_000_000

/** Ann (admin) and Bob (agent) in workspace 1, Cat (admin) in workspace 2: ids from each database. */
async function people(db: DialectDb) {
  return db.runner.transact(function* () {
    const add = (ws: number, email: string, role: string) =>
      get<{ id: number }>(
        `INSERT INTO users (workspace_id, email, name, password_hash, role, created_at) VALUES (?, ?, ?, 'x', ?, ?) RETURNING id`,
        [ws, email, email.split('@')[0], role, T0],
      )
    const ann = (yield* add(1, 'ann@example.com', 'admin'))!.id
    const bob = (yield* add(1, 'bob@example.com', 'agent'))!.id
    const cat = (yield* add(2, 'cat@example.com', 'admin'))!.id
    return { ann, bob, cat }
  })
}

function domain(clock: { now: number }) {
  const now = () => clock.now
  const audit = new AuditLog({ repo: new AuditLogRepo(), now })
  return { tokens: new ApiTokens({ repo: new ApiTokensRepo(), audit, now }), auditRepo: new AuditLogRepo() }
}

t.test('the repository: the same rows on SQLite and PostgreSQL, scoped to workspace and person', async (t) => {
  const repo = new ApiTokensRepo()
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { ann, bob, cat } = await people(db)
    const ids = await db.runner.transact(function* () {
      const mk = (workspaceId: number, userId: number, name: string, scope: 'read' | 'write', i: number) =>
        repo.insert({ workspaceId, userId, name, scope, tokenHash: hashToken(`v${i}`), createdAt: T0 + i })
      return [
        yield* mk(1, ann, 'CRM sync', 'write', 1),
        yield* mk(1, ann, 'Report', 'read', 2),
        yield* mk(1, bob, 'Bob script', 'write', 3),
        yield* mk(2, cat, 'Other shop', 'write', 4),
      ]
    })
    const [annWrite, annRead, bobs, cats] = ids as [number, number, number, number]
    const lists = await db.runner.read(function* () {
      return {
        ann: yield* repo.listOf(1, ann),
        bob: yield* repo.listOf(1, bob),
        annInOtherWorkspace: yield* repo.listOf(2, ann),
        cat: yield* repo.listOf(2, cat),
        own: yield* repo.ownById(annRead, 1, ann),
        notHers: yield* repo.ownById(bobs, 1, ann),
        otherWorkspace: yield* repo.ownById(cats, 1, cat),
        live: yield* repo.live(hashToken('v1')),
        liveUnknown: yield* repo.live(hashToken('nope')),
        liveById: yield* repo.liveById(cats),
      }
    })
    const touches = await db.runner.transact(function* () {
      const first = yield* repo.touch(annWrite, T0 + 100, T0 + 100 - LAST_USED_GRANULARITY_MS)
      const again = yield* repo.touch(annWrite, T0 + 200, T0 + 200 - LAST_USED_GRANULARITY_MS)
      const later = yield* repo.touch(annWrite, T0 + 100 + LAST_USED_GRANULARITY_MS, T0 + 100)
      return { first, again, later, row: yield* repo.ownById(annWrite, 1, ann) }
    })
    await db.exec(`UPDATE users SET disabled_at = ? WHERE id = ?`, [T0, bob])
    const deletes = await db.runner.transact(function* () {
      return {
        liveDisabled: yield* repo.live(hashToken('v3')),
        liveByIdDisabled: yield* repo.liveById(bobs),
        notHers: yield* repo.delete(bobs, 1, ann),
        otherWorkspace: yield* repo.delete(cats, 1, cat),
        own: yield* repo.delete(annRead, 1, ann),
        twice: yield* repo.delete(annRead, 1, ann),
        left: yield* repo.listOf(1, ann),
        catLeft: yield* repo.listOf(2, cat),
      }
    })
    return { ids: { ann, bob, cat, annWrite, annRead, bobs, cats }, lists, touches, deletes, events: db.published.length }
  })

  const { ids } = sqlite
  t.same(
    sqlite.lists.ann.map((r) => r.name),
    ['Report', 'CRM sync'],
    'newest first',
  )
  t.same(sqlite.lists.ann[1], { id: ids.annWrite, name: 'CRM sync', scope: 'write', createdAt: T0 + 1, lastUsedAt: null })
  t.same(sqlite.lists.annInOtherWorkspace, [], 'another workspace: none')
  t.equal(sqlite.lists.notHers, undefined, 'another person’s token is not hers')
  t.equal(sqlite.lists.otherWorkspace, undefined, 'another workspace’s token: absent')
  t.same(sqlite.lists.live, { id: ids.annWrite, userId: ids.ann, workspaceId: 1, scope: 'write', lastUsedAt: null, role: 'admin' })
  t.equal(sqlite.lists.liveUnknown, undefined)
  t.same(sqlite.lists.liveById, { id: ids.cats, userId: ids.cat, workspaceId: 2, scope: 'write', lastUsedAt: null, role: 'admin' })
  t.same(
    { first: sqlite.touches.first, again: sqlite.touches.again, later: sqlite.touches.later },
    { first: true, again: false, later: true },
    'the last-used time is written once a minute at most',
  )
  t.equal(sqlite.touches.row?.lastUsedAt, T0 + 100 + LAST_USED_GRANULARITY_MS)
  t.equal(sqlite.deletes.liveDisabled, undefined, 'a disabled person’s token stops')
  t.equal(sqlite.deletes.liveByIdDisabled, undefined)
  t.equal(sqlite.deletes.notHers, undefined)
  t.equal(sqlite.deletes.otherWorkspace, undefined)
  t.same(sqlite.deletes.own, { id: ids.annRead, name: 'Report', scope: 'read', createdAt: T0 + 2, lastUsedAt: null })
  t.equal(sqlite.deletes.twice, undefined)
  t.same(
    sqlite.deletes.left.map((r) => r.id),
    [ids.annWrite],
  )
  t.equal(sqlite.deletes.catLeft.length, 1, 'the other workspace’s token is untouched')
  t.equal(sqlite.events, 0, 'tokens publish no events')
  if (pg) t.same(pg, sqlite, 'PostgreSQL: the same')
})

t.test('the domain: create, list, use, revoke — the same results and audit lines on both', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { ann, bob, cat } = await people(db)
    const clock = { now: T0 }
    const { tokens, auditRepo } = domain(clock)
    const annWho = { workspaceId: 1, userId: ann, ip: '203.0.113.9' }
    const created = await db.runner.transact(() => tokens.createUnit(annWho, { name: '  CRM sync ', scope: 'write' }))
    const catToken = await db.runner.transact(() => tokens.createUnit({ workspaceId: 2, userId: cat }, { name: 'Other', scope: 'read' }))
    const bobToken = await db.runner.transact(() => tokens.createUnit({ workspaceId: 1, userId: bob }, { name: 'Bob', scope: 'read' }))

    const uses: unknown[] = []
    const use = async (value: string) => {
      const caller = await db.runner.transact(() => tokens.authenticateUnit(value))
      const listed = await db.runner.read(() => tokens.listUnit(1, ann))
      uses.push({ caller, lastUsedAt: listed.find((r) => r.id === created.id)?.lastUsedAt })
    }
    await use(created.value)
    clock.now += 30_000
    await use(created.value) // within the minute: not rewritten
    clock.now += 30_000
    await use(created.value) // a minute on: rewritten
    await use('prl_unknown')
    await use('not-a-token')

    const sessions = await db.runner.read(function* () {
      return {
        token: yield* tokens.sessionByIdUnit(`token:${catToken.id}`, 1000),
        unknown: yield* tokens.sessionByIdUnit('token:999999', 1000),
        garbage: yield* tokens.sessionByIdUnit('token:x', 1000),
      }
    })
    await db.exec(`UPDATE users SET disabled_at = ? WHERE id = ?`, [T0, bob])
    const disabled = {
      caller: await db.runner.transact(() => tokens.authenticateUnit(bobToken.value)),
      session: await db.runner.read(() => tokens.sessionByIdUnit(`token:${bobToken.id}`, 1000)),
    }

    const revokes = {
      otherWorkspace: await db.runner.transact(() => tokens.revokeUnit(annWho, catToken.id)),
      otherPerson: await db.runner.transact(() => tokens.revokeUnit(annWho, bobToken.id)),
      catFromWrongWorkspace: await db.runner.transact(() => tokens.revokeUnit({ workspaceId: 1, userId: cat }, catToken.id)),
      own: await db.runner.transact(() => tokens.revokeUnit(annWho, created.id)),
      again: await db.runner.transact(() => tokens.revokeUnit(annWho, created.id)),
    }
    const afterRevoke = await db.runner.transact(() => tokens.authenticateUnit(created.value))
    const audit = await db.runner.read(function* () {
      return { w1: yield* auditRepo.page(1, Number.MAX_SAFE_INTEGER, 50), w2: yield* auditRepo.page(2, Number.MAX_SAFE_INTEGER, 50) }
    })
    const strip = (c: typeof created) => ({ id: c.id, name: c.name, scope: c.scope, prefixed: c.value.startsWith('prl_') })
    return {
      ids: { ann, bob, cat },
      created: [strip(created), strip(catToken), strip(bobToken)],
      uses,
      sessions,
      disabled,
      revokes,
      afterRevoke,
      audit,
      lists: { ann: await db.runner.read(() => tokens.listUnit(1, ann)), cat: await db.runner.read(() => tokens.listUnit(2, cat)) },
      events: db.published.length,
    }
  })

  const { ids } = sqlite
  t.same(sqlite.created[0], { id: sqlite.created[0]!.id, name: 'CRM sync', scope: 'write', prefixed: true }, 'the name is trimmed')
  const annCaller = { tokenId: sqlite.created[0]!.id, userId: ids.ann, workspaceId: 1, role: 'admin', scope: 'write' }
  t.same(sqlite.uses, [
    { caller: annCaller, lastUsedAt: T0 },
    { caller: annCaller, lastUsedAt: T0 },
    { caller: annCaller, lastUsedAt: T0 + 60_000 },
    { caller: undefined, lastUsedAt: T0 + 60_000 },
    { caller: undefined, lastUsedAt: T0 + 60_000 },
  ])
  t.same(sqlite.sessions.token, {
    sessionId: `token:${sqlite.created[1]!.id}`,
    userId: ids.cat,
    workspaceId: 2,
    role: 'admin',
    expiresAt: T0 + 60_000 + 1000,
    token: { id: sqlite.created[1]!.id, scope: 'read' },
  })
  t.equal(sqlite.sessions.unknown, undefined)
  t.equal(sqlite.sessions.garbage, undefined)
  t.same(sqlite.disabled, { caller: undefined, session: undefined }, 'a disabled person’s token stops, its stream too')
  t.same(sqlite.revokes, { otherWorkspace: false, otherPerson: false, catFromWrongWorkspace: false, own: true, again: false })
  t.equal(sqlite.afterRevoke, undefined, 'a revoked token no longer authenticates')
  t.same(
    sqlite.audit.w1.map((e) => [e.action, e.actorUserId, e.targetId, e.detail, e.ip, e.at]),
    [
      ['token.revoked', ids.ann, String(sqlite.created[0]!.id), { name: 'CRM sync', scope: 'write' }, '203.0.113.9', T0 + 60_000],
      ['token.created', ids.bob, String(sqlite.created[2]!.id), { name: 'Bob', scope: 'read' }, null, T0],
      ['token.created', ids.ann, String(sqlite.created[0]!.id), { name: 'CRM sync', scope: 'write' }, '203.0.113.9', T0],
    ],
    'one line per creation and per revocation that happened, none for a refused one',
  )
  t.same(
    sqlite.audit.w2.map((e) => e.action),
    ['token.created'],
    'the other workspace’s log holds its own token only',
  )
  t.same(sqlite.lists.ann, [])
  t.equal(sqlite.lists.cat.length, 1)
  t.equal(sqlite.events, 0, 'tokens publish no events')
  if (pg) t.same(pg, sqlite, 'PostgreSQL: the same')
})

t.test('AuthService reads a token session in its one session read, the same on both', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { ann, bob } = await people(db)
    const clock = { now: T0 }
    const { tokens } = domain(clock)
    const auth = new AuthService({ units: db.runner }, () => clock.now)
    auth.resolveSessionsWith(TOKEN_SESSION_PREFIX, (id) => tokens.sessionByIdUnit(id, 5))
    const created = await db.runner.transact(() => tokens.createUnit({ workspaceId: 1, userId: ann }, { name: 'x', scope: 'read' }))
    const session = await auth.session(`token:${created.id}`)
    const inUnit = await db.runner.read(() => auth.sessionUnit(`token:${created.id}`))
    const unknown = await auth.session('token:999999')
    // Disabled: the token's person no longer holds, so neither does its session.
    await db.exec(`UPDATE users SET disabled_at = ? WHERE id = ?`, [T0, ann])
    const disabled = await auth.session(`token:${created.id}`)
    const signedIn = await auth.createSession((await auth.user(bob))!, 60)
    const own = await auth.session(signedIn.sessionId)
    await auth.revokeSession(signedIn.sessionId)
    return {
      session: session && { ...session, sessionId: session.sessionId === `token:${created.id}` },
      same: JSON.stringify(inUnit) === JSON.stringify(session),
      unknown,
      disabled,
      own: own && { userId: own.userId === bob, workspaceId: own.workspaceId, role: own.role, expiresAt: own.expiresAt },
      afterRevoke: await auth.session(signedIn.sessionId),
    }
  })
  t.same(sqlite.session, {
    sessionId: true,
    userId: sqlite.session?.userId,
    workspaceId: 1,
    role: 'admin',
    expiresAt: T0 + 5,
    token: { id: sqlite.session?.token?.id, scope: 'read' },
  })
  t.equal(sqlite.same, true, 'the plain method and the unit agree')
  t.equal(sqlite.unknown, undefined)
  t.equal(sqlite.disabled, undefined, "a disabled person's token session ends")
  t.same(sqlite.own, { userId: true, workspaceId: 1, role: 'agent', expiresAt: T0 + 60_000 })
  t.equal(sqlite.afterRevoke, undefined)
  if (pg) {
    t.same(
      { ...pg, session: { ...pg.session, userId: 0, token: 0 } },
      { ...sqlite, session: { ...sqlite.session, userId: 0, token: 0 } },
      'PostgreSQL: the same',
    )
  }
})

/** Waits (with a deadline) until another session is blocked on a lock. */
async function untilBlocked(db: DialectDb) {
  const deadline = Date.now() + 15_000
  for (;;) {
    const waiting = await db.runner.read(() =>
      get<{ n: number }>(`SELECT count(*) AS "n" FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`),
    )
    if (waiting!.n > 0) return
    if (Date.now() > deadline) throw new Error('the second transaction never waited for the first')
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('PostgreSQL: racing revocations and uses of one token write and audit once', async (t) => {
  const db = await pgDb(t)
  if (!db) return
  const { ann } = await people(db)
  const clock = { now: T0 }
  const { tokens, auditRepo } = domain(clock)
  const who = { workspaceId: 1, userId: ann }
  const tok = await db.runner.transact(() => tokens.createUnit(who, { name: 'x', scope: 'write' }))

  // Two uses at once of a token never used: the first holds its row until released, the second
  // waits on it, then finds the time already written.
  let release!: () => void
  const held = new Promise<void>((r) => {
    release = r
  })
  const repo = new ApiTokensRepo()
  const first = db.runner.transact(function* () {
    const wrote = yield* repo.touch(tok.id, T0, T0 - LAST_USED_GRANULARITY_MS)
    yield* step(() => held)
    return wrote
  })
  // The first has written (it is now waiting on `held`) before the second starts.
  await untilRowLocked(db, tok.id)
  const second = db.runner.transact(() => repo.touch(tok.id, T0 + 1, T0 + 1 - LAST_USED_GRANULARITY_MS))
  await untilBlocked(db)
  release()
  t.same(await Promise.all([first, second]), [true, false], 'the last-used time is written once')

  // Two revocations at once: one deletes and audits, the other finds nothing.
  let release2!: () => void
  const held2 = new Promise<void>((r) => {
    release2 = r
  })
  const r1 = db.runner.transact(function* () {
    const ok = yield* tokens.revokeUnit(who, tok.id)
    yield* step(() => held2)
    return ok
  })
  await untilRowLocked(db, tok.id)
  const r2 = db.runner.transact(() => tokens.revokeUnit(who, tok.id))
  await untilBlocked(db)
  release2()
  t.same(await Promise.all([r1, r2]), [true, false], 'one revocation succeeds')
  const lines = await db.runner.read(() => auditRepo.page(1, Number.MAX_SAFE_INTEGER, 10))
  t.same(
    lines.map((e) => e.action),
    ['token.revoked', 'token.created'],
    'and is audited once',
  )
})

/** Waits until an uncommitted transaction holds the token's row (its UPDATE or DELETE ran). */
async function untilRowLocked(db: DialectDb, id: number) {
  const deadline = Date.now() + 15_000
  for (;;) {
    // SKIP LOCKED answers without waiting: no row means another transaction holds it.
    const free = await db.runner.transact(() => get<{ id: number }>(`SELECT id FROM api_tokens WHERE id = ? FOR UPDATE SKIP LOCKED`, [id]))
    if (!free) return
    if (Date.now() > deadline) throw new Error('the first transaction never took the row')
    await new Promise((r) => setTimeout(r, 20))
  }
}
