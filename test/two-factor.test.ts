// Issue 16: TOTP two-factor sign-in over real HTTP with the app's clock faked: a valid
// code, a reused one (refused), ±1 step of skew accepted and ±2 refused, recovery codes
// that work once, wrong codes counted by the login throttle, and "required for everyone"
// with its setup-only token.
import t, { type Test } from 'tap'
import { generate } from 'otplib'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'

const STEP = 30_000
// A step boundary near now (sessions and JWTs are checked against real time too), plus 10 s.
const T0 = Math.floor(Date.now() / STEP) * STEP + 10_000

async function setup(t: Test, env: Record<string, string> = {}) {
  const clock = { t: T0, now: () => clock.t }
  const s = await startServer(t, { clock, env })
  const { token } = await s.login()
  const api = apiCall(s.url, token)
  const login = (extra: Record<string, unknown> = {}, email = ADMIN.email, password = ADMIN.password) =>
    api('POST', '/api/auth/login', { email, password, ...extra }, null)
  const codeAt = (secret: string, ms: number) => generate({ secret, epoch: Math.floor(ms / 1000) })
  /** Turns 2FA on for the admin: the secret and the recovery codes. */
  const enable = async () => {
    const set = await api('POST', '/api/me/2fa/setup', {})
    t.equal(set.status, 200)
    const secret = set.body.secret as string
    const on = await api('POST', '/api/me/2fa/enable', { code: await codeAt(secret, clock.t) })
    t.equal(on.status, 200, 'enabled')
    clock.t += STEP // the code used to enable is spent: sign-ins use the next step
    return { secret, recoveryCodes: on.body.recoveryCodes as string[] }
  }
  return { s, clock, api, token, login, codeAt, enable }
}

t.test('setup: the secret is sealed at rest and pending until a code confirms it; then login asks for the code', async (t) => {
  const { s, api, login, codeAt, clock } = await setup(t)
  t.same((await api('GET', '/api/me/2fa')).body, { enabled: false, pending: false, recoveryCodesLeft: 0, required: false })
  const set = await api('POST', '/api/me/2fa/setup', {})
  t.match(set.body.secret, /^[A-Z2-7]{16,}$/)
  t.match(set.body.otpauthUrl, /^otpauth:\/\/totp\/Parley:admin%40example\.com\?.*secret=/)
  const row = (await s.sql.get<{ secret: null; pending_secret: string }>('SELECT secret, pending_secret FROM two_factor'))!
  t.equal(row.secret, null)
  t.match(row.pending_secret, /^enc:v1:/, 'sealed')
  t.notOk(row.pending_secret.includes(set.body.secret), 'not in clear')
  t.equal((await login()).status, 200, 'pending: sign-in still needs the password only')

  const wrong = await api('POST', '/api/me/2fa/enable', { code: '000000' })
  t.equal(wrong.status, 422)
  t.equal(wrong.body.error.code, 'TOTP_CODE_WRONG')
  const on = await api('POST', '/api/me/2fa/enable', { code: await codeAt(set.body.secret, clock.t) })
  t.equal(on.status, 200)
  t.equal(on.body.recoveryCodes.length, 10)
  t.equal(new Set(on.body.recoveryCodes).size, 10)
  const stored = (await s.sql.get<{ recovery_codes: string }>('SELECT recovery_codes FROM two_factor'))!.recovery_codes
  for (const c of on.body.recoveryCodes) t.notOk(stored.includes(c), 'recovery codes stored hashed')
  t.same((await api('GET', '/api/me/2fa')).body, { enabled: true, pending: false, recoveryCodesLeft: 10, required: false })
  t.equal((await api('POST', '/api/me/2fa/setup', {})).body.error.code, 'TOTP_ALREADY_ENABLED')

  const asked = await login()
  t.equal(asked.status, 401)
  t.equal(asked.body.error.code, 'TOTP_REQUIRED')
  t.notOk(asked.body.token)
})

t.test('a code works once; ±1 step of skew is accepted, ±2 refused', async (t) => {
  const { login, codeAt, enable, clock } = await setup(t)
  const { secret } = await enable()
  const now = await codeAt(secret, clock.t)
  const ok = await login({ totp: now })
  t.equal(ok.status, 200, 'a current code signs in')
  t.ok(ok.body.token)
  const again = await login({ totp: now })
  t.equal(again.status, 401, 'the same code again: refused')
  t.equal(again.body.error.code, 'TOTP_INVALID')

  // The phone's clock 30 s ahead: the next step's code is accepted (at a later step than the last).
  clock.t += 2 * STEP
  t.equal((await login({ totp: await codeAt(secret, clock.t + STEP) })).status, 200, '+1 step: accepted')
  clock.t += 3 * STEP
  t.equal((await login({ totp: await codeAt(secret, clock.t - STEP) })).status, 200, '-1 step: accepted')
  clock.t += 3 * STEP
  const ahead = await login({ totp: await codeAt(secret, clock.t + 2 * STEP) })
  t.equal(ahead.status, 401, '+2 steps: refused')
  t.equal(ahead.body.error.code, 'TOTP_INVALID')
  t.equal((await login({ totp: await codeAt(secret, clock.t - 2 * STEP) })).status, 401, '-2 steps: refused')
  // After a later step was used, an older (still in window) code is refused too.
  t.equal((await login({ totp: await codeAt(secret, clock.t + STEP) })).status, 200)
  t.equal((await login({ totp: await codeAt(secret, clock.t) })).status, 401, 'an earlier step than the last used: refused')
  t.equal((await login({ totp: 'abc' })).body.error.code, 'TOTP_INVALID')
  t.equal((await login({ totp: '123456' }, ADMIN.email, 'wrong password')).body.error.code, 'INVALID_CREDENTIALS', 'password first')
})

t.test('a recovery code works once; disable and regenerate need the password or a code', async (t) => {
  const { api, login, enable, codeAt, clock } = await setup(t)
  const { secret, recoveryCodes } = await enable()
  const first = recoveryCodes[0]!
  t.equal((await login({ recoveryCode: first.toUpperCase() })).status, 200, 'works (case and dash do not matter)')
  const twice = await login({ recoveryCode: first })
  t.equal(twice.status, 401)
  t.equal(twice.body.error.code, 'RECOVERY_CODE_INVALID')
  t.equal((await api('GET', '/api/me/2fa')).body.recoveryCodesLeft, 9)

  t.equal((await api('POST', '/api/me/2fa/recovery-codes', {})).body.error.code, 'TWO_FACTOR_PROOF_REQUIRED')
  t.equal((await api('POST', '/api/me/2fa/recovery-codes', { password: 'nope' })).status, 403)
  const fresh = await api('POST', '/api/me/2fa/recovery-codes', { password: ADMIN.password })
  t.equal(fresh.status, 200)
  t.equal(fresh.body.recoveryCodes.length, 10)
  t.equal((await login({ recoveryCode: recoveryCodes[1]! })).status, 401, 'the old codes stopped working')
  t.equal((await login({ recoveryCode: fresh.body.recoveryCodes[0] })).status, 200)

  const off = await api('POST', '/api/me/2fa/disable', { code: await codeAt(secret, clock.t) })
  t.equal(off.status, 200, 'disabled with a current code')
  t.equal((await login()).status, 200, 'the password alone signs in again')
  t.equal((await api('POST', '/api/me/2fa/disable', { password: ADMIN.password })).body.error.code, 'TOTP_NOT_ENABLED')
  const actions = (await api('GET', '/api/audit?limit=200')).body.entries.map((e: { action: string }) => e.action).reverse()
  t.same(
    actions.filter((a: string) => a.startsWith('2fa.')),
    ['2fa.enabled', '2fa.recovery_used', '2fa.recovery_codes_regenerated', '2fa.recovery_used', '2fa.disabled'],
    'each change is in the audit log',
  )
  t.ok(actions.includes('auth.login'))
})

t.test('wrong codes count for the login throttle and are audited; the lock-out too', async (t) => {
  const { s, login, enable } = await setup(t, { LOGIN_RATE_PER_MINUTE: '3' })
  await enable()
  t.equal((await login()).body.error.code, 'TOTP_REQUIRED', 'asking for the code does not count')
  t.equal((await login()).body.error.code, 'TOTP_REQUIRED')
  t.equal((await login()).body.error.code, 'TOTP_REQUIRED')
  for (let i = 0; i < 3; i++) t.equal((await login({ totp: '000000' })).body.error.code, 'TOTP_INVALID')
  const locked = await login({ totp: '000000' })
  t.equal(locked.status, 429)
  const actions = await s.sql.all<{ action: string; actor_label: string; detail: string }>(
    "SELECT action, actor_label, detail FROM audit_log WHERE action LIKE 'auth.%' ORDER BY id",
  )
  const failed = actions.filter((a) => a.action === 'auth.login_failed')
  t.equal(failed.length, 3)
  t.same(JSON.parse(failed[0]!.detail), { reason: 'totp' })
  t.equal(failed[0]!.actor_label, ADMIN.email)
  t.equal(actions.filter((a) => a.action === 'auth.locked_out').length, 1)
})

t.test('required for everyone: a person without 2FA gets a setup-only token, sets up, and is signed in', async (t) => {
  const { s, api, token, login, codeAt, clock } = await setup(t)
  const { auth } = s.app.services
  const ana = await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'ana@example.com',
    name: 'Ana',
    password: 'ana password 1',
    role: 'agent',
  })
  const anaApi = apiCall(s.url, (await s.login({ email: ana.email, password: 'ana password 1' })).token)
  t.equal((await anaApi('PUT', '/api/settings/two-factor', { required: true })).status, 403, 'agents cannot')
  t.same((await api('PUT', '/api/settings/two-factor', { required: true })).body, { required: true })
  t.same((await api('GET', '/api/settings/two-factor')).body, { required: true })

  const res = await login({}, ana.email, 'ana password 1')
  t.equal(res.status, 401)
  t.equal(res.body.error.code, 'TOTP_SETUP_REQUIRED')
  const setupToken = res.body.setupToken as string
  t.ok(setupToken)
  // The setup token is not a session: every other route refuses it.
  t.equal((await api('GET', '/api/me', undefined, setupToken)).status, 401)
  t.equal((await api('GET', '/api/conversations', undefined, setupToken)).status, 401)
  t.equal((await api('POST', '/api/me/2fa/setup', { setupToken: 'garbage' }, null)).body.error.code, 'SETUP_TOKEN_INVALID')
  // A session token is no setup token.
  t.equal((await api('POST', '/api/me/2fa/setup', { setupToken: token }, null)).body.error.code, 'SETUP_TOKEN_INVALID')

  const set = await api('POST', '/api/me/2fa/setup', { setupToken }, null)
  t.equal(set.status, 200)
  const on = await api('POST', '/api/me/2fa/enable', { setupToken, code: await codeAt(set.body.secret, clock.t) }, null)
  t.equal(on.status, 200)
  t.equal(on.body.recoveryCodes.length, 10)
  t.equal(on.body.user.email, ana.email, 'signed in')
  t.equal((await api('GET', '/api/me', undefined, on.body.token)).status, 200, 'with a real session')
  // The setup token cannot start setup again now that 2FA is on.
  t.equal((await api('POST', '/api/me/2fa/setup', { setupToken }, null)).body.error.code, 'TOTP_ALREADY_ENABLED')
  clock.t += STEP
  t.equal((await login({ totp: await codeAt(set.body.secret, clock.t) }, ana.email, 'ana password 1')).status, 200)

  // An admin resets Ana's 2FA (lost phone): her next sign-in asks for setup again.
  t.equal((await anaApi('DELETE', `/api/users/${ana.id}/2fa`)).status, 403)
  t.equal((await api('DELETE', `/api/users/${ana.id}/2fa`)).status, 200)
  t.equal((await login({}, ana.email, 'ana password 1')).body.error.code, 'TOTP_SETUP_REQUIRED')
  t.equal((await login()).body.error.code, 'TOTP_SETUP_REQUIRED', 'admins too')

  // An invited person joins: the account is made, but no session before 2FA is set up.
  const inv = await api('POST', '/api/users/invitations', { email: 'zoe@example.com', role: 'agent', channelIds: [] })
  const inviteToken = new URL(inv.body.invitation.url).hash.replace('#token=', '')
  const joined = await api('POST', '/api/invitations/accept', { token: inviteToken, name: 'Zoe', password: 'zoe password 1' }, null)
  t.equal(joined.status, 401)
  t.equal(joined.body.error.code, 'TOTP_SETUP_REQUIRED')
  t.notOk(joined.body.token)
  const zoeSetup = await api('POST', '/api/me/2fa/setup', { setupToken: joined.body.setupToken }, null)
  const zoeOn = await api(
    'POST',
    '/api/me/2fa/enable',
    { setupToken: joined.body.setupToken, code: await codeAt(zoeSetup.body.secret, clock.t) },
    null,
  )
  t.equal(zoeOn.body.user.email, 'zoe@example.com', 'signed in once set up')
})
