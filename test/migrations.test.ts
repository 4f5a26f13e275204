import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openDatabase, readMeta } from '../src/store/db.ts'

t.test('a fresh database is migrated with the pragmas an inbox needs', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-mig-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'p.db')
  const db = openDatabase(file, { busyTimeoutMs: 1234 })
  const tables = (db.$client.prepare(`SELECT name FROM sqlite_master WHERE type='table'`).all() as { name: string }[]).map((r) => r.name)
  for (const name of [
    'workspaces',
    'users',
    'sessions',
    'channels',
    'contacts',
    'conversations',
    'messages',
    'events',
    'raw_webhooks',
    'pending_statuses',
    'meta',
  ]) {
    t.ok(tables.includes(name), `table ${name}`)
  }
  t.equal(db.$client.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.$client.pragma('synchronous', { simple: true }), 2, 'synchronous=FULL')
  t.equal(db.$client.pragma('foreign_keys', { simple: true }), 1)
  t.equal(db.$client.pragma('busy_timeout', { simple: true }), 1234)
  const epoch = readMeta(db, 'epoch')
  t.match(epoch, /^[A-Za-z0-9_-]{8}$/, 'an epoch is created with the database')
  db.$client.close()

  // Re-opening applies nothing twice and keeps the epoch.
  const again = openDatabase(file, { busyTimeoutMs: 1000 })
  t.equal(readMeta(again, 'epoch'), epoch)
  again.$client.close()
})
