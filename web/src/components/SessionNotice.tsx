import { useApp } from '../state/context.ts'
import { SESSION_WARN_MS } from '../state/app.ts'
import { clock } from '../lib/clock.ts'

/**
 * The session is about to end (issue 11): say so a few minutes before, with a way to
 * sign in again at once. Nothing is lost either way: drafts are kept, and an ended
 * session asks for the password over the page.
 */
export function SessionNotice() {
  const app = useApp()
  const at = app.sessionExpiresAt.value
  if (at === null || app.reauth.value !== null) return null
  const left = at - clock.value
  if (left <= 0 || left > SESSION_WARN_MS) return null
  const mins = Math.max(1, Math.ceil(left / 60_000))
  return (
    <p class="session-notice" role="status" data-session-notice>
      <span class="session-notice-text">Your session ends in {mins} min — sign in again to keep working</span>
      <button type="button" class="link" onClick={() => (app.reauth.value = 'renew')}>
        Sign in again
      </button>
    </p>
  )
}
