// Password reset links (stored by the SHA-256 of their token) and the writes a new
// password makes together: the user's hash, their other links, their sessions. Each
// operation is one transaction.
import type { Statement } from 'better-sqlite3'
import { and, eq, isNull } from 'drizzle-orm'
import type { Db } from './db.ts'
import { passwordResets } from './schema.ts'
import { SessionsRepo } from './sessions.ts'
import { UsersRepo } from './users.ts'

export type PasswordResetRow = typeof passwordResets.$inferSelect

export class PasswordResetsRepo {
  private readonly users: UsersRepo
  private readonly sessions: SessionsRepo
  private readonly claimStmt: Statement

  constructor(private readonly db: Db) {
    this.users = new UsersRepo(db)
    this.sessions = new SessionsRepo(db)
    this.claimStmt = db.$client.prepare(
      `UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`,
    )
  }

  /** Stores a new link; the user's earlier unused ones are marked used (only the newest is valid). */
  issue(userId: number, tokenHash: string, expiresAt: number, now: number): void {
    this.db.transaction(() => {
      this.retireUnused(userId, now)
      this.db.insert(passwordResets).values({ userId, tokenHash, expiresAt, createdAt: now }).run()
    })
  }

  byTokenHash(tokenHash: string): PasswordResetRow | undefined {
    return this.db.select().from(passwordResets).where(eq(passwordResets.tokenHash, tokenHash)).get()
  }

  /**
   * Uses the link and sets the password in one transaction: the link is claimed by a
   * conditional UPDATE (unused, unexpired), so of two racing uses one wins. Returns how
   * many sessions ended, or undefined when the link was not claimed (nothing changed).
   */
  consume(tokenHash: string, userId: number, passwordHash: string, now: number): { sessionsEnded: number } | undefined {
    return this.db.transaction(() => {
      if (this.claimStmt.run(now, tokenHash, now).changes !== 1) return undefined
      return this.setPasswordIn(userId, passwordHash, now)
    })
  }

  /** Sets the password: the user's other links stop working and their sessions end (but `keepSession`, when given). */
  setPassword(userId: number, passwordHash: string, now: number, keepSession?: string): { sessionsEnded: number } {
    return this.db.transaction(() => this.setPasswordIn(userId, passwordHash, now, keepSession))
  }

  /** Ends every live session of the user; returns how many. */
  endSessions(userId: number, now: number): { sessionsEnded: number } {
    return this.db.transaction(() => ({ sessionsEnded: this.sessions.revokeAllOfUser(userId, now) }))
  }

  private setPasswordIn(userId: number, passwordHash: string, now: number, keepSession?: string): { sessionsEnded: number } {
    this.users.setPasswordHash(userId, passwordHash)
    this.retireUnused(userId, now)
    return { sessionsEnded: this.sessions.revokeAllOfUser(userId, now, keepSession) }
  }

  private retireUnused(userId: number, now: number): void {
    this.db
      .update(passwordResets)
      .set({ usedAt: now })
      .where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt)))
      .run()
  }
}
