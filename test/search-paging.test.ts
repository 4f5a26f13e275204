// Search's fast path (walk matches newest first, stop when the page is full, skip what an
// earlier page showed) against the one-statement reference (group every match in SQL), on
// random data: concatenated pages of every size equal the reference, for words, contacts'
// names, filters and an agent's channels — no conversation missing, none twice.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openDatabase } from '../src/store/db.ts'
import { SearchRepo, type SearchSpec } from '../src/store/search.ts'
import { SearchIndexWriter } from '../src/store/search-index.ts'
import { hasMessageFilters, matchExpression, parseQuery, phoneDigits } from '../src/domain/search/query.ts'

t.test('pages of the fast path equal the reference', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-search-paging-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = openDatabase(path.join(dir, 'p.db'), { busyTimeoutMs: 1000 })
  t.teardown(() => db.$client.close())
  const c = db.$client
  let seed = 7
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    return (seed >>> 8) % n
  }
  const WORDS = ['sofa', 'chair', 'lamp', 'blue', 'red', 'rug']
  c.exec(
    `INSERT INTO workspaces (id, name) VALUES (1, 'W'); INSERT INTO channels (id, workspace_id, kind, external_id, name) VALUES (1, 1, 'whatsapp', '1', 'A'), (2, 1, 'whatsapp', '2', 'B')`,
  )
  const CONVS = 40
  for (let i = 1; i <= CONVS; i++) {
    c.prepare(`INSERT INTO contacts (id, workspace_id, kind, external_id, name) VALUES (?, 1, 'whatsapp', ?, ?)`).run(
      i,
      `5511${9000 + i}`,
      `${WORDS[rnd(6)]} Person${i}`,
    )
    c.prepare(
      `INSERT INTO conversations (id, workspace_id, channel_id, contact_id, status, last_activity_at) VALUES (?, 1, ?, ?, ?, 0)`,
    ).run(i, 1 + (i % 2), i, i % 3 ? 'open' : 'resolved')
  }
  for (let i = 0; i < 600; i++) {
    const cid = 1 + rnd(CONVS)
    const words = Array.from({ length: 3 }, () => WORDS[rnd(6)]!).join(' ')
    c.prepare(
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, status, timestamp) VALUES (1, ?, ?, ?, 'text', ?, 'received', ?)`,
    ).run(cid, 1 + (cid % 2), rnd(2) ? 'in' : 'out', words, i)
  }
  // Stored by hand: the index's last step of a commit, as the writer's transactions end (migration 0019).
  c.transaction(() => new SearchIndexWriter(c).flush())()
  c.exec(`UPDATE conversations SET last_message_id = (SELECT max(id) FROM messages m WHERE m.conversation_id = conversations.id)`)
  const repo = new SearchRepo(db)
  let checked = 0
  for (const q of ['sofa', 'blue sofa', '"red lamp"', 'ch', 'rug status:open', 'lamp from:customer', 'person1', 'sofa in:b', '9001']) {
    for (const channelIds of [null, [1]]) {
      const parsed = parseQuery(q)
      if (!parsed.ok) throw new Error(parsed.message)
      const match = matchExpression(parsed.query.terms)
      const contacts = !hasMessageFilters(parsed.query.filters)
      const spec: SearchSpec = {
        workspaceId: 1,
        channelIds,
        userId: 1,
        match,
        contactMatch: contacts ? match : null,
        phone: contacts ? phoneDigits(parsed.query.terms) : null,
        filters: parsed.query.filters,
        limit: 1000,
      }
      const reference = repo.searchBySql(spec)
      for (const limit of [1, 2, 3, 7]) {
        const all: typeof reference = []
        let after: SearchSpec['after']
        for (let pages = 0; pages < 200; pages++) {
          const page = repo.search({ ...spec, limit, after })
          all.push(...page)
          if (page.length < limit) break
          const last = page[page.length - 1]!
          after = { key: last.key, conversationId: last.conversationId }
        }
        t.same(all, reference, `${q} (${channelIds ? 'agent' : 'admin'}, pages of ${limit})`)
        checked++
      }
      t.ok(reference.length > 0 || q === 'sofa in:b' || channelIds !== null, `${q}: something to compare`)
    }
  }
  t.equal(checked, 72)
})
