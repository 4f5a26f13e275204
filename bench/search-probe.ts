// `node --import tsx bench/search-probe.ts [messages]` (issue 15): a quick, stand-alone figure
// for search speed, not part of `npm run bench`. Builds a database of N messages (default
// 100,000) in N/10 conversations through the real migrations (so the triggers index them),
// then times GET /api/search's store query: p50/p99 of a common word, two words, a phrase,
// a phone fragment, and a word with a filter, plus the index's share of the file.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openDatabase } from '../src/store/db.ts'
import { SearchRepo } from '../src/store/search.ts'
import { SearchIndexWriter } from '../src/store/search-index.ts'
import { matchExpression, parseQuery, phoneDigits } from '../src/domain/search/query.ts'

const N = Number(process.argv[2] ?? 100_000)
const CONVS = Math.max(1, Math.floor(N / 10))
const dir = mkdtempSync(path.join(tmpdir(), 'parley-search-probe-'))
const file = path.join(dir, 'p.db')
const db = openDatabase(file, { busyTimeoutMs: 1000 })
const c = db.$client
const WORDS =
  'sofa chair table lamp blue red green order delivery invoice refund price cushion walnut velvet armchair bed shelf desk rug'.split(' ')
const COMMON = 'hello please thanks'.split(' ')
let seed = 42
const rnd = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return (seed >>> 8) % n
}
const t0 = Date.now()
c.exec(
  `INSERT INTO workspaces (id, name) VALUES (1, 'W'); INSERT INTO channels (id, workspace_id, kind, external_id, name) VALUES (1, 1, 'whatsapp', '1', 'Main'), (2, 1, 'whatsapp', '2', 'Second')`,
)
const contact = c.prepare(`INSERT INTO contacts (id, workspace_id, kind, external_id, name) VALUES (?, 1, 'whatsapp', ?, ?)`)
const conv = c.prepare(`INSERT INTO conversations (id, workspace_id, channel_id, contact_id, last_activity_at) VALUES (?, 1, ?, ?, 0)`)
const msg = c.prepare(
  `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, status, timestamp) VALUES (1, ?, ?, ?, 'text', ?, 'received', ?)`,
)
c.transaction(() => {
  for (let i = 1; i <= CONVS; i++) {
    contact.run(i, `55119${String(10_000_000 + i)}`, `Customer ${i}`)
    conv.run(i, 1 + (i % 2), i)
  }
  for (let i = 0; i < N; i++) {
    const cid = 1 + rnd(CONVS)
    const words = Array.from({ length: 8 }, () => WORDS[rnd(WORDS.length)]!)
    words.push(COMMON[rnd(COMMON.length)]!)
    msg.run(cid, 1 + (cid % 2), i % 2 ? 'in' : 'out', words.join(' '), 1_700_000_000_000 + i * 1000)
  }
  new SearchIndexWriter(c).flush() // the index's last step of a commit (migration 0019)
})()
c.exec(`UPDATE conversations SET last_message_id = (SELECT max(id) FROM messages m WHERE m.conversation_id = conversations.id)`)
console.log(`built ${N} messages in ${CONVS} conversations in ${Date.now() - t0} ms`)

const repo = new SearchRepo(db)
function time(label: string, q: string, channelIds: number[] | null = null) {
  const parsed = parseQuery(q)
  if (!parsed.ok) throw new Error(parsed.message)
  const match = matchExpression(parsed.query.terms)
  const spec = {
    workspaceId: 1,
    channelIds,
    userId: 1,
    match,
    contactMatch: match,
    phone: phoneDigits(parsed.query.terms),
    filters: parsed.query.filters,
    limit: 21,
  }
  const times: number[] = []
  for (let i = 0; i < 30; i++) {
    const s = process.hrtime.bigint()
    repo.search(spec)
    times.push(Number(process.hrtime.bigint() - s) / 1e6)
  }
  times.sort((a, b) => a - b)
  const p = (x: number) => times[Math.min(times.length - 1, Math.floor(x * times.length))]!.toFixed(1)
  console.log(`${label.padEnd(36)} p50 ${p(0.5).padStart(7)} ms  p99 ${p(0.99).padStart(7)} ms`)
}
for (const q of ['"hello"', '"blue"']) {
  const s = process.hrtime.bigint()
  const n = c.prepare('SELECT count(*) FROM message_search WHERE message_search MATCH ?').pluck().get(q)
  const s2 = process.hrtime.bigint()
  c.prepare('SELECT count(*) FROM message_search s JOIN messages m ON m.id = s.rowid WHERE message_search MATCH ?').pluck().get(q)
  console.log(
    `${q}: ${n} hits, fts alone ${(Number(s2 - s) / 1e6).toFixed(1)} ms, with the join ${(Number(process.hrtime.bigint() - s2) / 1e6).toFixed(1)} ms`,
  )
}
time('one common word (hello)', 'hello')
time('one word (walnut)', 'walnut')
time('two words (blue sofa)', 'blue sofa')
time('a phrase ("velvet armchair")', '"velvet armchair"')
time('a prefix (arm)', 'arm')
time('a phone fragment (1000123)', '1000123')
time('a word, one channel (agent)', 'walnut', [1])
time('a word with from:customer', 'walnut from:customer')
c.pragma('wal_checkpoint(TRUNCATE)')
const total = statSync(file).size
const pages = c.prepare(`SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%' OR name LIKE 'contact%search%'`).pluck().get() as
  | number
  | null
if (pages !== null)
  console.log(`index: ${(pages / 1e6).toFixed(1)} MB of ${(total / 1e6).toFixed(1)} MB (${((100 * pages) / total).toFixed(1)}%)`)
c.close()
rmSync(dir, { recursive: true, force: true })
