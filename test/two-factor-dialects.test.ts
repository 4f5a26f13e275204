// Two-factor sign-in written once for both databases (issue 17): the repository's and the
// domain's units give the same answers on a real SQLite and a real PostgreSQL database (from
// their migrations), a person's row is never read or changed through another workspace, and a
// code or a recovery code used by two transactions at once is accepted once. 2FA emits no
// events: its audit lines commit with its changes (checked here too).
import t from 'tap'
import { generateSync } from 'otplib'
import { AuditLogRepo } from '../src/store/audit-log.ts'
import { AuditLog } from '../src/domain/audit/audit-log.ts'
import { TwoFactor, TOTP_PERIOD_SECONDS, type TwoFactorPerson } from '../src/domain/accounts/two-factor.ts'
import { AppError } from '../src/errors.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { TwoFactorRepo } from '../src/store/two-factor.ts'
import { get } from '../src/store/unit.ts'
import { type DialectDb, onBoth } from './helpers/dialects.ts'

const T0 = 1_780_000_000_000

function setUp() {
  let now = T0
  const clock = { now: () => now, advance: (ms: number) => void (now += ms) }
  const repo = new TwoFactorRepo()
  const twoFactor = new TwoFactor({ repo, secrets: new SecretBox(Buffer.alloc(32, 7)), now: clock.now, issuer: 'Parley' })
  const audit = new AuditLog({ repo: new AuditLogRepo(), now: clock.now })
  return { clock, repo, twoFactor, audit }
}

/** The error's code, or 'ok' (the value is left out: secrets and codes are random). */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (err instanceof AppError) return err.code
    throw err
  }
}

/** Two people in workspace 1, one in workspace 2, with ids the database gave. */
async function people(db: DialectDb): Promise<{ a: TwoFactorPerson; b: TwoFactorPerson; other: TwoFactorPerson }> {
  const add = (ws: number, email: string) =>
    db.runner.transact(function* () {
      const row = yield* get<{ id: number }>(
        `INSERT INTO users (workspace_id, email, name, password_hash, role, created_at) VALUES (?, ?, ?, 'x', 'agent', ?) RETURNING id`,
        [ws, email, email, T0],
      )
      return { id: row!.id, workspaceId: ws }
    })
  return { a: await add(1, 'a@example.com'), b: await add(1, 'b@example.com'), other: await add(2, 'o@example.com') }
}

const codeAt = (secret: string, ms: number) => generateSync({ secret, period: TOTP_PERIOD_SECONDS, epoch: Math.floor(ms / 1000) })

t.test('the whole life of 2FA gives the same answers on SQLite and PostgreSQL', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { clock, repo, twoFactor } = setUp()
    const { runner } = db
    const { a } = await people(db)
    const out: Record<string, unknown> = {}
    out.initial = await runner.read(() => twoFactor.status(a))

    const { secret, otpauthUrl } = await runner.transact(() => twoFactor.setup({ ...a, email: 'a@example.com' }))
    out.url = otpauthUrl.replace(secret, 'SECRET')
    out.pending = await runner.read(() => twoFactor.status(a))
    out.enableWrong = await outcome(runner.transact(() => twoFactor.enable(a, '000000 ')))
    out.enableGarbage = await outcome(runner.transact(() => twoFactor.enable(a, 'abc')))
    const first = codeAt(secret, clock.now())
    const recovery = await runner.transact(() => twoFactor.enable(a, first))
    out.recoveryShape = recovery.map((c) => /^[a-z2-9]{5}-[a-z2-9]{5}$/.test(c))
    out.enabled = await runner.read(() => twoFactor.status(a))
    out.enableAgain = await outcome(runner.transact(() => twoFactor.enable(a, first)))
    out.setupAgain = await outcome(runner.transact(() => twoFactor.setup({ ...a, email: 'a@example.com' })))

    // The row as each database returns it: numbers, a parsed list, the secret sealed.
    const row = (await runner.read(() => repo.get(a.workspaceId, a.id)))!
    out.row = {
      ...row,
      userId: row.userId === a.id,
      secret: row.secret?.startsWith('enc:v1:'),
      recoveryCodes: row.recoveryCodes?.length,
    }

    // The step enable used is spent; the next step's code works once.
    out.sameStep = await runner.transact(() => twoFactor.checkCode(a, first))
    clock.advance(TOTP_PERIOD_SECONDS * 1000)
    const second = codeAt(secret, clock.now())
    out.nextStep = await runner.transact(() => twoFactor.checkCode(a, second))
    out.nextStepAgain = await runner.transact(() => twoFactor.checkCode(a, second))
    out.earlierStepCode = await runner.transact(() => twoFactor.checkCode(a, codeAt(secret, clock.now() - 30_000)))
    out.notSixDigits = await runner.transact(() => twoFactor.checkCode(a, '12345'))

    out.recoveryOnce = await runner.transact(() => twoFactor.useRecoveryCode(a, recovery[0]!.toUpperCase().replace('-', ' ')))
    out.recoveryTwice = await runner.transact(() => twoFactor.useRecoveryCode(a, recovery[0]!))
    out.recoveryShort = await runner.transact(() => twoFactor.useRecoveryCode(a, 'abc'))
    out.left = (await runner.read(() => twoFactor.status(a))).recoveryCodesLeft

    const fresh = await runner.transact(() => twoFactor.regenerate(a))
    out.oldCodeAfterRegenerate = await runner.transact(() => twoFactor.useRecoveryCode(a, recovery[1]!))
    out.newCode = await runner.transact(() => twoFactor.useRecoveryCode(a, fresh[0]!))
    out.leftAfterRegenerate = (await runner.read(() => twoFactor.status(a))).recoveryCodesLeft

    out.disable = await outcome(runner.transact(() => twoFactor.disable(a)))
    out.disableAgain = await outcome(runner.transact(() => twoFactor.disable(a)))
    out.regenerateOff = await outcome(runner.transact(() => twoFactor.regenerate(a)))
    out.after = await runner.read(() => twoFactor.status(a))
    out.rowAfter = await runner.read(() => repo.get(a.workspaceId, a.id))
    return out
  })
  t.match(sqlite, {
    initial: { enabled: false, pending: false, recoveryCodesLeft: 0, required: false },
    pending: { enabled: false, pending: true },
    enableWrong: 'TOTP_CODE_WRONG',
    enableGarbage: 'TOTP_CODE_WRONG',
    enabled: { enabled: true, pending: false, recoveryCodesLeft: 10 },
    enableAgain: 'TOTP_ALREADY_ENABLED',
    setupAgain: 'TOTP_ALREADY_ENABLED',
    row: { userId: true, workspaceId: 1, secret: true, pendingSecret: null, enabledAt: T0, recoveryCodes: 10 },
    sameStep: false,
    nextStep: true,
    nextStepAgain: false,
    earlierStepCode: false,
    notSixDigits: false,
    recoveryOnce: true,
    recoveryTwice: false,
    recoveryShort: false,
    left: 9,
    oldCodeAfterRegenerate: false,
    newCode: true,
    leftAfterRegenerate: 9,
    disable: 'ok',
    disableAgain: 'TOTP_NOT_ENABLED',
    regenerateOff: 'TOTP_NOT_ENABLED',
    after: { enabled: false, pending: false, recoveryCodesLeft: 0 },
    rowAfter: undefined,
  })
  t.equal((sqlite.recoveryShape as boolean[]).filter(Boolean).length, 10, 'ten recovery codes, xxxxx-xxxxx')
  t.equal(typeof (sqlite.row as { lastStep: unknown }).lastStep, 'number')
  if (pg === undefined) t.comment('no PostgreSQL (PARLEY_TEST_PG_URL): SQLite only')
  else t.same(pg, sqlite, 'PostgreSQL answers as SQLite does')
})

t.test("a person's 2FA is never read or changed through another workspace", async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { clock, repo, twoFactor } = setUp()
    const { runner } = db
    const { a, other } = await people(db)
    const { secret } = await runner.transact(() => twoFactor.setup({ ...a, email: 'a@example.com' }))
    const recovery = await runner.transact(() => twoFactor.enable(a, codeAt(secret, clock.now())))
    clock.advance(TOTP_PERIOD_SECONDS * 1000)
    // `a`'s id with workspace 2 (a session of another workspace naming them).
    const elsewhere = { id: a.id, workspaceId: other.workspaceId }
    const out: Record<string, unknown> = {
      row: await runner.read(() => repo.get(elsewhere.workspaceId, elsewhere.id)),
      status: await runner.read(() => twoFactor.status(elsewhere)),
      isEnabled: await runner.read(() => twoFactor.isEnabled(elsewhere)),
      checkCode: await runner.transact(() => twoFactor.checkCode(elsewhere, codeAt(secret, clock.now()))),
      recovery: await runner.transact(() => twoFactor.useRecoveryCode(elsewhere, recovery[0]!)),
      regenerate: await outcome(runner.transact(() => twoFactor.regenerate(elsewhere))),
      disable: await outcome(runner.transact(() => twoFactor.disable(elsewhere))),
      // Setup through workspace 2 finds nothing on there, but must not touch the row in workspace 1.
      setup: await outcome(runner.transact(() => twoFactor.setup({ ...elsewhere, email: 'a@example.com' }))),
    }
    out.home = await runner.read(() => twoFactor.status(a))
    // What was refused elsewhere still works at home: the code's step and the recovery code were not spent.
    out.homeCode = await runner.transact(() => twoFactor.checkCode(a, codeAt(secret, clock.now())))
    out.homeRecovery = await runner.transact(() => twoFactor.useRecoveryCode(a, recovery[0]!))

    // The "required for everyone" switch is per workspace.
    await runner.transact(() => twoFactor.setRequiredUnit(1, true))
    out.required = [await runner.read(() => twoFactor.requiredUnit(1)), await runner.read(() => twoFactor.requiredUnit(2))]
    await runner.transact(() => twoFactor.setRequiredUnit(1, false))
    await runner.transact(() => twoFactor.setRequiredUnit(2, true))
    out.requiredSwapped = [await runner.read(() => twoFactor.requiredUnit(1)), await runner.read(() => twoFactor.requiredUnit(2))]
    out.otherStatus = (await runner.read(() => twoFactor.status(other))).required
    return out
  })
  t.match(sqlite, {
    row: undefined,
    status: { enabled: false, pending: false, recoveryCodesLeft: 0, required: false },
    isEnabled: false,
    checkCode: false,
    recovery: false,
    regenerate: 'TOTP_NOT_ENABLED',
    disable: 'TOTP_NOT_ENABLED',
    setup: 'ok',
    home: { enabled: true, pending: false, recoveryCodesLeft: 10 },
    homeCode: true,
    homeRecovery: true,
    required: [true, false],
    requiredSwapped: [false, true],
    otherStatus: true,
  })
  if (pg === undefined) t.comment('no PostgreSQL (PARLEY_TEST_PG_URL): SQLite only')
  else t.same(pg, sqlite, 'PostgreSQL answers as SQLite does')
})

t.test('a code or a recovery code used by two transactions at once is accepted once', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { clock, twoFactor } = setUp()
    const { runner } = db
    const { a } = await people(db)
    const { secret } = await runner.transact(() => twoFactor.setup({ ...a, email: 'a@example.com' }))
    const recovery = await runner.transact(() => twoFactor.enable(a, codeAt(secret, clock.now())))
    const out: Record<string, unknown> = {}
    const rounds = 5
    const sameCode: boolean[][] = []
    const sameRecovery: boolean[][] = []
    const twoRecovery: boolean[][] = []
    for (let i = 0; i < rounds; i++) {
      clock.advance(TOTP_PERIOD_SECONDS * 1000)
      const code = codeAt(secret, clock.now())
      sameCode.push(await Promise.all([1, 2, 3].map(() => runner.transact(() => twoFactor.checkCode(a, code)))))
      // Recovery codes 0..4 each tried by two at once; 5..9 in pairs of two different codes at once.
      const r = recovery[i]!
      sameRecovery.push(await Promise.all([1, 2].map(() => runner.transact(() => twoFactor.useRecoveryCode(a, r)))))
    }
    for (let i = 5; i < 10; i += 2) {
      const pair = [recovery[i]!, recovery[i + 1] ?? recovery[i]!]
      twoRecovery.push(await Promise.all(pair.map((r) => runner.transact(() => twoFactor.useRecoveryCode(a, r)))))
    }
    out.sameCode = sameCode.map((r) => r.filter(Boolean).length)
    out.sameRecovery = sameRecovery.map((r) => r.filter(Boolean).length)
    out.twoRecovery = twoRecovery.map((r) => r.filter(Boolean).length)
    out.left = (await runner.read(() => twoFactor.status(a))).recoveryCodesLeft
    return out
  })
  // Pairs (5,6), (7,8) and (9,9): the last pair is one code twice.
  t.same(sqlite, { sameCode: [1, 1, 1, 1, 1], sameRecovery: [1, 1, 1, 1, 1], twoRecovery: [2, 2, 1], left: 0 })
  if (pg === undefined) t.comment('no PostgreSQL (PARLEY_TEST_PG_URL): SQLite only')
  else t.same(pg, sqlite, 'PostgreSQL accepts each once too')
})

t.test('a change and its audit line commit together, or neither does', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const { clock, twoFactor, audit } = setUp()
    const { runner } = db
    const { a } = await people(db)
    const disableAudited = () =>
      runner.transact(function* () {
        yield* twoFactor.disable(a)
        yield* audit.recordUnit({
          workspaceId: a.workspaceId,
          actor: { userId: a.id },
          action: '2fa.disabled',
          target: { type: 'user', id: a.id },
        })
      })
    // Not on: disable throws after nothing, and the audit line is not written.
    const refused = await outcome(disableAudited())
    const { secret } = await runner.transact(() => twoFactor.setup({ ...a, email: 'a@example.com' }))
    await runner.transact(() => twoFactor.enable(a, codeAt(secret, clock.now())))
    // A unit that throws after disabling rolls the disabling back.
    const rolledBack = await outcome(
      runner.transact(function* () {
        yield* twoFactor.disable(a)
        throw new AppError('TEST_ABORT', 500, 'after the change')
      }),
    )
    const stillOn = await runner.read(() => twoFactor.isEnabled(a))
    const done = await outcome(disableAudited())
    const lines = await runner.read(() => audit.pageUnit(a.workspaceId, undefined, 10))
    return { refused, rolledBack, stillOn, done, actions: lines.map((l) => l.action) }
  })
  t.same(sqlite, { refused: 'TOTP_NOT_ENABLED', rolledBack: 'TEST_ABORT', stillOn: true, done: 'ok', actions: ['2fa.disabled'] })
  if (pg === undefined) t.comment('no PostgreSQL (PARLEY_TEST_PG_URL): SQLite only')
  else t.same(pg, sqlite, 'PostgreSQL commits and rolls back as SQLite does')
})
