// Ending a person's sessions from anywhere — this server, or another process on the same
// database (`npm run admin -- reset-password` while Parley runs, or another Parley process
// behind the same load balancer on PostgreSQL). The sessions table is the truth: every
// request looks its session up (auth.ts), so a revoked bearer token gets 401 at once. Open
// streams are held in memory, so a revocation also bumps a mark in `meta`; each running
// server polls that one row and, when it moves, closes every stream whose session is no
// longer live.
//
// Revoking and moving the mark are one store operation (SessionsRepo.revokeAllOfUser).
import type { UnitRunner } from '../../store/runner.ts'
import { REVOCATION_MARK } from '../../store/sessions.ts'
import { get, type Q } from '../../store/unit.ts'

/** How soon a revocation made by another process closes this server's streams. */
export const REVOCATION_POLL_MS = 2000

const MARK = `SELECT value FROM meta WHERE key = ?`

function* readMark(): Q<string | undefined> {
  return (yield* get<{ value: string }>(MARK, [REVOCATION_MARK]))?.value
}

/** Calls `onRevoked` whenever the mark moves (including moves by other processes). */
export function watchRevocations(
  units: UnitRunner,
  onRevoked: () => void | Promise<void>,
  intervalMs = REVOCATION_POLL_MS,
): { stop(): void } {
  // Until the first read answers there is nothing to compare with: ticks wait for it.
  let last: { mark: string | undefined } | undefined
  let busy = true
  units.read(readMark).then(
    (mark) => {
      last = { mark }
      busy = false
    },
    () => {
      busy = false // a busy or failing store: the next tick reads the starting mark
    },
  )
  const tick = async () => {
    const mark = await units.read(readMark)
    if (last === undefined) {
      last = { mark }
      return
    }
    if (mark === last.mark) return
    last = { mark }
    await onRevoked()
  }
  const timer = setInterval(() => {
    // One poll at a time: a slow store is asked again at the next tick, not twice at once.
    if (busy) return
    busy = true
    tick()
      .catch(() => {}) // a busy or failing store: asked again at the next tick
      .finally(() => {
        busy = false
      })
  }, intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
