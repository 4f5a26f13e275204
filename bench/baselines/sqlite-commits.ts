// Baseline: the disk's limit. Bare better-sqlite3 with Parley's pragmas (WAL,
// synchronous=FULL), inserting event-sized rows into a table shaped like `events`:
// one row per commit (what one-commit-per-webhook can reach) and many rows per commit
// (what sharing a commit buys).
import Database from 'better-sqlite3'
import { rmSync } from 'node:fs'
import { serve } from '../lib/proc.ts'
import { nowMs } from '../lib/hist.ts'

const PAYLOAD = JSON.stringify({
  message: { id: 1, conversationId: 1, direction: 'in', type: 'text', text: 'x'.repeat(60), status: 'received' },
  conversation: { id: 1, unreadCount: 1, lastMessagePreview: 'x'.repeat(60), contact: { id: 1, name: 'Customer' } },
}).padEnd(700, ' ')

serve({
  run: (a: { file: string; seconds: number; rowsPerCommit: number }) => {
    for (const s of ['', '-wal', '-shm']) rmSync(a.file + s, { force: true })
    const db = new Database(a.file)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, workspace_id INTEGER NOT NULL,
      type TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX events_ws_id_idx ON events(workspace_id, id); CREATE INDEX events_created_idx ON events(created_at);`)
    const ins = db.prepare('INSERT INTO events(workspace_id, type, payload, created_at) VALUES (1, ?, ?, ?)')
    const commit = db.transaction((rows: number) => {
      for (let i = 0; i < rows; i++) ins.run('message.created', PAYLOAD, Date.now())
    })
    let commits = 0
    const t0 = nowMs()
    const end = t0 + a.seconds * 1000
    while (nowMs() < end) {
      commit.immediate(a.rowsPerCommit)
      commits++
    }
    const secs = (nowMs() - t0) / 1000
    db.close()
    for (const s of ['', '-wal', '-shm']) rmSync(a.file + s, { force: true })
    return { commitsPerSec: commits / secs, rowsPerSec: (commits * a.rowsPerCommit) / secs }
  },
}).ready()
