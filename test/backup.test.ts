// `npm run backup` while the server runs: a consistent copy with a new epoch, and the media.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): it backs up and restores SQLite's file.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import path from 'node:path'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import Database from 'better-sqlite3'
import { startServer } from './helpers/server.ts'
import { uploadMedia } from './helpers/media-files.ts'
import { textWebhook } from './helpers/wa.ts'
import { connectSse } from './helpers/sse.ts'

const run = promisify(execFile)
// A 1×1 PNG: the media route serves images inline.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64')

t.test('online backup is complete, verified, and detected as another database after restore', async (t) => {
  const s = await startServer(t, { sqlite: true })
  for (let i = 0; i < 20; i++) await s.webhook(textWebhook('15550001111', 'Alice', `m${i}`).payload)
  const out = path.join(s.dataDir, 'my-backup')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/backup.ts', out], {
    env: { ...process.env, DATA_DIR: s.dataDir },
  })
  t.match(stdout, /Backup written to/)
  const copy = new Database(path.join(out, 'parley.db'), { readonly: true })
  t.equal((copy.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 20)
  const epoch = (copy.prepare(`SELECT value FROM meta WHERE key='epoch'`).get() as { value: string }).value
  copy.close()
  t.not(epoch, s.app.services.events.epoch, 'the copy has its own epoch')

  // A cursor from the copy's id space is refused by the live server (and vice versa).
  const { token } = await s.login()
  const sse = await connectSse(`${s.url}/stream`, { token, lastEventId: `${epoch}:5` })
  t.teardown(() => sse.close())
  await sse.waitFor((ev) => ev.length >= 1)
  t.equal(sse.events[0]!.event, 'reset')
  t.equal(JSON.parse(sse.events[0]!.data).reason, 'other_epoch')
})

t.test('media are backed up incrementally, and a restore from the backup serves the image again', async (t) => {
  const s = await startServer(t, { sqlite: true })
  const { token } = await s.login()
  const first = await uploadMedia(s.url, token, PNG, 'image/png', 'first.png')
  t.equal(first.status, 201)
  const backup = async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/backup.ts'], { env: { ...process.env, DATA_DIR: s.dataDir } })
    const dir = /Backup written to (.+)/.exec(stdout)?.[1]
    if (!dir) throw new Error(`no backup folder in:\n${stdout}`)
    return { dir, stdout }
  }
  const b1 = await backup()
  t.match(b1.stdout, /Media: 1 copied, 0 linked/)

  // Another image arrives; the second backup copies only it and links the first.
  const second = await uploadMedia(s.url, token, Buffer.concat([PNG, Buffer.from('second')]), 'image/png', 'second.png')
  t.equal(second.status, 201)
  const b2 = await backup()
  t.not(b2.dir, b1.dir)
  t.match(b2.stdout, /Media: 1 copied, 1 linked from /)
  const files = readdirSync(path.join(s.dataDir, 'media'))
  t.equal(files.length, 2)
  const firstFile = files.find((f) => existsSync(path.join(b1.dir, 'media', f)))!
  const secondFile = files.find((f) => f !== firstFile)!
  t.equal(
    statSync(path.join(b2.dir, 'media', firstFile)).ino,
    statSync(path.join(b1.dir, 'media', firstFile)).ino,
    'the unchanged file is the previous backup’s, hard-linked, not a second copy',
  )
  t.not(
    statSync(path.join(b2.dir, 'media', secondFile)).ino,
    statSync(path.join(s.dataDir, 'media', secondFile)).ino,
    'a new file is a copy, not a link to the live one',
  )

  // Restore as the README says: the database, the secrets and media/ into a new DATA_DIR
  // (a second Parley beside the first, which would own the folder on the same machine).
  const restored = t.testdir({})
  for (const f of readdirSync(b2.dir)) cpSync(path.join(b2.dir, f), path.join(restored, f), { recursive: true })
  const r = await startServer(t, { sqlite: true, dataDir: restored })
  const rToken = (await r.login()).token
  for (const [id, bytes] of [
    [first.body.media.id, PNG],
    [second.body.media.id, Buffer.concat([PNG, Buffer.from('second')])],
  ] as const) {
    const res = await fetch(`${r.url}/api/media/${id}`, { headers: { authorization: `Bearer ${rToken}` } })
    t.equal(res.status, 200, `media ${id} is served after the restore`)
    t.same(Buffer.from(await res.arrayBuffer()), bytes)
  }
})

t.test('MEDIA_DIR apart from DATA_DIR: the backup takes the media from it, the restore puts them back into it', async (t) => {
  const mediaDir = path.join(t.testdir({}), 'media-volume')
  const s = await startServer(t, { sqlite: true, env: { MEDIA_DIR: mediaDir } })
  const { token } = await s.login()
  t.equal((await uploadMedia(s.url, token, PNG, 'image/png', 'apart.png')).status, 201)
  t.equal(readdirSync(mediaDir).length, 1, 'the upload is in MEDIA_DIR')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/backup.ts'], {
    env: { ...process.env, DATA_DIR: s.dataDir, MEDIA_DIR: mediaDir },
  })
  t.match(stdout, /Media: 1 copied, 0 linked/)
  const dir = /Backup written to (.+)/.exec(stdout)![1]!
  t.same(readdirSync(path.join(dir, 'media')), readdirSync(mediaDir), 'the backup holds the file')

  // Not t.testdir again: a second call in one test empties the first.
  const restoredRoot = mkdtempSync(path.join(tmpdir(), 'parley-restored-'))
  t.teardown(() => rmSync(restoredRoot, { recursive: true, force: true }))
  const restoredData = path.join(restoredRoot, 'data')
  const restoredMedia = path.join(restoredRoot, 'media-volume')
  const r = await run(process.execPath, ['--import', 'tsx', 'src/restore.ts', dir], {
    env: { ...process.env, DATA_DIR: restoredData, MEDIA_DIR: restoredMedia },
  })
  t.match(r.stdout, /media files: 1/)
  t.same(readdirSync(restoredMedia), readdirSync(mediaDir), 'restored into the new MEDIA_DIR')
  t.notOk(existsSync(path.join(restoredData, 'media')), 'not into DATA_DIR/media')
})
