// Personal API tokens (issue 16): rows keyed by the SHA-256 of the value (never the value).
// Every request a token makes looks it up by hash, joined with its person: a disabled person's
// tokens stop at once, and the role is read fresh (a demotion applies at once).
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.ts'

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

export class ApiTokensRepo {
  private readonly insertStmt: Statement
  private readonly listStmt: Statement
  private readonly liveStmt: Statement
  private readonly touchStmt: Statement
  private readonly deleteStmt: Statement
  private readonly byIdStmt: Statement
  private readonly liveByIdStmt: Statement

  constructor(db: Db) {
    const c = db.$client
    this.insertStmt = c.prepare(
      `INSERT INTO api_tokens (workspace_id, user_id, name, scope, token_hash, created_at)
       VALUES (@workspaceId, @userId, @name, @scope, @tokenHash, @createdAt) RETURNING id`,
    )
    this.listStmt = c.prepare(
      `SELECT id, name, scope, created_at AS createdAt, last_used_at AS lastUsedAt
         FROM api_tokens WHERE workspace_id = ? AND user_id = ? ORDER BY id DESC`,
    )
    this.byIdStmt = c.prepare(
      `SELECT id, name, scope, created_at AS createdAt, last_used_at AS lastUsedAt
         FROM api_tokens WHERE id = ? AND workspace_id = ? AND user_id = ?`,
    )
    this.liveStmt = c.prepare(
      `SELECT t.id, t.user_id AS userId, t.workspace_id AS workspaceId, t.scope, t.last_used_at AS lastUsedAt, u.role
         FROM api_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = ? AND u.disabled_at IS NULL AND u.workspace_id = t.workspace_id`,
    )
    this.liveByIdStmt = c.prepare(
      `SELECT t.id, t.user_id AS userId, t.workspace_id AS workspaceId, t.scope, t.last_used_at AS lastUsedAt, u.role
         FROM api_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.id = ? AND u.disabled_at IS NULL AND u.workspace_id = t.workspace_id`,
    )
    this.touchStmt = c.prepare(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`)
    this.deleteStmt = c.prepare(`DELETE FROM api_tokens WHERE id = ? AND workspace_id = ? AND user_id = ?`)
  }

  insert(t: { workspaceId: number; userId: number; name: string; scope: TokenScope; tokenHash: string; createdAt: number }): number {
    return (this.insertStmt.get(t) as { id: number }).id
  }

  /** The person's own tokens, newest first. */
  listOf(workspaceId: number, userId: number): ApiTokenRow[] {
    return this.listStmt.all(workspaceId, userId) as ApiTokenRow[]
  }

  ownById(id: number, workspaceId: number, userId: number): ApiTokenRow | undefined {
    return this.byIdStmt.get(id, workspaceId, userId) as ApiTokenRow | undefined
  }

  /** The token with this hash, if its person is active. */
  live(tokenHash: string): LiveTokenRow | undefined {
    return this.liveStmt.get(tokenHash) as LiveTokenRow | undefined
  }

  /** The same by id (an open stream reading its access again). */
  liveById(id: number): LiveTokenRow | undefined {
    return this.liveByIdStmt.get(id) as LiveTokenRow | undefined
  }

  touch(id: number, at: number): void {
    this.touchStmt.run(at, id)
  }

  /** Deletes the person's own token; false when there is none with this id. */
  delete(id: number, workspaceId: number, userId: number): boolean {
    return this.deleteStmt.run(id, workspaceId, userId).changes > 0
  }
}
