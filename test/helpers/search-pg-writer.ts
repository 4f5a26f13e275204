// A process storing messages and contacts on PostgreSQL, one transaction each, for the search
// crash test (issue 17, test/search-dialects.test.ts): it tells its parent over IPC each id it
// saw committed, until the parent kills it with SIGKILL mid-stream. Plain SQL through a unit
// runner, as Parley's writers do; the search index is written by the migration's triggers.
import { openPgPool } from '../../src/store/pg/db.ts'
import { PgRunner } from '../../src/store/runner.ts'
import { get } from '../../src/store/unit.ts'

const url = process.env.PG_URL!
const pool = openPgPool(url, { nodeId: 'search-writer', max: 2 })
const runner = new PgRunner(pool)
const send = (m: unknown) => process.send!(m)

for (let i = 0; ; i++) {
  const ids = await runner.transact(function* () {
    const contact = yield* get<{ id: number }>(
      `INSERT INTO contacts (workspace_id, kind, external_id, phone, name) VALUES (1, 'whatsapp', ?, ?, ?) RETURNING id`,
      [`crash${i}`, `+55 11 7${String(i).padStart(6, '0')}`, `Crashname${i}`],
    )
    const conversation = yield* get<{ id: number }>(
      `INSERT INTO conversations (workspace_id, channel_id, contact_id, status, last_activity_at) VALUES (1, 1, ?, 'open', 0) RETURNING id`,
      [contact!.id],
    )
    const message = yield* get<{ id: number }>(
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, status, timestamp)
       VALUES (1, ?, 1, 'in', 'text', ?, 'received', ?) RETURNING id`,
      [conversation!.id, `crashword${i} stored before the kill`, i],
    )
    return { i, contact: contact!.id, conversation: conversation!.id, message: message!.id }
  })
  send(ids)
}
