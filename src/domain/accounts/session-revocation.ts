// Ending a person's sessions from anywhere — this server, or another process on the same
// database (`npm run admin -- reset-password` while Parley runs). The sessions table is
// the truth: every request looks its session up (auth.ts), so a revoked bearer token gets
// 401 at once. Open streams are held in memory, so a revocation also bumps a mark in
// `meta`; the running server polls that one row and, when it moves, closes every stream
// whose session is no longer live.
//
// Revoking and moving the mark are one store operation (SessionsRepo.revokeAllOfUser).
import type { Db } from '../../store/db.ts'
import { metaReader } from '../../store/meta.ts'
import { REVOCATION_MARK } from '../../store/sessions.ts'

/** How soon a revocation made by another process closes this server's streams. */
export const REVOCATION_POLL_MS = 2000

/** Calls `onRevoked` whenever the mark moves (including moves by other processes). */
export function watchRevocations(db: Db, onRevoked: () => void, intervalMs = REVOCATION_POLL_MS): { stop(): void } {
  const read = metaReader(db)
  let last = read(REVOCATION_MARK)
  const timer = setInterval(() => {
    let mark: string | undefined
    try {
      mark = read(REVOCATION_MARK)
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
