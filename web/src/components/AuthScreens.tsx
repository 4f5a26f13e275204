// First run (create the admin) and login. Errors from the server are shown as text.
import { useState } from 'preact/hooks'
import type { TargetedEvent } from 'preact'
import { useApp } from '../state/context.ts'
import { ApiError } from '../api/http.ts'

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
