// Sessions: the server-side half of a bearer token. Revoking a user's sessions also
// moves a mark in `meta`, which servers on the same database poll to close the streams
// those sessions hold (domain/accounts/session-revocation.ts). Written as units of work:
// the same SQL on SQLite and PostgreSQL (issue 17), so every process on one PostgreSQL
// database sees the same sessions and the same revocations.
import { get, type Q, run } from './unit.ts'

/** The `meta` key moved by every revocation of a user's sessions. */
export const REVOCATION_MARK = 'sessions-revoked'

export interface LiveSessionRow {
  userId: number
  workspaceId: number
  role: 'admin' | 'agent'
  /** Unix ms; the caller compares it with its clock. */
  expiresAt: number
}

const INSERT = `INSERT INTO sessions (id, user_id, workspace_id, expires_at) VALUES (?, ?, ?, ?)`
// Every authenticated request reads its session: one constant text (SQLite prepares it once).
const LIVE = `SELECT s.user_id AS "userId", s.workspace_id AS "workspaceId", s.expires_at AS "expiresAt", u.role AS role
  FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.id = ? AND s.revoked_at IS NULL AND u.disabled_at IS NULL`
const REVOKE = `UPDATE sessions SET revoked_at = ? WHERE id = ?`
const REVOKE_USER = `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND id <> ?`
// The same counter as store/meta.ts bumpMeta, as a unit (text in both schemas).
const BUMP_MARK = `INSERT INTO meta (key, value) VALUES (?, '1')
  ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)`

export class SessionsRepo {
  *insert(values: { id: string; userId: number; workspaceId: number; expiresAt: number }): Q<void> {
    yield* run(INSERT, [values.id, values.userId, values.workspaceId, values.expiresAt])
  }

  /** The session unless revoked or its user disabled (expiry is the caller's to check). */
  *unrevoked(sessionId: string): Q<LiveSessionRow | undefined> {
    return yield* get<LiveSessionRow>(LIVE, [sessionId])
  }

  *revoke(sessionId: string, now: number): Q<void> {
    yield* run(REVOKE, [now, sessionId])
  }

  /**
   * Revokes every live session of the user (but `keep`, the one asking, when given) and
   * moves the mark; call inside the caller's transaction. Returns how many.
   */
  *revokeAllOfUser(userId: number, now: number, keep?: string): Q<number> {
    const { changes } = yield* run(REVOKE_USER, [now, userId, now, keep ?? ''])
    yield* run(BUMP_MARK, [REVOCATION_MARK])
    return changes
  }
}
