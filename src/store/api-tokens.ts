// Personal API tokens (issue 16): rows keyed by the SHA-256 of the value (never the value).
// Every request a token makes looks it up by hash, joined with its person: a disabled person's
// tokens stop at once, and the role is read fresh (a demotion applies at once).
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
import { all, get, type Q, run } from './unit.ts'

export type TokenScope = 'read' | 'write'

export interface ApiTokenRow {
  id: number
  name: string
  scope: TokenScope
  createdAt: number
  lastUsedAt: number | null
}

export interface LiveTokenRow {
  id: number
  userId: number
  workspaceId: number
  scope: TokenScope
  role: 'admin' | 'agent'
  lastUsedAt: number | null
}

const INSERT = `INSERT INTO api_tokens (workspace_id, user_id, name, scope, token_hash, created_at)
  VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
const ROW = `id, name, scope, created_at AS "createdAt", last_used_at AS "lastUsedAt"`
const LIST = `SELECT ${ROW} FROM api_tokens WHERE workspace_id = ? AND user_id = ? ORDER BY id DESC`
const BY_ID = `SELECT ${ROW} FROM api_tokens WHERE id = ? AND workspace_id = ? AND user_id = ?`
const LIVE_COLUMNS = `t.id, t.user_id AS "userId", t.workspace_id AS "workspaceId", t.scope, t.last_used_at AS "lastUsedAt", u.role
  FROM api_tokens t JOIN users u ON u.id = t.user_id`
const LIVE = `SELECT ${LIVE_COLUMNS} WHERE t.token_hash = ? AND u.disabled_at IS NULL AND u.workspace_id = t.workspace_id`
const LIVE_BY_ID = `SELECT ${LIVE_COLUMNS} WHERE t.id = ? AND u.disabled_at IS NULL AND u.workspace_id = t.workspace_id`
// Only when the last use is older than `staleBefore`: with several processes (PostgreSQL), two
// calls of one token at once write once (the second re-checks the row after the first's commit).
const TOUCH = `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`
// RETURNING: the row it removed (its name and scope go in the audit line), in the one statement
// that checks the token is the person's, so nothing can change between a check and the delete.
const DELETE = `DELETE FROM api_tokens WHERE id = ? AND workspace_id = ? AND user_id = ? RETURNING ${ROW}`

export class ApiTokensRepo {
  *insert(t: { workspaceId: number; userId: number; name: string; scope: TokenScope; tokenHash: string; createdAt: number }): Q<number> {
    const row = yield* get<{ id: number }>(INSERT, [t.workspaceId, t.userId, t.name, t.scope, t.tokenHash, t.createdAt])
    return row!.id
  }

  /** The person's own tokens, newest first. */
  *listOf(workspaceId: number, userId: number): Q<ApiTokenRow[]> {
    return yield* all<ApiTokenRow>(LIST, [workspaceId, userId])
  }

  *ownById(id: number, workspaceId: number, userId: number): Q<ApiTokenRow | undefined> {
    return yield* get<ApiTokenRow>(BY_ID, [id, workspaceId, userId])
  }

  /** The token with this hash, if its person is active. */
  *live(tokenHash: string): Q<LiveTokenRow | undefined> {
    return yield* get<LiveTokenRow>(LIVE, [tokenHash])
  }

  /** The same by id (an open stream reading its access again). */
  *liveById(id: number): Q<LiveTokenRow | undefined> {
    return yield* get<LiveTokenRow>(LIVE_BY_ID, [id])
  }

  /** Sets the last-used time unless it is already `staleBefore` or later; whether it wrote. */
  *touch(id: number, at: number, staleBefore: number): Q<boolean> {
    return (yield* run(TOUCH, [at, id, staleBefore])).changes > 0
  }

  /** Deletes the person's own token: the row it was, or undefined when there is none with this id. */
  *delete(id: number, workspaceId: number, userId: number): Q<ApiTokenRow | undefined> {
    return yield* get<ApiTokenRow>(DELETE, [id, workspaceId, userId])
  }
}
