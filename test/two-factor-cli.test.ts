// Issue 16: `npm run admin -- disable-2fa <email>`, run as a real process against a running
// Parley's data dir: the only admin lost their phone and their recovery codes; after the
// command the password alone signs in, and the audit log says who turned it off.
import t from 'tap'
import { spawn } from 'node:child_process'
import { generate } from 'otplib'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'

function admin(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/admin.ts', ...args], {
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

t.test('disable-2fa turns it off for a locked-out admin, audited', async (t) => {
  // `npm run admin` is pointed at this DATA_DIR's SQLite file: SQLite under PARLEY_TEST_DATABASE=postgres too.
  const s = await startServer(t, { sqlite: true })
  const api = apiCall(s.url, (await s.login()).token)
  const { secret } = (await api('POST', '/api/me/2fa/setup', {})).body
  t.equal((await api('POST', '/api/me/2fa/enable', { code: await generate({ secret }) })).status, 200)
  const login = () => api('POST', '/api/auth/login', ADMIN, null)
  t.equal((await login()).body.error.code, 'TOTP_REQUIRED')

  const unknown = await admin(s.dataDir, ['disable-2fa', 'nobody@example.com'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /No user with the email nobody@example\.com/)
  const out = await admin(s.dataDir, ['disable-2fa', ' ADMIN@example.com '])
  t.equal(out.code, 0, out.stderr)
  t.match(out.stdout, /Two-factor sign-in is off for admin@example\.com/)
  t.equal((await login()).status, 200, 'the password alone signs in')
  const again = await admin(s.dataDir, ['disable-2fa', ADMIN.email])
  t.match(again.stdout, /not on/)
  const entry = (await api('GET', '/api/audit?limit=200')).body.entries.find((e: { action: string }) => e.action === '2fa.disabled')
  t.same(entry.actor, { userId: null, name: null, label: 'npm run admin' })
})
