// Child entry: builds (once, cached under bench/.work/, keyed by the migrations) the long
// history of lib/history-build.ts, and runs the bare-SQLite baseline of a search: the FTS5
// index alone answering the same words, newest 20 hits, without Parley's grouping by
// conversation, access filter, snippets or HTTP.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { MIGRATIONS_DIR } from '../../src/store/db.ts'
import { matchExpression, parseQuery } from '../../src/domain/search/query.ts'
import { serve } from './proc.ts'
import { buildHistory, type HistorySample } from './history-build.ts'
import { Hist, nowMs } from './hist.ts'

// Bump when the generated data changes shape.
const SEED_VERSION = 1

function migrationsHash(): string {
  const h = createHash('sha256')
  for (const f of readdirSync(MIGRATIONS_DIR, { recursive: true }).map(String).sort()) {
    const p = path.join(MIGRATIONS_DIR, f)
    if (statSync(p).isFile()) h.update(f).update(readFileSync(p))
  }
  return h.digest('hex').slice(0, 12)
}

let raw: Database.Database | undefined

serve({
  ensure: async (a: { workDir: string; conversations: number; messages: number }) => {
    const dir = path.join(a.workDir, `history-${a.conversations}x${a.messages}-v${SEED_VERSION}-${migrationsHash()}`)
    const t0 = nowMs()
    let built = false
    if (!existsSync(path.join(dir, 'complete'))) {
      const sample = await buildHistory(dir, a.conversations, a.messages)
      writeFileSync(path.join(dir, 'sample.json'), JSON.stringify(sample))
      writeFileSync(path.join(dir, 'complete'), '')
      built = true
    }
    const file = path.join(dir, 'parley.db')
    const sample = JSON.parse(readFileSync(path.join(dir, 'sample.json'), 'utf8')) as HistorySample
    // The search index's share of the file: its FTS5 tables (data, index, docsize, config).
    const db = new Database(file, { readonly: true })
    const index = db
      .prepare(`SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%' OR name LIKE 'contact_search%'`)
      .pluck()
      .get() as number
    const reports = db.prepare(`SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'report_%'`).pluck().get() as number
    db.close()
    return { dir, file, sample, built, ms: nowMs() - t0, bytes: statSync(file).size, indexBytes: index, reportBytes: reports }
  },

  /** The FTS5 index alone: the newest 20 messages matching the words of each query. */
  rawSearch: (a: { file: string; queries: string[]; seconds: number }) => {
    raw ??= new Database(a.file, { readonly: true })
    const stmt = raw.prepare('SELECT rowid FROM message_search WHERE message_search MATCH ? ORDER BY rowid DESC LIMIT 20').pluck()
    const matches = a.queries.map((q) => {
      const p = parseQuery(q)
      if (!p.ok) throw new Error(p.message)
      return matchExpression(p.query.terms)
    })
    const hist = new Hist()
    const end = nowMs() + a.seconds * 1000
    let i = 0
    while (nowMs() < end) {
      const m = matches[i++ % matches.length]
      const s = nowMs()
      if (m) stmt.all(m)
      hist.record(nowMs() - s)
    }
    return hist.toJSON()
  },
}).ready()
