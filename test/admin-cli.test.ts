// `npm run admin`: the command run as a real process against a running Parley's data dir
// (issue 11, point 2). The reset link is consumed over HTTP once; an expired, used or
// tampered link is refused with its named code; sessions and their streams end.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): the admin command is pointed at DATA_DIR's SQLite file here.
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { ADMIN, apiCall, startServer, type TestServer } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { PasswordResets } from '../src/domain/accounts/password-reset.ts'

const run = promisify(execFile)

function admin(s: TestServer, args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/admin.ts', ...args], {
      env: { ...process.env, DATA_DIR: s.dataDir, PUBLIC_URL: `${s.url}/` },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    child.stdin.end(stdin ?? '')
  })
}

const post = (s: TestServer, path: string, body: unknown) => apiCall(s.url, '')('POST', path, body, null)

function linkToken(stdout: string, base: string): string {
  const m = /(\S+)\/reset-password#token=([A-Za-z0-9_-]+)/.exec(stdout)
  if (!m) throw new Error(`no link in:\n${stdout}`)
  if (m[1] !== base) throw new Error(`link on ${m[1]}, expected ${base}`)
  return m[2]!
}

t.test('list-users prints every account (npm run admin)', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const api = apiCall(s.url, (await s.login()).token)
  t.equal((await api('GET', '/api/me')).status, 200)
  await s.app.services.auth.createUser({
    workspaceId: 1,
    email: 'Agent@Example.com',
    name: 'Ann Agent',
    password: 'agent-password',
    role: 'agent',
  })
  const { stdout } = await run('npm', ['run', '--silent', 'admin', '--', 'list-users'], { env: { ...process.env, DATA_DIR: s.dataDir } })
  const lines = stdout.trim().split('\n')
  t.match(lines[0], /^ID\s+EMAIL\s+NAME\s+ROLE\s+STATE\s+CREATED$/)
  t.match(lines[1], new RegExp(`^1\\s+${ADMIN.email}\\s+Admin\\s+admin\\s+active\\s+\\d{4}-`))
  t.match(lines[2], /^2\s+agent@example\.com\s+Ann Agent\s+agent\s+active\s/)
  t.equal(lines.length, 3)
})

t.test('a reset link works once, ends sessions and their streams, and signs in with the new password', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const { token: oldToken } = await s.login()
  const sse = await connectSse(`${s.url}/stream`, { token: oldToken })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)

  const out = await admin(s, ['reset-password', ' ADMIN@example.com '])
  t.equal(out.code, 0, out.stderr)
  const token = linkToken(out.stdout, s.url)
  t.match(out.stdout, /1 session\(s\) ended/)
  t.notMatch(out.stdout, /PUBLIC_URL/, 'no hint when PUBLIC_URL is set')

  // The session is over at once for requests, and the running server closes its stream.
  t.equal((await apiCall(s.url, oldToken)('GET', '/api/me')).status, 401)
  await sse.closed
  t.ok(sse.isClosed(), 'the open stream was closed')

  // Only a hash is stored.
  const stored = s.db.$client.prepare('SELECT token_hash FROM password_resets').pluck().all() as string[]
  t.equal(stored.length, 1)
  t.not(stored[0], token)
  t.notOk(stored.some((h) => h.includes(token)))

  t.same((await post(s, '/api/password-reset/check', { token })).body.email, ADMIN.email)
  const short = await post(s, '/api/password-reset', { token, password: 'short' })
  t.equal(short.status, 400, 'the signup rule: at least 8 characters')
  const tampered = await post(s, '/api/password-reset', {
    token: token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'),
    password: 'a new password 1',
  })
  t.equal(tampered.status, 400)
  t.equal(tampered.body.error.code, 'RESET_LINK_INVALID')

  const ok = await post(s, '/api/password-reset', { token, password: 'a new password 1' })
  t.equal(ok.status, 200)
  t.equal(ok.body.user.email, ADMIN.email)
  const again = await post(s, '/api/password-reset', { token, password: 'a second password' })
  t.equal(again.status, 410)
  t.equal(again.body.error.code, 'RESET_LINK_USED')
  t.equal((await post(s, '/api/password-reset/check', { token })).body.error.code, 'RESET_LINK_USED')

  await t.rejects(s.login(), 'the old password no longer works')
  const fresh = await s.login({ email: ADMIN.email, password: 'a new password 1' })
  t.equal((await apiCall(s.url, fresh.token)('GET', '/api/me')).status, 200)
})

t.test('an expired link is refused with its own code; a newer link replaces an older one', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const user = s.app.services.auth.checkCredentials(ADMIN.email, ADMIN.password)
  const id = (await user)!.id
  // Issued two hours ago by the clock the domain is given.
  const { units } = s.app.services
  const past = new PasswordResets({ units }, s.app.services.auth, () => Date.now() - 2 * 3600_000)
  const expired = await units.transact(() => past.issueUnit(id))
  const r = await post(s, '/api/password-reset', { token: expired.token, password: 'a new password 1' })
  t.equal(r.status, 410)
  t.equal(r.body.error.code, 'RESET_LINK_EXPIRED')

  const first = (await admin(s, ['reset-password', ADMIN.email])).stdout
  const second = (await admin(s, ['reset-password', ADMIN.email])).stdout
  const older = linkToken(first, s.url)
  const newer = linkToken(second, s.url)
  t.equal((await post(s, '/api/password-reset', { token: older, password: 'a new password 1' })).body.error.code, 'RESET_LINK_USED')
  t.equal((await post(s, '/api/password-reset', { token: newer, password: 'a new password 1' })).status, 200)
  await s.login({ email: ADMIN.email, password: 'a new password 1' })
})

t.test('--password-stdin sets the password and ends sessions; bad input changes nothing', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const { token: oldToken } = await s.login()

  const short = await admin(s, ['reset-password', ADMIN.email, '--password-stdin'], 'short\n')
  t.equal(short.code, 1)
  t.match(short.stderr, /at least 8 characters/)
  t.equal((await apiCall(s.url, oldToken)('GET', '/api/me')).status, 200, 'a refused password ends nothing')

  const unknown = await admin(s, ['reset-password', 'nobody@example.com', '--password-stdin'], 'whatever-password\n')
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /No user with the email nobody@example\.com/)

  const set = await admin(s, ['reset-password', ADMIN.email, '--password-stdin'], 'typed on stdin 1\n')
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, /Password set for admin@example\.com\. 1 session\(s\) ended/)
  t.notMatch(set.stdout, /reset-password#token/, 'no link is printed')
  t.equal((await apiCall(s.url, oldToken)('GET', '/api/me')).status, 401, 'the old bearer token is refused')
  await t.rejects(s.login(), 'the old password no longer works')
  await s.login({ email: ADMIN.email, password: 'typed on stdin 1' })
})

t.test('no database in DATA_DIR: the command says where it looked and creates none', async (t) => {
  const dir = t.testdir({})
  const r = await run(process.execPath, ['--import', 'tsx', 'src/admin.ts', 'list-users'], {
    env: { ...process.env, DATA_DIR: dir },
  }).catch((e: { code: number; stderr: string }) => e)
  t.equal((r as { code: number }).code, 2)
  t.match((r as { stderr: string }).stderr, /No Parley database at .*parley\.db/)
  t.notOk(existsSync(path.join(dir, 'parley.db')), 'a wrong DATA_DIR gets no empty database')
})
