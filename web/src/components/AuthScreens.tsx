// Loaded on demand (Root.tsx, lib/lazy.tsx): a signed-in agent's inbox never needs these
// screens, so they stay out of its initial JavaScript (test/web-budget.test.ts).
// First run (create the admin), login with "Forgot password?" when the server can mail,
// a password reset link, an invitation link (issue 13), and signing in again over the
// page when the session ends. Errors from the server are shown as text.
import { useEffect, useState } from 'preact/hooks'
import type { ComponentChildren, TargetedEvent } from 'preact'
import { useApp } from '../state/context.ts'
import { ApiError } from '../api/client.ts'
import { INVITE_PATH, RESET_PASSWORD_PATH } from '../lib/auth-paths.ts'
import { RecoveryCodes, TwoFactorSetup } from '../settings/TwoFactorSection.tsx'

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

type LoginStep =
  | { kind: 'password' }
  /** Issue 16: the password was right and the account has two-factor sign-in on. */
  | { kind: 'code'; email: string; password: string }
  /** Issue 16: the workspace requires two-factor sign-in and this person has none yet. */
  | { kind: 'setup'; setupToken: string }

/** The second step's answers (TOTP_REQUIRED, TOTP_SETUP_REQUIRED) as the step to show, else rethrown. */
function secondStep(e: unknown, email: string, password: string): LoginStep {
  if (e instanceof ApiError && e.code === 'TOTP_REQUIRED') return { kind: 'code', email, password }
  const setupToken = (e instanceof ApiError && e.code === 'TOTP_SETUP_REQUIRED' && (e.body as { setupToken?: string })?.setupToken) || ''
  if (setupToken) return { kind: 'setup', setupToken }
  throw e
}

export function LoginScreen() {
  const app = useApp()
  const [forgot, setForgot] = useState(false)
  const [step, setStep] = useState<LoginStep>({ kind: 'password' })
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const email = str(f, 'email')
    const password = str(f, 'password')
    await app.login(email, password).catch((e: unknown) => setStep(secondStep(e, email, password)))
  })
  if (step.kind === 'code') return <CodeStep onCode={(second) => app.login(step.email, step.password, second)} />
  if (step.kind === 'setup') return <SetupStep setupToken={step.setupToken} />
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

type SecondFactor = { totp: string } | { recoveryCode: string }

/** Issue 16: the code from the authenticator app, or one recovery code. */
function CodeForm({ onCode, children }: { onCode: (second: SecondFactor) => Promise<void>; children?: ComponentChildren }) {
  const [recovery, setRecovery] = useState(false)
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const v = str(f, 'code').trim()
    await onCode(recovery ? { recoveryCode: v } : { totp: v })
  })
  return (
    <form class="auth-card" onSubmit={onSubmit} aria-labelledby="code-title" data-totp-step>
      <h1 id="code-title">Two-factor sign-in</h1>
      {children}
      <label>
        {recovery ? 'One of your recovery codes' : 'The 6-digit code from your authenticator app'}
        <input
          key={recovery ? 'recovery' : 'totp'}
          name="code"
          autoComplete={recovery ? 'off' : 'one-time-code'}
          inputMode={recovery ? 'text' : 'numeric'}
          required
          maxLength={32}
          autoFocus
        />
      </label>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Checking…' : 'Sign in'}
      </button>
      <button type="button" class="link" onClick={() => setRecovery(!recovery)}>
        {recovery ? 'Use the code from my app' : 'Lost your phone? Use a recovery code'}
      </button>
    </form>
  )
}

function CodeStep({ onCode }: { onCode: (second: SecondFactor) => Promise<void> }) {
  return (
    <main class="auth">
      <CodeForm onCode={onCode} />
    </main>
  )
}

/** Issue 16: the workspace requires two-factor sign-in: set it up (with the setup-only token), keep the codes, go in. */
function SetupStep({ setupToken }: { setupToken: string }) {
  const [codes, setCodes] = useState<string[] | null>(null)
  return (
    <main class="auth">
      <div class="auth-card auth-wide" data-totp-setup-step>
        <h1>Set up two-factor sign-in</h1>
        <p>This workspace asks everyone to sign in with a code from an authenticator app as well as their password.</p>
        {codes ? (
          <RecoveryCodes codes={codes} onDone={() => location.assign('/')} />
        ) : (
          <TwoFactorSetup setupToken={setupToken} onEnabled={setCodes} />
        )}
      </div>
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
 * Sign in again over the page: after an ended session (a 401 anywhere, the stream
 * refused) or before it ends. The same person carries on where they were — the open
 * conversation, the draft, the stream from its cursor; app.reauthenticate.
 */
export function SignInAgain() {
  const app = useApp()
  const mode = app.reauth.value
  const [step, setStep] = useState<LoginStep>({ kind: 'password' })
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const email = str(f, 'email')
    const password = str(f, 'password')
    await app.reauthenticate(email, password).catch((e: unknown) => setStep(secondStep(e, email, password)))
  })
  // A required setup cannot happen over the page: the full sign-in does it.
  if (step.kind === 'setup') location.assign('/')
  if (step.kind === 'code')
    return (
      <div class="modal-backdrop" role="dialog" aria-modal="true" aria-label="Two-factor sign-in">
        <CodeForm onCode={(second) => app.reauthenticate(step.email, step.password, second)} />
      </div>
    )
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

// A password reset link (`npm run admin -- reset-password`) opens /reset-password#token=…
// and an invitation link (issue 13) /invite#token=…: the fragment never reaches the
// server, and the page posts the token in a body. It is read once and dropped from the
// address bar and history. Both pages are one ChoosePasswordPage with their own texts.

function takeToken(path: string): string {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''
  if (location.hash) history.replaceState(null, '', path)
  return token
}

const describeRefusal = (err: unknown) =>
  err instanceof ApiError
    ? err.status === 0
      ? 'The server could not be reached. Check your connection and open the link again.'
      : err.status === 429
        ? 'Too many attempts. Wait a minute and open the link again.'
        : err.message
    : String(err)

type LinkState<L> = { kind: 'checking' } | { kind: 'form'; link: L } | { kind: 'refused'; message: string }

/** What differs between the pages that end in choosing a password; the rest is ChoosePasswordPage. */
interface ChoosePasswordProps<L extends { email: string }> {
  /** The page's path (the token is dropped from it) and its ids: `${name}-title`, `data-${name}-refused`. */
  path: string
  name: string
  title: string
  checking: string
  /** Shown when the page is opened without a token. */
  noToken: string
  /** Whether the link works, and for whom (its email is the account's). */
  check: (token: string) => Promise<L>
  /** Error codes starting so mean the link stopped working while the page was open: the form gives way to the reason. */
  retiredCodes: string
  intro: (link: L) => ComponentChildren
  /** Fields before the password (they take the focus then). */
  fields?: ComponentChildren
  passwordLabel: string
  /** Uses the link; the server signs the person in (the session cookie). */
  submit: (token: string, link: L, password: string, form: FormData) => Promise<void>
  busyLabel: string
  submitLabel: string
}

/** A one-time link's page: checking it, the reason it does not work, or the form to choose a password. */
function ChoosePasswordPage<L extends { email: string }>(props: ChoosePasswordProps<L>) {
  const [token] = useState(() => takeToken(props.path))
  const [state, setState] = useState<LinkState<L>>(() => (token ? { kind: 'checking' } : { kind: 'refused', message: props.noToken }))
  useEffect(() => {
    if (!token) return
    props.check(token).then(
      (link) => setState({ kind: 'form', link }),
      (err: unknown) => setState({ kind: 'refused', message: describeRefusal(err) }),
    )
  }, [token])
  const link = state.kind === 'form' ? state.link : undefined
  const { busy, error, onSubmit } = useSubmit(async (f) => {
    const password = str(f, 'password')
    if (password !== str(f, 'confirm')) throw new Error('The two passwords are not the same.')
    try {
      await props.submit(token, link!, password, f)
    } catch (err) {
      if (err instanceof ApiError && err.code.startsWith(props.retiredCodes)) setState({ kind: 'refused', message: err.message })
      throw err
    }
    // A full load starts the inbox clean.
    location.replace('/')
  })
  const titleId = `${props.name}-title`
  return (
    <main class="auth">
      <form class="auth-card" onSubmit={onSubmit} aria-labelledby={titleId}>
        <h1 id={titleId}>{props.title}</h1>
        {state.kind === 'checking' && <p role="status">{props.checking}</p>}
        {state.kind === 'refused' && (
          <>
            <p class="form-error" role="alert" {...{ [`data-${props.name}-refused`]: true }}>
              {state.message}
            </p>
            <a href="/">Go to sign in</a>
          </>
        )}
        {link && (
          <>
            {props.intro(link)}
            <input type="hidden" name="email" value={link.email} autoComplete="username" />
            {props.fields}
            <label>
              {props.passwordLabel}
              <input
                name="password"
                type="password"
                autoComplete="new-password"
                required
                minLength={8}
                maxLength={1024}
                autoFocus={!props.fields}
              />
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
              {busy ? props.busyLabel : props.submitLabel}
            </button>
          </>
        )}
      </form>
    </main>
  )
}

export function ResetPasswordScreen() {
  const app = useApp()
  return (
    <ChoosePasswordPage
      path={RESET_PASSWORD_PATH}
      name="reset"
      title="Choose a new password"
      checking="Checking the link…"
      noToken="This page opens from a password reset link. Ask your administrator for a new one."
      check={app.checkResetLink}
      retiredCodes="RESET_LINK_"
      intro={({ email }) => (
        <p>
          For <strong>{email}</strong>. Every device signed in to this account will be signed out.
        </p>
      )}
      passwordLabel="New password (at least 8 characters)"
      submit={(token, { email }, password) => app.resetPassword(token, email, password)}
      busyLabel="Saving…"
      submitLabel="Save and sign in"
    />
  )
}

export function InviteScreen() {
  const app = useApp()
  // Issue 16: the workspace requires two-factor sign-in: the account exists, set it up next.
  const [setupToken, setSetupToken] = useState<string | null>(null)
  if (setupToken) return <SetupStep setupToken={setupToken} />
  return (
    <ChoosePasswordPage
      path={INVITE_PATH}
      name="invite"
      title="Join your team on Parley"
      checking="Checking the invitation…"
      noToken="This page opens from an invitation link. Ask your admin for one."
      check={app.checkInvitation}
      retiredCodes="INVITATION_"
      intro={(invitation) => (
        <>
          <p data-invite-from>
            <strong>{invitation.invitedBy}</strong> invited you to <strong>{invitation.workspace}</strong> as{' '}
            {invitation.role === 'admin' ? 'an admin' : 'an agent'}.
          </p>
          <p>
            You will sign in as <strong>{invitation.email}</strong>.
          </p>
        </>
      )}
      fields={
        <label>
          Your name
          <input name="name" autoComplete="name" required maxLength={100} autoFocus />
        </label>
      }
      passwordLabel="Password (at least 8 characters)"
      submit={(token, _invitation, password, f) =>
        app.acceptInvitation(token, str(f, 'name').trim(), password).catch((e: unknown) => {
          const step = secondStep(e, '', '')
          if (step.kind === 'setup') setSetupToken(step.setupToken)
          // Never settles: the setup step replaces this page.
          return new Promise<void>(() => {})
        })
      }
      busyLabel="Joining…"
      submitLabel="Join and sign in"
    />
  )
}
