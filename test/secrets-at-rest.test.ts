// Issue 16, secrets at rest: channel tokens, app secrets and verify tokens are sealed in
// the database (their clear text is in no database file nor in a backup), a database with
// clear values is sealed at start, and a wrong key stops the start with a clear message.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): it scans SQLite's files for secrets in clear (secrets-dialects covers PostgreSQL's rows).
import t from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { apiCall, startServer } from './helpers/server.ts'
import { envelope, text, value } from './helpers/wa.ts'
import { metaEscape, signPayload } from '../src/channels/meta-signature.ts'
import { loadConfig } from '../src/config.ts'
import { openDatabase } from '../src/store/db.ts'
import { buildApp } from '../src/app.ts'
import { SecretKeyMismatchError } from '../src/domain/secrets/at-rest.ts'

const run = promisify(execFile)
const secret = (what: string) => `${what}-${randomBytes(12).toString('hex')}`

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

/** The files (of `files`) whose raw bytes contain any of `secrets`, as "file: secret". */
function leaks(files: string[], secrets: string[]): string[] {
  const found: string[] = []
  for (const f of files) {
    if (!existsSync(f)) continue
    const bytes = readFileSync(f)
    for (const s of secrets) if (bytes.includes(Buffer.from(s, 'utf8'))) found.push(`${path.basename(f)}: ${s.split('-')[0]}`)
  }
  return found
}

const dbFiles = (dataDir: string) => ['parley.db', 'parley.db-wal', 'parley.db-shm'].map((f) => path.join(dataDir, f))

t.test('secrets saved through the API are sealed at rest, work, and are in no database file nor backup', async (t) => {
  const dataDir = t.testdir({})
  const s = await startServer(t, { sqlite: true, dataDir })
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const wa = { accessToken: secret('watoken'), appSecret: secret('waappsecret'), verifyToken: secret('waverify') }
  const ms = { accessToken: secret('pagetoken'), appSecret: secret('pageappsecret'), verifyToken: secret('pageverify') }
  const all = [...Object.values(wa), ...Object.values(ms)]
  const a = await call('POST', '/api/channels', { kind: 'whatsapp', externalId: '200000000000042', name: 'Second number', ...wa })
  t.equal(a.status, 201)
  const m = await call('POST', '/api/channels', { kind: 'messenger', externalId: '100000000000077', name: 'A page', ...ms })
  t.equal(m.status, 201)
  // A token changed later is sealed too.
  const newToken = secret('watoken2')
  all.push(newToken)
  t.equal((await call('PATCH', `/api/channels/${a.body.channel.id}`, { accessToken: newToken })).status, 200)

  // Raw: every secret column holds a sealed value.
  const raw = s.db.$client
    .prepare('SELECT access_token AS a, app_secret AS b, verify_token AS c FROM channels WHERE id IN (?, ?)')
    .raw()
    .all(a.body.channel.id, m.body.channel.id) as string[][]
  for (const v of raw.flat()) t.match(v, /^enc:v1:/, 'stored sealed')
  // Every secret column of every channel, the sandbox number's token included.
  const every = s.db.$client.prepare('SELECT access_token, app_secret, verify_token FROM channels').raw().all() as (string | null)[][]
  t.ok(every.length >= 3)
  for (const v of every.flat()) if (v !== null) t.match(v, /^enc:v1:/, 'every stored secret is sealed')
  // Callers get plain values.
  const row = await s.app.services.units.read(() => s.app.services.channels.getUnit(a.body.channel.workspaceId ?? 1, a.body.channel.id))
  t.equal(row?.accessToken, newToken)
  t.equal(row?.appSecret, wa.appSecret)

  // Traffic: a webhook signed with the channel's own app secret is verified (the sealed
  // secret is opened), and Meta's subscription check answers with its verify token.
  const body = metaEscape(JSON.stringify(envelope(value({ phoneNumberId: '200000000000042', messages: [text('15550009999', 'hello')] }))))
  const hook = await fetch(`${s.url}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(wa.appSecret, body) },
    body,
  })
  t.equal(hook.status, 200, 'signed with the channel app secret: accepted')
  const challenge = await fetch(`${s.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${wa.verifyToken}&hub.challenge=42`)
  t.equal(await challenge.text(), '42', 'the channel verify token answers the challenge')
  const convs = await call('GET', '/api/conversations')
  t.ok(
    convs.body.conversations.some((c: { channelId: number }) => c.channelId === a.body.channel.id),
    'the message was stored',
  )

  // While running (WAL and shared memory files present) and in a backup: no clear text.
  t.same(leaks(dbFiles(dataDir), all), [], 'no secret in parley.db, -wal or -shm while running')
  const backupDir = path.join(dataDir, 'a-backup')
  await run(process.execPath, ['--import', 'tsx', 'src/backup.ts', backupDir], { env: { ...process.env, DATA_DIR: dataDir } })
  t.ok(existsSync(path.join(backupDir, 'secret-key')), 'the backup carries the key')
  t.same(leaks(filesUnder(backupDir), all), [], 'no secret in any file of the backup')
  await s.close()
  t.same(leaks(dbFiles(dataDir), all), [], 'no secret in the database files after a clean stop')
})

t.test('a database with clear secrets is sealed at start (once), and the clear bytes are gone', async (t) => {
  const dataDir = t.testdir({})
  const first = await startServer(t, { sqlite: true, dataDir })
  const { token } = await first.login()
  const created = await apiCall(first.url, token)('POST', '/api/channels', { kind: 'whatsapp', externalId: '200000000000043', name: 'Old' })
  t.equal(created.status, 201)
  await first.close()

  // As an install from before encryption at rest left it: clear values, no key check.
  const old = { accessToken: secret('oldtoken'), appSecret: secret('oldappsecret'), verifyToken: secret('oldverify') }
  const raw = new Database(path.join(dataDir, 'parley.db'))
  raw
    .prepare('UPDATE channels SET access_token = ?, app_secret = ?, verify_token = ? WHERE id = ?')
    .run(old.accessToken, old.appSecret, old.verifyToken, created.body.channel.id)
  raw.prepare(`DELETE FROM meta WHERE key = 'secret_key_check'`).run()
  raw.close()
  t.not(leaks(dbFiles(dataDir), Object.values(old)), [], 'the old database holds them in clear')

  const s = await startServer(t, { sqlite: true, dataDir })
  const row = s.db.$client
    .prepare('SELECT access_token AS a, app_secret AS b, verify_token AS c FROM channels WHERE id = ?')
    .get(created.body.channel.id) as Record<string, string>
  for (const v of Object.values(row)) t.match(v, /^enc:v1:/, 'sealed at start')
  const opened = await s.app.services.units.read(() => s.app.services.channels.getUnit(1, created.body.channel.id))
  t.equal(opened?.accessToken, old.accessToken, 'and opened for callers')
  t.same(leaks(dbFiles(dataDir), Object.values(old)), [], 'the clear bytes are overwritten, not left in free pages or the WAL')
  const sealedOnce = row.a
  await s.close()

  // Idempotent: the next start finds nothing to seal (the sealed value is not sealed again).
  const again = await startServer(t, { sqlite: true, dataDir })
  const after = again.db.$client.prepare('SELECT access_token AS a FROM channels WHERE id = ?').pluck().get(created.body.channel.id)
  t.equal(after, sealedOnce)
  await again.close() // before t.testdir removes the folder
})

t.test('a wrong PARLEY_SECRET_KEY stops the start with a clear message', async (t) => {
  const dataDir = t.testdir({})
  const keyA = randomBytes(32).toString('hex')
  const s = await startServer(t, { sqlite: true, dataDir, env: { PARLEY_SECRET_KEY: keyA } })
  const { token } = await s.login()
  const c = await apiCall(s.url, token)('POST', '/api/channels', {
    kind: 'messenger',
    externalId: '100000000000078',
    name: 'P',
    accessToken: secret('tok'),
  })
  t.equal(c.status, 201)
  await s.close()
  t.notOk(existsSync(path.join(dataDir, 'secret-key')), 'with PARLEY_SECRET_KEY no key file is written')

  const keyB = randomBytes(32).toString('hex')
  // In process: buildApp refuses with the named error before serving anything.
  const config = loadConfig({ DATA_DIR: dataDir, PARLEY_SECRET_KEY: keyB, LOG_LEVEL: 'silent' })
  const db = openDatabase(config.databaseFile, { busyTimeoutMs: 1000 })
  await t.rejects(buildApp({ config, db, logger: false }), SecretKeyMismatchError)
  db.$client.close()

  // As the operator sees it: `npm start` prints one line and exits 1.
  const res = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATA_DIR: dataDir, PARLEY_SECRET_KEY: keyB, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  )
  t.equal(res.code, 1)
  t.match(res.stderr, /secret key does not open the secrets in this database/)
  t.notMatch(res.stderr, /at .*\.ts:\d+/, 'no stack trace')
  t.notOk(existsSync(path.join(dataDir, 'parley.lock')), 'the lock is released on that exit')

  // The right key still opens everything.
  const ok = await startServer(t, { sqlite: true, dataDir, env: { PARLEY_SECRET_KEY: keyA } })
  t.equal((await ok.login()).token.length > 0, true)
  t.ok(statSync(path.join(dataDir, 'parley.db')).size > 0)
  await ok.close() // before t.testdir removes the folder
})
