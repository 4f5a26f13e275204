// DATA_DIR holds password hashes, sessions, channel tokens and app secrets (issue 11,
// point 16): under the common umask 022 it was 0755 with parley.db* 0644. Parley started
// from a shell with umask 022 on an old, world-readable data dir leaves every folder 0700
// and every file 0600 — what was there, and what it creates afterwards.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { freePort, spawnParley } from './helpers/browser-server.ts'
import { uploadMedia } from './helpers/media-files.ts'
import { ADMIN } from './helpers/server.ts'

const run = promisify(execFile)
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

/** Every entry under `root` (itself included) whose mode is not 0700 (folder) / 0600 (file), and how many were seen. */
function notPrivate(root: string): { wrong: string[]; files: number; dirs: number } {
  const wrong: string[] = []
  let files = 0
  let dirs = 0
  const visit = (p: string) => {
    const st = lstatSync(p)
    if (st.isSymbolicLink()) return
    const mode = st.mode & 0o777
    if (st.isDirectory()) {
      dirs++
      if (mode !== 0o700) wrong.push(`${path.relative(root, p) || '.'}/ ${mode.toString(8)}`)
      for (const name of readdirSync(p)) visit(path.join(p, name))
    } else {
      files++
      if (mode !== 0o600) wrong.push(`${path.relative(root, p)} ${mode.toString(8)}`)
    }
  }
  visit(root)
  return { wrong, files, dirs }
}

t.test('an old world-readable data dir is made private at start, and new files are private too', async (t) => {
  // The shell a person starts Parley from: the usual umask.
  process.umask(0o022)
  const root = t.testdir({})
  const dataDir = path.join(root, 'data')
  // An install from before: folders 0755 (one even 0777), secrets and media 0644.
  for (const d of ['', 'media', 'sandbox', 'sandbox/media', 'backups/2026-11-01', 'odd'])
    mkdirSync(path.join(dataDir, d), { recursive: true })
  writeFileSync(path.join(dataDir, 'jwt-secret'), 'x'.repeat(64) + '\n')
  writeFileSync(path.join(dataDir, 'media', 'old-photo.jpg'), 'jpeg bytes')
  writeFileSync(path.join(dataDir, 'backups', '2026-11-01', 'parley.db'), 'an old copy')
  writeFileSync(path.join(dataDir, 'sandbox', 'media', 'm1'), 'bytes')
  chmodSync(path.join(dataDir, 'odd'), 0o777)
  // A link to something outside is not Parley's to change.
  const outside = path.join(root, 'outside.txt')
  writeFileSync(outside, 'not ours')
  symlinkSync(outside, path.join(dataDir, 'link-out'))
  t.ok(notPrivate(dataDir).wrong.length >= 8, 'the old install is readable by others')

  const p = await spawnParley(t, { dataDir, port: await freePort() })
  const login = await fetch(`${p.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const { token } = (await login.json()) as { token: string }
  // A file written after start: an agent's upload into DATA_DIR/media.
  const up = await uploadMedia(p.url, token, PNG, 'image/png', 'new.png')
  t.equal(up.status, 201)

  const after = notPrivate(dataDir)
  t.same(after.wrong, [], 'every folder 0700, every file 0600')
  const names = readdirSync(dataDir)
  for (const f of ['parley.db', 'parley.db-wal', 'parley.db-shm', 'jwt-secret']) t.ok(names.includes(f), `${f} exists (and is checked)`)
  t.ok(readdirSync(path.join(dataDir, 'media')).length >= 2, 'the upload is among the checked files')
  t.equal(statSync(outside).mode & 0o777, 0o644, 'a symlink target outside the data dir is left alone')

  // A backup to a folder of the operator's choice, from the same umask-022 shell.
  const dest = path.join(root, 'offsite', 'copy')
  await run(process.execPath, ['--import', 'tsx', 'src/backup.ts', dest], { env: { ...process.env, DATA_DIR: dataDir } })
  t.same(notPrivate(dest).wrong, [], 'the backup is private too')
  t.ok(notPrivate(dest).files >= 2)
})
