// Issue 16: `npm run restore -- <dir>` puts a backup into DATA_DIR (database, secret files
// with the key, media) after checking it, refuses while a Parley holds DATA_DIR, and a
// server started on it has the data, opens the channels' sealed secrets, and resets the
// cursors of browsers that followed the old server. One Parley per DATA_DIR (parley.lock).
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): it restores SQLite's file backups.
import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { apiCall, startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { connectSse } from './helpers/sse.ts'
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE } from '../src/domain/backup/data-dir-lock.ts'

const exec = promisify(execFile)

/** Runs a Parley command (src/<script>.ts) with DATA_DIR; its exit code and output, never throwing. */
async function cli(script: string, args: string[], env: Record<string, string>) {
  return exec(process.execPath, ['--import', 'tsx', `src/${script}.ts`, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  )
}

t.test('backup → restore into a fresh DATA_DIR → start: the data and secrets are there, old cursors reset', async (t) => {
  // One t.testdir per test (a second call would empty the first).
  const root = t.testdir({ old: {}, new: {} })
  const oldDir = path.join(root, 'old')
  const s = await startServer(t, { sqlite: true, dataDir: oldDir })
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const pageToken = `page-${randomBytes(12).toString('hex')}`
  const ch = await call('POST', '/api/channels', {
    kind: 'messenger',
    externalId: '100000000000079',
    name: 'Shop page',
    accessToken: pageToken,
  })
  t.equal(ch.status, 201)
  for (let i = 0; i < 5; i++) t.equal((await s.webhook(textWebhook('15550002222', 'Bob', `m${i}`).payload)).status, 200)

  // A browser following the old server holds a cursor of its event log.
  const live = await connectSse(`${s.url}/stream`, { token })
  const ping = await s.webhook(textWebhook('15550002222', 'Bob', 'one more').payload)
  t.equal(ping.status, 200)
  await live.waitFor((evs) => evs.some((e) => e.id !== undefined))
  const cursor = live.events.filter((e) => e.id !== undefined).at(-1)!.id!
  live.close()

  const backup = path.join(oldDir, 'backups', 'by-hand')
  t.equal((await cli('backup', [backup], { DATA_DIR: oldDir })).code, 0)
  await s.close()

  const newDir = path.join(root, 'new')
  const r = await cli('restore', [backup], { DATA_DIR: newDir })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /Restored .* into /)
  t.equal(
    readFileSync(path.join(newDir, 'secret-key'), 'utf8'),
    readFileSync(path.join(oldDir, 'secret-key'), 'utf8'),
    'the key came along',
  )
  t.notOk(existsSync(path.join(newDir, LOCK_FILE)), 'the restore released its lock')

  const n = await startServer(t, { sqlite: true, dataDir: newDir })
  const nToken = (await n.login()).token
  const convs = await apiCall(n.url, nToken)('GET', '/api/conversations')
  t.equal(convs.status, 200)
  t.equal(convs.body.conversations.length, 1, 'the conversation is there')
  t.equal(
    (await n.app.services.units.read(() => n.app.services.channels.getUnit(1, ch.body.channel.id)))?.accessToken,
    pageToken,
    "the channel's sealed token opens with the restored key",
  )
  const audit = n.db.$client.prepare(`SELECT action, actor_label AS label FROM audit_log WHERE action = 'backup.restored'`).all()
  t.same(audit, [{ action: 'backup.restored', label: 'npm run restore' }], 'recorded in the restored audit log')

  // The old server's cursor names another database: the stream says reset, not a wrong replay.
  const sse = await connectSse(`${n.url}/stream`, { token: nToken, lastEventId: cursor })
  await sse.waitFor((evs) => evs.length >= 1)
  t.equal(sse.events[0]!.event, 'reset')
  t.equal(JSON.parse(sse.events[0]!.data).reason, 'other_epoch')
  sse.close()
  // Restored twice from the same backup: each restore has its own epoch too.
  t.not(
    n.app.services.events.epoch,
    new Database(path.join(backup, 'parley.db'), { readonly: true }).prepare(`SELECT value FROM meta WHERE key='epoch'`).pluck().get(),
  )
  await n.close() // before t.testdir removes the folder
})

t.test('restore refuses while Parley holds DATA_DIR, and a bad backup or key changes nothing', async (t) => {
  const root = t.testdir({ live: {}, fresh: {} })
  const dir = path.join(root, 'live')
  const s = await startServer(t, { sqlite: true, dataDir: dir })
  const backup = path.join(dir, 'b')
  t.equal((await cli('backup', [backup], { DATA_DIR: dir })).code, 0)

  // A server holds the lock (this process stands for it).
  const lock = acquireDataDirLock(dir)
  const refused = await cli('restore', [backup], { DATA_DIR: dir })
  t.equal(refused.code, 1)
  t.match(refused.stderr, new RegExp(`Parley is already running on .* \\(pid ${process.pid}`))
  // ...and a second server on the same DATA_DIR refuses to start, with the same words.
  const second = await cli('main', [], { DATA_DIR: dir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' })
  t.equal(second.code, 1)
  t.match(second.stderr, /Parley is already running on/)
  t.throws(() => acquireDataDirLock(dir, process.pid + 1), DataDirLockedError)
  lock.release()
  t.notOk(existsSync(path.join(dir, LOCK_FILE)))
  await s.close()

  // A lock left by a process that is gone is stale: taken over.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
  writeFileSync(path.join(dir, LOCK_FILE), `${dead}\n`)
  const taken = acquireDataDirLock(dir)
  t.equal(readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid))
  taken.release()

  // Not a backup, a damaged database, a key that does not open it: refused, nothing changed.
  const fresh = path.join(root, 'fresh')
  t.match((await cli('restore', [fresh], { DATA_DIR: fresh })).stderr, /not a Parley backup/)
  const broken = path.join(fresh, 'broken')
  await cli('backup', [broken], { DATA_DIR: dir })
  writeFileSync(path.join(broken, 'parley.db'), 'not a database at all, just text that is long enough'.repeat(100))
  const bad = await cli('restore', [broken], { DATA_DIR: path.join(fresh, 'target') })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /integrity check/)
  t.notOk(existsSync(path.join(fresh, 'target', 'parley.db')), 'no database was put in place')
  const wrongKey = await cli('restore', [backup], {
    DATA_DIR: path.join(fresh, 'target'),
    PARLEY_SECRET_KEY: randomBytes(32).toString('hex'),
  })
  t.equal(wrongKey.code, 1)
  t.match(wrongKey.stderr, /PARLEY_SECRET_KEY is not the key it was made with. Nothing was changed/)
  t.notOk(existsSync(path.join(fresh, 'target', 'parley.db')), 'still none')
})
