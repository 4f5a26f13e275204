// Accounts written once for both databases (issue 17): users, sessions, the team, invitations
// and password reset links give the same answers and the same events on a real SQLite and a
// real PostgreSQL database (from their migrations); another workspace's person or invitation
// is absent; a link or an invitation used by two requests at once works once.
import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../src/config.ts'
import { AuthService, type UserRow } from '../src/domain/accounts/auth.ts'
import { bootstrap } from '../src/domain/accounts/bootstrap.ts'
import { Invitations } from '../src/domain/accounts/invitations.ts'
import { type LoginAttempt, LoginThrottle } from '../src/domain/accounts/login-throttle.ts'
import { createMailer } from '../src/domain/accounts/mailer.ts'
import { PasswordResets } from '../src/domain/accounts/password-reset.ts'
import { Team, type TeamRepos } from '../src/domain/accounts/team.ts'
import { AppError } from '../src/errors.ts'
import { ChannelMembersRepo } from '../src/store/channel-members.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { REVOCATION_MARK, SessionsRepo } from '../src/store/sessions.ts'
import { all, get, run } from '../src/store/unit.ts'
import { UsersRepo } from '../src/store/users.ts'
import { type DialectDb, onBoth } from './helpers/dialects.ts'

const T0 = 1_780_000_000_000

/** The error's code, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (err instanceof AppError) return err.code
    throw err
  }
}

function setUp(db: DialectDb) {
  let now = T0
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) }
  const auth = new AuthService({ units: db.runner }, clock.now)
  // Channel members and channels are units (their own repositories); conversations are not
  // yet (another part of issue 17): invitations here carry no channels, so nothing is marked read.
  const channels = new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7)))
  const repos: TeamRepos = {
    members: new ChannelMembersRepo(),
    conversations: {
      *startReadsAt(_userId, channelIds) {
        if (channelIds.length > 0) yield* run(`SELECT 1`)
      },
    },
    *channelIds(workspaceId) {
      return (yield* channels.list(workspaceId)).map((c) => c.id)
    },
  }
  const team = new Team(db.log, auth, clock.now, repos, db.runner)
  const mailer = createMailer({ mail: { smtpUrl: undefined } } as unknown as Config, {} as FastifyBaseLogger)
  const invitations = new Invitations(db.log, auth, team, mailer, clock.now, db.runner)
  const resets = new PasswordResets({ units: db.runner }, auth, clock.now)
  const io = { units: db.runner, log: db.log }
  return { clock, auth, team, invitations, resets, io }
}

/** Ana (admin) and Ben (agent) in workspace 1, Olga (admin) in workspace 2. */
async function people(db: DialectDb, auth: AuthService): Promise<{ ana: UserRow; ben: UserRow; olga: UserRow }> {
  const add = (workspaceId: number, email: string, name: string, role: 'admin' | 'agent') =>
    db.runner.transact(() => auth.insertUserUnit({ workspaceId, email, name, passwordHash: 'x', role }))
  return {
    ana: await add(1, ' Ana@Example.com ', 'Ana', 'admin'),
    ben: await add(1, 'ben@example.com', 'Ben', 'agent'),
    olga: await add(2, 'olga@example.com', 'Olga', 'admin'),
  }
}

const mark = (db: DialectDb) =>
  db.runner.read(function* () {
    return (yield* get<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, [REVOCATION_MARK]))?.value
  })

t.test('users, workspaces and sessions give the same answers on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { clock, auth } = setUp(db)
    const users = new UsersRepo()
    const sessions = new SessionsRepo()
    const { ana, ben, olga } = await people(db, auth)
    const r: Record<string, unknown> = {}
    r.ana = { email: ana.email, role: ana.role, streaming: ana.streaming, availability: ana.availability, disabledAt: ana.disabledAt }
    r.count = await db.runner.read(() => auth.userCountUnit())
    r.defaultWorkspace = await db.runner.transact(() => auth.defaultWorkspaceUnit())
    r.signIn = (await db.runner.read(() => auth.activeUserUnit('  ANA@example.com')))?.id === ana.id
    r.byEmail = (await db.runner.read(() => users.byEmail('ben@example.com')))?.name
    r.nameHere = await db.runner.read(() => users.nameInWorkspace(1, ana.id))
    r.nameElsewhere = await db.runner.read(() => users.nameInWorkspace(1, olga.id))
    r.ofWorkspace = (await db.runner.read(() => users.ofWorkspace(1))).map((u) => u.name)
    r.all = (await db.runner.read(() => users.all())).map((u) => u.name)
    r.admins = [await db.runner.read(() => users.activeAdmins(1)), await db.runner.read(() => users.activeAdmins(2))]
    r.updated = (await db.runner.transact(() => users.update(ben.id, { availability: 'busy' })))?.availability
    r.updateMissing = await db.runner.transact(() => users.update(9999, { name: 'Nobody' }))

    const s1 = await db.runner.transact(() => auth.createSessionUnit(ben, 60))
    const s2 = await db.runner.transact(() => auth.createSessionUnit(ben, 60))
    const s3 = await db.runner.transact(() => auth.createSessionUnit(ben, 3600))
    const live = await db.runner.read(() => auth.sessionUnit(s1.sessionId))
    r.live = live && { role: live.role, workspaceId: live.workspaceId, expiresIn: live.expiresAt - clock.now() }
    await db.runner.transact(() => auth.revokeSessionUnit(s1.sessionId))
    r.afterLogout = await db.runner.read(() => auth.sessionUnit(s1.sessionId))
    clock.advance(61_000)
    r.expired = await db.runner.read(() => auth.sessionUnit(s2.sessionId))
    r.markBefore = await mark(db)
    const s4 = await db.runner.transact(() => auth.createSessionUnit(ben, 3600))
    // Only live sessions count (s1 revoked, s2 expired); s4 is the one asking and is kept.
    r.revokedAll = await db.runner.transact(() => sessions.revokeAllOfUser(ben.id, clock.now(), s4.sessionId))
    r.markAfter = [await mark(db), await db.runner.transact(() => sessions.revokeAllOfUser(ben.id, clock.now())), await mark(db)]
    r.s3 = await db.runner.read(() => auth.sessionUnit(s3.sessionId))
    r.unknown = await db.runner.read(() => auth.sessionUnit('no-such-session'))
    return r
  })
  t.same(sqlite, {
    ana: { email: 'ana@example.com', role: 'admin', streaming: false, availability: 'online', disabledAt: null },
    count: 3,
    defaultWorkspace: 1,
    signIn: true,
    byEmail: 'Ben',
    nameHere: 'Ana',
    nameElsewhere: undefined,
    ofWorkspace: ['Ana', 'Ben'],
    all: ['Ana', 'Ben', 'Olga'],
    admins: [1, 1],
    updated: 'busy',
    updateMissing: undefined,
    live: { role: 'agent', workspaceId: 1, expiresIn: 60_000 },
    afterLogout: undefined,
    expired: undefined,
    markBefore: undefined,
    revokedAll: 1,
    markAfter: ['1', 1, '2'],
    s3: undefined,
    unknown: undefined,
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers as SQLite')
})

t.test('start-up (bootstrap): the first admin once, the environment’s channel kept up to date, on both', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { auth } = setUp(db)
    const channels = new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7)))
    const config = (whatsapp: Config['whatsapp'], adminPassword = 'a long enough password') =>
      ({ adminEmail: 'Boss@Example.com', adminPassword, whatsapp }) as unknown as Config
    const first = await bootstrap(
      config({ phoneNumberId: '123', businessAccountId: 'waba', accessToken: 'tok-1' }),
      { units: db.runner, channels },
      auth,
    )
    // A restart without the token in the environment keeps the one stored; another admin password changes nobody.
    const again = await bootstrap(
      config({ phoneNumberId: '123', businessAccountId: undefined, accessToken: undefined }, 'another password 1'),
      { units: db.runner, channels },
      auth,
    )
    const kept = await db.runner.read(() => channels.list(1))
    await bootstrap(
      config({ phoneNumberId: '123', businessAccountId: undefined, accessToken: 'tok-2' }),
      { units: db.runner, channels },
      auth,
    )
    const replaced = await db.runner.read(() => channels.list(1))
    const admin = await auth.checkCredentials('boss@example.com', 'a long enough password')
    return {
      workspaces: [first.workspaceId, again.workspaceId, await auth.defaultWorkspace()],
      users: await auth.userCount(),
      admin: admin && { email: admin.email, role: admin.role, workspaceId: admin.workspaceId },
      otherPassword: (await auth.checkCredentials('boss@example.com', 'another password 1')) === undefined,
      kept: kept.map((c) => ({ kind: c.kind, externalId: c.externalId, name: c.name, waba: c.businessAccountId, token: c.accessToken })),
      replaced: replaced.map((c) => c.accessToken),
    }
  })
  t.same(sqlite.workspaces, [1, 1, 1])
  t.equal(sqlite.users, 1, 'one admin, made once')
  t.same(sqlite.admin, { email: 'boss@example.com', role: 'admin', workspaceId: 1 })
  t.equal(sqlite.otherPassword, true)
  t.same(
    sqlite.kept,
    [{ kind: 'whatsapp', externalId: '123', name: 'WhatsApp', waba: 'waba', token: 'tok-1' }],
    'unset in the environment: kept',
  )
  t.same(sqlite.replaced, ['tok-2'], 'set in the environment: it wins')
  if (pg) t.same(pg, sqlite, 'PostgreSQL: the same')
})

t.test('the team: role, deactivation, availability and the last admin, with the same events', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { auth, team, io } = setUp(db)
    const { ana, ben, olga } = await people(db, auth)
    const r: Record<string, unknown> = {}
    const update = (ws: number, userId: number, patch: Parameters<Team['updateUnit']>[3]) =>
      outcome(db.log.transact((batch) => team.updateUnit(batch, ws, userId, patch)))
    r.list = (await db.runner.read(() => team.listUnit(1))).map((u) => `${u.name}:${u.role}`)
    r.otherWorkspace = await update(1, olga.id, { role: 'agent' })
    r.lastAdmin = await update(1, ana.id, { role: 'agent' })
    r.promote = await update(1, ben.id, { role: 'admin' })
    const anaSession = await db.runner.transact(() => auth.createSessionUnit(ana, 3600))
    const deactivated = await db.log.transact((batch) => team.updateUnit(batch, 1, ana.id, { disabled: true }))
    r.deactivated = { deactivated: deactivated.deactivated, disabled: deactivated.user.disabled }
    r.anaSession = await db.runner.read(() => auth.sessionUnit(anaSession.sessionId))
    r.anaSignIn = await db.runner.read(() => auth.activeUserUnit(ana.email))
    r.lastActiveAdmin = await update(1, ben.id, { disabled: true })
    r.busy = (await db.log.transact((batch) => team.setAvailabilityUnit(batch, 1, ben.id, 'busy'))).availability
    r.busyElsewhere = await outcome(db.log.transact((batch) => team.setAvailabilityUnit(batch, 2, ben.id, 'away')))
    r.member = await outcome(db.runner.read(() => team.memberUnit(2, ana.id)))
    r.unknownChannel = await outcome(db.runner.read(() => team.checkChannelsUnit(1, [12345])))
    const profile = await team.updateProfile(1, ben.id, 'none', { name: '  Benedict ' }, io)
    r.profile = profile.user.name
    r.events = db.published.map((e) => {
      const { user } = JSON.parse(e.data) as { user: { name: string; role: string; disabled: boolean; availability: string } }
      return `${e.type} ${user.name} ${user.role} ${user.disabled ? 'disabled' : 'active'} ${user.availability}`
    })
    // Two admins demoting each other at once (two processes): one of them stays admin.
    const cy = await db.runner.transact(() =>
      auth.insertUserUnit({ workspaceId: 1, email: 'cy@example.com', name: 'Cy', passwordHash: 'x', role: 'admin' }),
    )
    r.raced = (await Promise.all([update(1, ben.id, { role: 'agent' }), update(1, cy.id, { role: 'agent' })])).sort()
    r.adminsLeft = await db.runner.read(() => new UsersRepo().activeAdmins(1))
    // Whichever of the two won, its change was published once.
    r.racedEvents = db.published.length - (r.events as string[]).length
    return r
  })
  t.same(sqlite, {
    list: ['Ana:admin', 'Ben:agent'],
    otherWorkspace: 'NOT_FOUND',
    lastAdmin: 'LAST_ADMIN',
    promote: 'ok',
    deactivated: { deactivated: true, disabled: true },
    anaSession: undefined,
    anaSignIn: undefined,
    lastActiveAdmin: 'LAST_ADMIN',
    busy: 'busy',
    busyElsewhere: 'NOT_FOUND',
    member: 'NOT_FOUND',
    unknownChannel: 'UNKNOWN_CHANNEL',
    profile: 'Benedict',
    events: [
      'user.updated Ben admin active online',
      'user.updated Ana admin disabled online',
      'user.updated Ben admin active busy',
      'user.updated Benedict admin active busy',
    ],
    raced: ['LAST_ADMIN', 'ok'],
    adminsLeft: 1,
    racedEvents: 1,
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers and publishes as SQLite')
})

t.test('invitations: superseded, scoped to their workspace, accepted once even when raced', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { auth, invitations, io } = setUp(db)
    const { ana } = await people(db, auth)
    const r: Record<string, unknown> = {}
    const create = (email: string) =>
      db.runner.transact(() => invitations.createUnit(1, ana.id, { email, role: 'agent', channelIds: [] }, 'https://p.example'))
    const tokenOf = (url: string) => url.split('#token=')[1]!
    const first = await create('Nia@example.com')
    const second = await create('nia@example.com')
    r.mail = [first.mail, second.mail]
    r.firstPreview = await outcome(db.runner.read(() => invitations.previewUnit(tokenOf(first.invitation.url))))
    r.preview = await db.runner.read(() => invitations.previewUnit(tokenOf(second.invitation.url)))
    r.pending = (await db.runner.read(() => invitations.pendingUnit(1))).map((i) => `${i.email} by ${i.invitedBy?.name}`)
    r.pendingElsewhere = await db.runner.read(() => invitations.pendingUnit(2))
    r.revokeElsewhere = await outcome(db.runner.transact(() => invitations.revokeUnit(2, second.invitation.id)))
    r.taken = await outcome(create('ana@example.com'))
    r.unknownChannel = await outcome(
      db.runner.transact(() =>
        invitations.createUnit(1, ana.id, { email: 'x@example.com', role: 'agent', channelIds: [777] }, 'https://p'),
      ),
    )
    const token = tokenOf(second.invitation.url)
    const raced = await Promise.all([
      outcome(invitations.accept(token, 'Nia', 'a good password', io)),
      outcome(invitations.accept(token, 'Nia Two', 'a good password', io)),
    ])
    r.raced = raced.sort()
    r.again = await outcome(invitations.accept(token, 'Nia', 'a good password', io))
    r.nia = (await db.runner.read(() => auth.activeUserUnit('nia@example.com')))?.role
    r.pendingAfter = (await db.runner.read(() => invitations.pendingUnit(1))).length
    const third = await create('zed@example.com')
    await db.runner.transact(() => invitations.revokeUnit(1, third.invitation.id))
    r.revoked = await outcome(db.runner.read(() => invitations.previewUnit(tokenOf(third.invitation.url))))
    r.events = db.published.map((e) => `${e.type} ${(JSON.parse(e.data) as { user: { email: string } }).user.email}`)
    return r
  })
  t.same(sqlite, {
    mail: [undefined, undefined],
    firstPreview: 'INVITATION_REVOKED',
    preview: {
      email: 'nia@example.com',
      role: 'agent',
      workspace: 'W',
      invitedBy: 'Ana',
      expiresAt: sqlite.preview && (sqlite.preview as { expiresAt: number }).expiresAt,
    },
    pending: ['nia@example.com by Ana'],
    pendingElsewhere: [],
    revokeElsewhere: 'NOT_FOUND',
    taken: 'EMAIL_TAKEN',
    unknownChannel: 'UNKNOWN_CHANNEL',
    raced: ['INVITATION_USED', 'ok'],
    again: 'INVITATION_USED',
    nia: 'agent',
    pendingAfter: 0,
    revoked: 'INVITATION_REVOKED',
    events: ['user.updated nia@example.com'],
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers and publishes as SQLite')
})

t.test('password reset links: the newest only, used once even when raced, ending the sessions', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { clock, auth, resets } = setUp(db)
    const { ben } = await people(db, auth)
    const r: Record<string, unknown> = {}
    const session = await db.runner.transact(() => auth.createSessionUnit(ben, 3600))
    const old = await db.runner.transact(() => resets.issueUnit(ben.id))
    const link = await db.runner.transact(() => resets.issueUnit(ben.id))
    r.old = await outcome(db.runner.read(() => resets.checkUnit(old.token)))
    r.check = (await db.runner.read(() => resets.checkUnit(link.token))).user.email
    r.invalid = await outcome(db.runner.read(() => resets.checkUnit('nope')))
    const raced = await Promise.all([
      outcome(resets.consume(link.token, 'new password one')),
      outcome(resets.consume(link.token, 'new password two')),
    ])
    r.raced = raced.sort()
    r.session = await db.runner.read(() => auth.sessionUnit(session.sessionId))
    r.signIn = [
      Boolean(await auth.checkCredentials('ben@example.com', 'new password one')),
      Boolean(await auth.checkCredentials('ben@example.com', 'new password two')),
    ].sort()
    const expiring = await db.runner.transact(() => resets.issueUnit(ben.id, 1000))
    clock.advance(1000)
    r.expired = await outcome(db.runner.read(() => resets.checkUnit(expiring.token)))
    await db.runner.transact(() => auth.createSessionUnit(ben, 3600))
    r.ended = await db.runner.transact(() => resets.endSessionsUnit(ben.id))
    r.setPassword = await resets.setPassword(ben.id, 'third password')
    return r
  })
  t.same(sqlite, {
    old: 'RESET_LINK_USED',
    check: 'ben@example.com',
    invalid: 'RESET_LINK_INVALID',
    raced: ['RESET_LINK_USED', 'ok'],
    session: undefined,
    signIn: [false, true],
    expired: 'RESET_LINK_EXPIRED',
    ended: { sessionsEnded: 1 },
    setPassword: { sessionsEnded: 0 },
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL answers as SQLite')
})

t.test('login throttling holds in the database: across throttle objects (processes) and racing attempts', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    let now = T0
    const opts = { name: 'login', perAccount: 3, perAddress: 5, windowMs: 60_000 }
    const here = new LoginThrottle(opts, () => now, db.runner)
    // Another process: its own object, the same table.
    const there = new LoginThrottle(opts, () => now, db.runner)
    const show = (a: LoginAttempt) => (a.ok ? (a.lastForAccount ? 'last' : 'ok') : `wait ${a.retryAfterMs}`)
    const r: Record<string, unknown> = {}
    r.account = [
      show(await here.begin('a', '10.0.0.1')),
      show(await there.begin('a', '10.0.0.2')),
      show(await here.begin('a', '10.0.0.1')),
      show(await there.begin('a', '10.0.0.3')),
    ]
    now += 10_000
    r.address = [
      show(await here.begin('b', '10.0.0.1')),
      show(await here.begin('c', '10.0.0.1')),
      show(await there.begin('d', '10.0.0.1')),
      show(await there.begin('e', '10.0.0.1')),
    ]
    await there.succeeded('b', '10.0.0.1')
    r.refunded = show(await here.begin('e', '10.0.0.1'))
    r.otherThrottle = show(await new LoginThrottle({ ...opts, name: 'reset-request' }, () => now, db.runner).begin('a', '10.0.0.1'))
    now += 50_000
    r.windowOver = show(await there.begin('a', '10.0.0.9'))
    // Twenty attempts on one account at once, from twenty addresses: exactly the allowance passes.
    const raced = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? here : there).begin('r', `10.1.0.${i}`)))
    r.raced = raced.filter((a) => a.ok).length
    now += 60_000
    // Ended windows are swept (at most once a window per object).
    await here.begin('z', '10.2.0.1')
    r.rows = await db.runner.read(function* () {
      return (yield* all<{ key: string }>(`SELECT key FROM login_attempts ORDER BY key`)).map((x) => x.key)
    })
    return r
  })
  t.same(sqlite, {
    account: ['ok', 'ok', 'last', 'wait 60000'],
    // 10.0.0.1 tried twice for a, then three more accounts: its five; a sixth waits.
    address: ['ok', 'ok', 'ok', 'wait 50000'],
    refunded: 'ok',
    otherThrottle: 'ok',
    windowOver: 'ok',
    raced: 3,
    rows: ['login:a:z', 'login:i:10.2.0.1'],
  })
  if (pg) t.same(pg, sqlite, 'PostgreSQL counts as SQLite')
})
