// First run (create the admin), login, and signing in again over the page when the
// session ends. Errors from the server are shown as text.
import { useState } from 'preact/hooks'
import type { TargetedEvent } from 'preact'
import { useApp } from '../state/context.ts'
import { ApiError } from '../api/http.ts'
import { SESSION_WARN_MS } from '../state/app.ts'
import { clock } from '../lib/clock.ts'

function useSubmit(fn: (form: FormData) => Promise<void>) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const onSubmit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await fn(new FormData(e.currentTarget))
    } catch (err) {
      setError(
        err instanceof ApiError
          ? err.status === 0
            ? 'The server could not be reached.'
            : err.status === 429
              ? 'Too many attempts. Wait a minute and try again.'
              : err.message
          : String(err),
      )
      setBusy(false)
    }
  }
  return { busy, error, onSubmit }
}

const str = (f: FormData, k: string) => String(f.get(k) ?? '')

export function LoginScreen() {
  const app = useApp()
  const { busy, error, onSubmit } = useSubmit((f) => app.login(str(f, 'email'), str(f, 'password')))
  return (
    <main class="auth">
      <form class="auth-card" onSubmit={onSubmit} aria-labelledby="login-title">
        <h1 id="login-title">Sign in to Parley</h1>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}

export function SetupScreen() {
  const app = useApp()
  const { busy, error, onSubmit } = useSubmit((f) =>
    app.setup({ email: str(f, 'email'), name: str(f, 'name'), password: str(f, 'password') }),
  )
  return (
    <main class="auth">
      <form class="auth-card" onSubmit={onSubmit} aria-labelledby="setup-title">
        <h1 id="setup-title">Welcome to Parley</h1>
        <p>Create the administrator account. You can invite agents afterwards.</p>
        <label>
          Your name
          <input name="name" autoComplete="name" required maxLength={100} autoFocus />
        </label>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Password (at least 8 characters)
          <input name="password" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create admin and sign in'}
        </button>
      </form>
    </main>
  )
}

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
      <span class="session-notice-text">
        Your session ends in {mins} min — sign in again to keep working
      </span>
      <button type="button" class="link" onClick={() => (app.reauth.value = 'renew')}>
        Sign in again
      </button>
    </p>
  )
}

/**
 * Sign in again over the page: after an ended session (a 401 anywhere, the stream
 * refused) or before it ends. The same person carries on where they were — the open
 * conversation, the draft, the stream from its cursor; app.reauthenticate.
 */
export function SignInAgain() {
  const app = useApp()
  const mode = app.reauth.value
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    await app.reauthenticate(str(f, 'email'), str(f, 'password'))
  })
  return (
    <div class="modal-backdrop" role="dialog" aria-modal="true" aria-labelledby="reauth-title" aria-describedby="reauth-why">
      <form class="auth-card" onSubmit={onSubmit}>
        <h1 id="reauth-title">{mode === 'expired' ? 'Your session has ended' : 'Sign in again'}</h1>
        <p id="reauth-why" class="hint">
          {mode === 'expired'
            ? 'Sign in to carry on where you were: this page, the open conversation and your drafts are kept.'
            : 'A new session starts now; this page stays as it is.'}
        </p>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required defaultValue={app.user.value?.email ?? ''} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required autoFocus />
        </label>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {mode === 'renew' && (
          <button type="button" class="link" onClick={() => (app.reauth.value = null)}>
            Not now
          </button>
        )}
        {mode === 'expired' && (
          <button type="button" class="link" onClick={() => location.assign('/')}>
            Sign in as someone else
          </button>
        )}
      </form>
    </div>
  )
}
