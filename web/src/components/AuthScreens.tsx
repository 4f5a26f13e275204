// First run (create the admin), login with "Forgot password?" when the server can mail,
// a password reset link, an invitation link (issue 13), and signing in again over the
// page when the session ends. Errors from the server are shown as text.
import { useEffect, useState } from 'preact/hooks'
import type { TargetedEvent } from 'preact'
import { useApp } from '../state/context.ts'
import { ApiError } from '../api/client.ts'
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
          : err instanceof Error
            ? err.message
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
  const [forgot, setForgot] = useState(false)
  const { busy, error, onSubmit } = useSubmit((f) => app.login(str(f, 'email'), str(f, 'password')))
  if (forgot) return <ForgotPassword onBack={() => setForgot(false)} />
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
        {/* Only when the server can mail the link (SMTP_URL); otherwise an admin issues one. */}
        {app.mail.value && (
          <button type="button" class="link" onClick={() => setForgot(true)}>
            Forgot password?
          </button>
        )}
      </form>
    </main>
  )
}

/** "Forgot password?": the same answer whether or not the address has an account. */
function ForgotPassword({ onBack }: { onBack: () => void }) {
  const app = useApp()
  const [sent, setSent] = useState<string | null>(null)
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const email = str(f, 'email').trim()
    await app.requestPasswordReset(email)
    setSent(email)
  })
  return (
    <main class="auth">
      <form class="auth-card" onSubmit={onSubmit} aria-labelledby="forgot-title">
        <h1 id="forgot-title">Forgot your password?</h1>
        {sent ? (
          <p role="status" data-reset-sent>
            If an account uses <strong>{sent}</strong>, a link to choose a new password is on its way. It works once, for an hour.
          </p>
        ) : (
          <>
            <p>Type the email you sign in with: Parley mails you a link to choose a new password.</p>
            <label>
              Email
              <input name="email" type="email" autoComplete="username" required autoFocus />
            </label>
            {error && (
              <p class="form-error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" class="primary" disabled={busy || !!sent}>
              {busy ? 'Sending…' : 'Mail me a link'}
            </button>
          </>
        )}
        <button type="button" class="link" onClick={onBack}>
          Back to sign in
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
      <span class="session-notice-text">Your session ends in {mins} min — sign in again to keep working</span>
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

// A password reset link (`npm run admin -- reset-password`) opens
// /reset-password#token=…: the fragment never reaches the server, and the page posts
// the token in a body. It is read once and dropped from the address bar and history.
export const RESET_PASSWORD_PATH = '/reset-password'
export const isResetPasswordPath = () => location.pathname === RESET_PASSWORD_PATH

function takeResetToken(): string {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''
  if (location.hash) history.replaceState(null, '', RESET_PASSWORD_PATH)
  return token
}

type ResetState = { kind: 'checking' } | { kind: 'form'; email: string } | { kind: 'refused'; message: string }

const describeRefusal = (err: unknown) =>
  err instanceof ApiError
    ? err.status === 0
      ? 'The server could not be reached. Check your connection and open the link again.'
      : err.status === 429
        ? 'Too many attempts. Wait a minute and open the link again.'
        : err.message
    : String(err)

export function ResetPasswordScreen() {
  const app = useApp()
  const [token] = useState(takeResetToken)
  const [state, setState] = useState<ResetState>(() =>
    token
      ? { kind: 'checking' }
      : { kind: 'refused', message: 'This page opens from a password reset link. Ask your administrator for a new one.' },
  )
  useEffect(() => {
    if (!token) return
    app.checkResetLink(token).then(
      (r) => setState({ kind: 'form', email: r.email }),
      (err: unknown) => setState({ kind: 'refused', message: describeRefusal(err) }),
    )
  }, [token])
  const email = state.kind === 'form' ? state.email : ''
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const password = str(f, 'password')
    if (password !== str(f, 'confirm')) throw new Error('The two passwords are not the same.')
    try {
      await app.resetPassword(token, email, password)
    } catch (err) {
      // Expired or used while the page was open: the form gives way to the reason.
      if (err instanceof ApiError && err.code.startsWith('RESET_LINK_')) setState({ kind: 'refused', message: err.message })
      throw err
    }
    // A full load starts the inbox clean.
    location.replace('/')
  })
  return (
    <main class="auth">
      <form class="auth-card" onSubmit={onSubmit} aria-labelledby="reset-title">
        <h1 id="reset-title">Choose a new password</h1>
        {state.kind === 'checking' && <p role="status">Checking the link…</p>}
        {state.kind === 'refused' && (
          <>
            <p class="form-error" role="alert">
              {state.message}
            </p>
            <a href="/">Go to sign in</a>
          </>
        )}
        {state.kind === 'form' && (
          <>
            <p>
              For <strong>{email}</strong>. Every device signed in to this account will be signed out.
            </p>
            <input type="hidden" name="email" value={email} autoComplete="username" />
            <label>
              New password (at least 8 characters)
              <input name="password" type="password" autoComplete="new-password" required minLength={8} maxLength={1024} autoFocus />
            </label>
            <label>
              The same again
              <input name="confirm" type="password" autoComplete="new-password" required minLength={8} maxLength={1024} />
            </label>
            {error && (
              <p class="form-error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save and sign in'}
            </button>
          </>
        )}
      </form>
    </main>
  )
}

// An invitation link (issue 13) opens /invite#token=…: like a reset link, the fragment
// never reaches the server and is dropped from the address bar and history at once.
export const INVITE_PATH = '/invite'
export const isInvitePath = () => location.pathname === INVITE_PATH

function takeInviteToken(): string {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''
  if (location.hash) history.replaceState(null, '', INVITE_PATH)
  return token
}

type InvitePreview = Awaited<ReturnType<ReturnType<typeof useApp>['checkInvitation']>>
type InviteState = { kind: 'checking' } | { kind: 'form'; invitation: InvitePreview } | { kind: 'refused'; message: string }

export function InviteScreen() {
  const app = useApp()
  const [token] = useState(takeInviteToken)
  const [state, setState] = useState<InviteState>(() =>
    token ? { kind: 'checking' } : { kind: 'refused', message: 'This page opens from an invitation link. Ask your admin for one.' },
  )
  useEffect(() => {
    if (!token) return
    app.checkInvitation(token).then(
      (invitation) => setState({ kind: 'form', invitation }),
      (err: unknown) => setState({ kind: 'refused', message: describeRefusal(err) }),
    )
  }, [token])
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const password = str(f, 'password')
    if (password !== str(f, 'confirm')) throw new Error('The two passwords are not the same.')
    try {
      await app.acceptInvitation(token, str(f, 'name').trim(), password)
    } catch (err) {
      // Used, revoked or expired while the page was open: the form gives way to the reason.
      if (err instanceof ApiError && err.code.startsWith('INVITATION_')) setState({ kind: 'refused', message: err.message })
      throw err
    }
    // Signed in by the server (the session cookie): a full load starts the inbox clean.
    location.replace('/')
  })
  return (
    <main class="auth">
      <form class="auth-card" onSubmit={onSubmit} aria-labelledby="invite-title">
        <h1 id="invite-title">Join your team on Parley</h1>
        {state.kind === 'checking' && <p role="status">Checking the invitation…</p>}
        {state.kind === 'refused' && (
          <>
            <p class="form-error" role="alert" data-invite-refused>
              {state.message}
            </p>
            <a href="/">Go to sign in</a>
          </>
        )}
        {state.kind === 'form' && (
          <>
            <p data-invite-from>
              <strong>{state.invitation.invitedBy}</strong> invited you to <strong>{state.invitation.workspace}</strong> as{' '}
              {state.invitation.role === 'admin' ? 'an admin' : 'an agent'}.
            </p>
            <p>
              You will sign in as <strong>{state.invitation.email}</strong>.
            </p>
            <input type="hidden" name="email" value={state.invitation.email} autoComplete="username" />
            <label>
              Your name
              <input name="name" autoComplete="name" required maxLength={100} autoFocus />
            </label>
            <label>
              Password (at least 8 characters)
              <input name="password" type="password" autoComplete="new-password" required minLength={8} maxLength={1024} />
            </label>
            <label>
              The same again
              <input name="confirm" type="password" autoComplete="new-password" required minLength={8} maxLength={1024} />
            </label>
            {error && (
              <p class="form-error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Joining…' : 'Join and sign in'}
            </button>
          </>
        )}
      </form>
    </main>
  )
}
