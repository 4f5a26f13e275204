// Settings → Two-factor sign-in (issue 16), for everyone: set it up with an authenticator
// app (the otpauth:// URL and the secret as text to copy or type in — no QR code), confirm
// with a code, keep the 10 recovery codes (shown once); new recovery codes or turning it
// off ask for the password or a code. Admins also switch "Require two-factor for everyone".
// TwoFactorSetup is also the sign-in screen's step when the workspace requires it.
import type { TargetedEvent } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { CopyField } from './CopyField.tsx'
import './security.css'
import { securityError, twoFactor, type Proof, type TwoFactorSetup as SetupInfo, type TwoFactorStatus } from './security-actions.ts'

/** The recovery codes, shown once, with a Copy button for all of them. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState(false)
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(codes.join('\n'))
      setCopied(true)
    } catch {
      setCopied(false)
    }
  }
  return (
    <div class="settings-card" data-recovery-codes>
      <h3>Your recovery codes</h3>
      <p class="hint">
        Each one signs you in once if you lose your phone. Keep them somewhere safe (a password manager): they are not shown again.
      </p>
      <ol class="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div class="settings-actions">
        <button type="button" class="chip" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy all'}
        </button>
        <button type="button" class="primary" onClick={onDone}>
          I have saved them
        </button>
      </div>
    </div>
  )
}

/** Setup: the secret for the app, then a code from it; `setupToken` at a sign-in that requires it. */
export function TwoFactorSetup({ setupToken, onEnabled }: { setupToken?: string; onEnabled: (codes: string[]) => void }) {
  const [info, setInfo] = useState<SetupInfo | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => {
    twoFactor.setup(setupToken).then(setInfo, (e) => setError(securityError(e)))
  }, [])
  const onSubmit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    const code = String(new FormData(e.currentTarget).get('code') ?? '').trim()
    setBusy(true)
    setError(null)
    try {
      onEnabled((await twoFactor.enable(code, setupToken)).recoveryCodes)
    } catch (err) {
      setError(securityError(err))
      setBusy(false)
    }
  }
  return (
    <form class="settings-card two-factor-setup" aria-label="Set up two-factor sign-in" onSubmit={onSubmit}>
      <p class="hint">
        1. In your authenticator app (Google Authenticator, 1Password, Authy, …) add an account with this setup key, or open the link on the
        phone that has the app.
      </p>
      {info && (
        <>
          <CopyField label="Setup key" value={info.secret} attrs={{ 'data-2fa-secret': '' }} />
          <CopyField label="otpauth link" value={info.otpauthUrl} attrs={{ 'data-2fa-url': '' }} />
        </>
      )}
      <label>
        <span>2. The 6-digit code the app shows</span>
        <input name="code" inputMode="numeric" autoComplete="one-time-code" required pattern="\s*\d{3}\s*\d{3}\s*" maxLength={8} />
      </label>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy || !info}>
          {busy ? 'Checking…' : 'Turn on two-factor sign-in'}
        </button>
      </div>
    </form>
  )
}

/** A password or a code confirms a change; `label` names the button. */
function ConfirmForm({ label, name, onProof }: { label: string; name: string; onProof: (p: Proof) => Promise<void> }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const onSubmit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    const v = String(new FormData(e.currentTarget).get('proof') ?? '').trim()
    setBusy(true)
    setError(null)
    try {
      // Digits (6) or a recovery code (xxxxx-xxxxx) are codes; anything else is the password.
      await onProof(/^\d{6}$|^[a-z0-9]{5}-[a-z0-9]{5}$/i.test(v) ? { code: v } : { password: v })
    } catch (err) {
      setError(securityError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="settings-card" aria-label={label} onSubmit={onSubmit} data-2fa-form={name}>
      <label>
        <span>Your password, or a code from your app</span>
        <input name="proof" type="password" required maxLength={1024} autoComplete="current-password" />
      </label>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class={name === 'disable' ? 'danger' : 'primary'} disabled={busy}>
          {label}
        </button>
      </div>
    </form>
  )
}

export function TwoFactorSection() {
  const app = useApp()
  const admin = app.user.value?.role === 'admin'
  const [status, setStatus] = useState<TwoFactorStatus | null>(null)
  const [mode, setMode] = useState<'idle' | 'setup' | 'codes' | 'disable' | 'regenerate'>('idle')
  const [codes, setCodes] = useState<string[]>([])
  const [error, setError] = useState<string | null>(null)
  const reload = () => twoFactor.status().then(setStatus, (e) => setError(securityError(e)))
  useEffect(() => void reload(), [])
  const showCodes = (c: string[]) => {
    setCodes(c)
    setMode('codes')
    void reload()
  }

  return (
    <section aria-labelledby="two-factor-heading" data-two-factor={status ? (status.enabled ? 'on' : 'off') : 'loading'}>
      <h2 id="two-factor-heading">Two-factor sign-in</h2>
      <p class="hint">
        Besides your password, signing in asks for a code from an authenticator app on your phone, so a stolen password alone is not enough.
      </p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {status && mode !== 'codes' && (
        <p role="status" data-2fa-status>
          {status.enabled
            ? `On. ${status.recoveryCodesLeft} recovery code${status.recoveryCodesLeft === 1 ? '' : 's'} left.`
            : status.required
              ? 'Off — this workspace requires it: set it up now, or your next sign-in will ask you to.'
              : 'Off.'}
        </p>
      )}
      {mode === 'codes' && <RecoveryCodes codes={codes} onDone={() => setMode('idle')} />}
      {mode === 'setup' && <TwoFactorSetup onEnabled={showCodes} />}
      {mode === 'disable' && (
        <ConfirmForm
          label="Turn off two-factor sign-in"
          name="disable"
          onProof={async (p) => {
            await twoFactor.disable(p)
            setMode('idle')
            await reload()
          }}
        />
      )}
      {mode === 'regenerate' && (
        <ConfirmForm
          label="Make new recovery codes"
          name="regenerate"
          onProof={async (p) => showCodes((await twoFactor.regenerate(p)).recoveryCodes)}
        />
      )}
      {status && mode === 'idle' && (
        <div class="settings-actions">
          {status.enabled ? (
            <>
              <button type="button" onClick={() => setMode('regenerate')}>
                New recovery codes
              </button>
              <button type="button" class="danger" onClick={() => setMode('disable')}>
                Turn off
              </button>
            </>
          ) : (
            <button type="button" class="primary" onClick={() => setMode('setup')}>
              Set up two-factor sign-in
            </button>
          )}
        </div>
      )}
      {admin && status && <RequireSwitch initial={status.required} />}
    </section>
  )
}

/** Admins: require two-factor sign-in of everyone (saved when switched). */
function RequireSwitch({ initial }: { initial: boolean }) {
  const [on, setOn] = useState(initial)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const toggle = async (next: boolean) => {
    setBusy(true)
    setError(null)
    try {
      setOn((await twoFactor.setRequired(next)).required)
    } catch (e) {
      setError(securityError(e))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="settings-card" data-2fa-required={on ? 'on' : 'off'}>
      <label class="inline switch">
        <input type="checkbox" name="require2fa" checked={on} disabled={busy} onChange={(e) => void toggle(e.currentTarget.checked)} />{' '}
        <strong>Require two-factor for everyone</strong>
      </label>
      <p class="hint">
        Whoever has not set it up is asked to at their next sign-in, before they reach the inbox. Sessions already open stay open.
      </p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
