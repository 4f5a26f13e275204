// Sessions: the server-side half of a bearer token. Revoking a user's sessions also
// moves a mark in `meta`, which servers on the same database poll to close the streams
// those sessions hold (domain/accounts/session-revocation.ts).
import type { Statement } from 'better-sqlite3'
import { eq } from 'drizzle-orm'
import type { Db } from './db.ts'
import { bumpMeta } from './meta.ts'
import { sessions } from './schema.ts'

/** The `meta` key moved by every revocation of a user's sessions. */
export const REVOCATION_MARK = 'sessions-revoked'

export interface LiveSessionRow {
  userId: number
  workspaceId: number
  role: 'admin' | 'agent'
  /** Unix ms; the caller compares it with its clock. */
  expiresAt: number
}

export class SessionsRepo {
  // Every authenticated request reads its session: prepared once.
  private readonly liveStmt: Statement
  private readonly revokeUserStmt: Statement

  constructor(private readonly db: Db) {
    this.liveStmt = db.$client.prepare(
      `SELECT s.user_id AS userId, s.workspace_id AS workspaceId, s.expires_at AS expiresAt, u.role AS role
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = ? AND s.revoked_at IS NULL AND u.disabled_at IS NULL`,
    )
    this.revokeUserStmt = db.$client.prepare(
      `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?`,
    )
  }

  insert(values: { id: string; userId: number; workspaceId: number; expiresAt: number }): void {
    this.db.insert(sessions).values(values).run()
  }

  /** The session unless revoked or its user disabled (expiry is the caller's to check). */
  unrevoked(sessionId: string): LiveSessionRow | undefined {
    return this.liveStmt.get(sessionId) as LiveSessionRow | undefined
  }

  revoke(sessionId: string, now: number): void {
    this.db.update(sessions).set({ revokedAt: now }).where(eq(sessions.id, sessionId)).run()
  }

  /**
   * Revokes every live session of the user (but `keep`, the one asking, when given) and
   * moves the mark; call inside the caller's transaction. Returns how many.
   */
  revokeAllOfUser(userId: number, now: number, keep?: string): number {
    const n = this.revokeUserStmt.run(now, userId, now, keep ?? '').changes
    bumpMeta(this.db, REVOCATION_MARK)
    return n
  }
}
