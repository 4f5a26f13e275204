// Password reset links (stored by the SHA-256 of their token) and the writes a new
// password makes together: the user's hash, their other links, their sessions. Each
// operation is meant to be one transaction: the caller's unit of work (issue 17: the same
// SQL on SQLite and PostgreSQL).
import { TableCodec } from './prepared.ts'
import { passwordResets } from './schema.ts'
import { SessionsRepo } from './sessions.ts'
import { get, type Q, run } from './unit.ts'
import { UsersRepo } from './users.ts'

export type PasswordResetRow = typeof passwordResets.$inferSelect

const codec = new TableCodec<PasswordResetRow>(passwordResets)

const CLAIM = `UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`
const INSERT = `INSERT INTO password_resets (user_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?)`
const BY_TOKEN_HASH = `SELECT ${codec.selectQuoted('r')} FROM password_resets r WHERE r.token_hash = ?`
const RETIRE_UNUSED = `UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL`

export class PasswordResetsRepo {
  private readonly users = new UsersRepo()
  private readonly sessions = new SessionsRepo();

  /** Stores a new link; the user's earlier unused ones are marked used (only the newest is valid). */
  *issue(userId: number, tokenHash: string, expiresAt: number, now: number): Q<void> {
    yield* this.retireUnused(userId, now)
    yield* run(INSERT, [userId, tokenHash, expiresAt, now])
  }

  *byTokenHash(tokenHash: string): Q<PasswordResetRow | undefined> {
    const row = yield* get<unknown>(BY_TOKEN_HASH, [tokenHash])
    return row === undefined ? undefined : codec.decodeAny(row)
  }

  /**
   * Uses the link and sets the password: the link is claimed by a conditional UPDATE
   * (unused, unexpired), so of two racing uses one wins. Returns how many sessions ended,
   * or undefined when the link was not claimed (nothing changed).
   */
  *consume(tokenHash: string, userId: number, passwordHash: string, now: number): Q<{ sessionsEnded: number } | undefined> {
    if ((yield* run(CLAIM, [now, tokenHash, now])).changes !== 1) return undefined
    return yield* this.setPassword(userId, passwordHash, now)
  }

  /** Sets the password: the user's other links stop working and their sessions end (but `keepSession`, when given). */
  *setPassword(userId: number, passwordHash: string, now: number, keepSession?: string): Q<{ sessionsEnded: number }> {
    yield* this.users.setPasswordHash(userId, passwordHash)
    yield* this.retireUnused(userId, now)
    return { sessionsEnded: yield* this.sessions.revokeAllOfUser(userId, now, keepSession) }
  }

  /** Ends every live session of the user; returns how many. */
  *endSessions(userId: number, now: number): Q<{ sessionsEnded: number }> {
    return { sessionsEnded: yield* this.sessions.revokeAllOfUser(userId, now) }
  }

  private *retireUnused(userId: number, now: number): Q<void> {
    yield* run(RETIRE_UNUSED, [now, userId])
  }
}
