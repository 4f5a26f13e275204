// Presence's memory across restarts (issue 13): who held an open stream and when Parley
// last saw them. Written only when a person's first stream opens or last one closes.
// Units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
import { all, type Q, run } from './unit.ts'

const MARK = 'UPDATE users SET streaming = ?, seen_at = ? WHERE id = ?'
const RECENT = `SELECT id AS "userId", workspace_id AS "workspaceId" FROM users
  WHERE disabled_at IS NULL AND (streaming = ? OR seen_at >= ?) ORDER BY id`

export class PresenceRepo {
  *mark(userId: number, streaming: boolean, at: number): Q<void> {
    yield* run(MARK, [streaming, at, userId])
  }

  /** Active people who were streaming when the process stopped, or seen since `since`. */
  *recent(since: number): Q<{ userId: number; workspaceId: number }[]> {
    return yield* all<{ userId: number; workspaceId: number }>(RECENT, [true, since])
  }
}
