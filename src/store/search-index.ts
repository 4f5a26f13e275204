// The message search index's writes (issue 15, migration 0019_search_pending). A trigger notes
// each stored message's id in message_search_pending inside its transaction; `flush` indexes
// every noted message with one statement and clears the notes, and runs as the last step of
// every writing transaction (EventLog's before-commit list). One statement per commit makes
// one FTS5 segment per commit, where a trigger writing the index per message made one per
// message (FTS5 flushes its pending terms at every savepoint, and every statement that fires
// a trigger opens one).
//
// What is indexed is searchTextOf() (src/domain/search/text.ts); the SQL below is its twin,
// as are the triggers of migrations 0013 and 0019 (test/search-text.test.ts proves they agree).
//
// On PostgreSQL (issue 17) the triggers of migrations/pg …_search write the index at once, so
// there is nothing to flush: flushSearchIndex() is a no-op there.
import type Database from 'better-sqlite3'
import { dialect, get, type Q, run } from './unit.ts'

const BODY = `trim(
    coalesce(m.text, '')
    || ' ' || coalesce(CASE WHEN json_valid(m.media) THEN json_extract(m.media, '$.filename') END, '')
    || ' ' || CASE WHEN m.type = 'location' AND coalesce(m.text, '') = '' AND json_valid(m.data)
         THEN coalesce(json_extract(m.data, '$.name'), '') || ' ' || coalesce(json_extract(m.data, '$.address'), '') ELSE '' END)`

const ANY_PENDING = 'SELECT EXISTS (SELECT 1 FROM message_search_pending) AS "any"'
const INDEX = `INSERT INTO message_search(rowid, body) SELECT m.id, ${BODY} FROM message_search_pending p JOIN messages m ON m.id = p.id`
const CLEAR = 'DELETE FROM message_search_pending'

/** SearchIndexWriter.flush as a unit, for a writing unit's last step (SQLite); nothing on PostgreSQL. */
export function* flushSearchIndex(): Q<void> {
  if ((yield* dialect()) === 'postgres') return
  if ((yield* get<{ any: number }>(ANY_PENDING))?.any === 0) return
  yield* run(INDEX)
  yield* run(CLEAR)
}

export class SearchIndexWriter {
  private readonly anyPending: Database.Statement
  private readonly index: Database.Statement
  private readonly clear: Database.Statement

  constructor(sqlite: Database.Database) {
    this.anyPending = sqlite.prepare('SELECT EXISTS (SELECT 1 FROM message_search_pending)').pluck()
    // A noted message deleted in the same transaction (an erasure) is simply not found.
    this.index = sqlite.prepare(INDEX)
    this.clear = sqlite.prepare(CLEAR)
  }

  /** Indexes the messages noted so far; must run inside the writing transaction, last. */
  flush(): void {
    if (this.anyPending.get() === 0) return
    this.index.run()
    this.clear.run()
  }
}
