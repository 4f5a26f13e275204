// Issue 16: scheduled online backups. BACKUP_INTERVAL_HOURS makes them in the running
// server (DATA_DIR/backups/<time>/), each records meta `last_backup_at`, and only the
// newest BACKUP_KEEP of the schedule's own folders are kept.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): scheduled backups are SQLite's file copies.
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { loadConfig } from '../src/config.ts'
import { BACKUP_MARKER } from '../src/domain/backup/backup.ts'

/** Waits (polling, no fixed sleep) until `cond` holds, up to `ms`. */
async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const scheduled = (dataDir: string) => {
  const dir = path.join(dataDir, 'backups')
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((d) => existsSync(path.join(dir, d, BACKUP_MARKER)))
        .sort()
    : []
}

t.test('the schedule backs up on its interval, records last_backup_at and keeps BACKUP_KEEP', async (t) => {
  const dataDir = t.testdir({})
  // A folder someone put there, and a backup made by hand: never pruned by the schedule.
  mkdirSync(path.join(dataDir, 'backups', 'keep-me'), { recursive: true })
  writeFileSync(path.join(dataDir, 'backups', 'keep-me', 'notes.txt'), 'mine')
  // 0.0004 h = 1.44 s between backups.
  const s = await startServer(t, { sqlite: true, dataDir, env: { BACKUP_INTERVAL_HOURS: '0.0004', BACKUP_KEEP: '2' } })
  const backups = s.app.services.backups
  t.ok(backups, 'on when BACKUP_INTERVAL_HOURS > 0')
  t.ok(backups!.dueAt() > Date.now(), 'a fresh install is not backed up at once: one interval after start')
  const manual = await backups!.runNow()
  t.ok(manual, 'a backup can be made now')
  const readLast = () => Number((s.db.$client.prepare(`SELECT value FROM meta WHERE key = 'last_backup_at'`).pluck().get() as string) ?? 0)
  t.ok(readLast() > 0, 'last_backup_at is recorded')

  await s.webhook(textWebhook('15550001111', 'Alice', 'hello').payload)
  const firstLast = readLast()
  await until(() => readLast() > firstLast, 'a scheduled backup')
  const second = readLast()
  await until(() => readLast() > second, 'another scheduled backup')
  await until(() => scheduled(dataDir).length === 2, 'the oldest pruned to BACKUP_KEEP')
  t.equal(scheduled(dataDir).length, 2, 'only the newest two of the schedule are kept')
  t.ok(existsSync(path.join(dataDir, 'backups', 'keep-me', 'notes.txt')), 'a folder the schedule did not make is left alone')

  // Each is a complete, consistent backup with its own epoch.
  const newest = path.join(dataDir, 'backups', scheduled(dataDir).at(-1)!)
  const copy = new Database(path.join(newest, 'parley.db'), { readonly: true })
  t.equal((copy.prepare('SELECT count(*) FROM messages').pluck().get() as number) >= 1, true)
  t.not(copy.prepare(`SELECT value FROM meta WHERE key = 'epoch'`).pluck().get(), s.app.services.events.epoch)
  copy.close()
  t.ok(existsSync(path.join(newest, 'secret-key')), 'with the secret key')
  await s.close()
})

t.test('a restart after a backup waits for the rest of the interval; 0 turns the schedule off', async (t) => {
  const dataDir = t.testdir({})
  const s = await startServer(t, { sqlite: true, dataDir, env: { BACKUP_INTERVAL_HOURS: '1' } })
  const at = Date.now()
  await s.app.services.backups!.runNow()
  await s.close()
  const again = await startServer(t, { sqlite: true, dataDir, env: { BACKUP_INTERVAL_HOURS: '1' } })
  const due = again.app.services.backups!.dueAt()
  t.ok(due >= at + 3600_000 - 1000 && due <= Date.now() + 3600_000, 'due an hour after the last backup')
  await again.close()
  const off = await startServer(t, { sqlite: true, dataDir, env: { BACKUP_INTERVAL_HOURS: '0' } })
  t.equal(off.app.services.backups, undefined)
  await off.close()
  t.equal(loadConfig({ DATA_DIR: dataDir }).backup.intervalHours, 24, 'daily by default')
  t.equal(loadConfig({ DATA_DIR: dataDir }).backup.keep, 7)
  t.throws(() => loadConfig({ DATA_DIR: dataDir, BACKUP_INTERVAL_HOURS: '-1' }), /BACKUP_INTERVAL_HOURS/)
  t.throws(() => loadConfig({ DATA_DIR: dataDir, BACKUP_KEEP: '0' }), /BACKUP_KEEP/)
})
