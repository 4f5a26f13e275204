// Ending a person's sessions from anywhere — this server, or another process on the same
// database (`npm run admin -- reset-password` while Parley runs). The sessions table is
// the truth: every request looks its session up (auth.ts), so a revoked bearer token gets
// 401 at once. Open streams are held in memory, so a revocation also bumps a mark in
// `meta`; the running server polls that one row and, when it moves, closes every stream
// whose session is no longer live.
import type { Db } from '../../store/db.ts'

export const REVOCATION_MARK = 'sessions-revoked'
/** How soon a revocation made by another process closes this server's streams. */
export const REVOCATION_POLL_MS = 2000

/** Revokes every live session of the user; call inside the caller's transaction. Returns how many. */
export function revokeUserSessions(db: Db, userId: number, now: number): number {
  const n = db.$client
    .prepare(`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`)
    .run(now, userId, now).changes
  db.$client
    .prepare(
      `INSERT INTO meta(key, value) VALUES (?, '1')
       ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
    )
    .run(REVOCATION_MARK)
  return n
}

/** Calls `onRevoked` whenever the mark moves (including moves by other processes). */
export function watchRevocations(db: Db, onRevoked: () => void, intervalMs = REVOCATION_POLL_MS): { stop(): void } {
  const read = db.$client.prepare(`SELECT value FROM meta WHERE key = ?`).pluck()
  let last = read.get(REVOCATION_MARK) as string | undefined
  const timer = setInterval(() => {
    let mark: string | undefined
    try {
      mark = read.get(REVOCATION_MARK) as string | undefined
    } catch {
      return // a busy or failing store: asked again at the next tick
    }
    if (mark === last) return
    last = mark
    onRevoked()
  }, intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
