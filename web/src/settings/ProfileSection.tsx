// Settings → Your profile (issue 13), for everyone: their name, and a new password (the
// current one required; their other sessions are signed out, this one stays).
import type { TargetedEvent } from 'preact'
import { useState } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { teamError, updateProfile } from './actions.ts'

type Outcome = { ok: true; text: string } | { ok: false; text: string } | null

function useForm(fn: (f: FormData, form: HTMLFormElement) => Promise<string>) {
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome>(null)
  const onSubmit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = e.currentTarget
    setBusy(true)
    setOutcome(null)
    try {
      setOutcome({ ok: true, text: await fn(new FormData(form), form) })
    } catch (err) {
      setOutcome({ ok: false, text: err instanceof Error && !('code' in err) ? err.message : teamError(err) })
    } finally {
      setBusy(false)
    }
  }
  return { busy, outcome, onSubmit }
}

function Outcome({ outcome }: { outcome: Outcome }) {
  if (!outcome) return null
  return outcome.ok ? (
    <p class="form-ok" role="status">
      {outcome.text}
    </p>
  ) : (
    <p class="form-error" role="alert">
      {outcome.text}
    </p>
  )
}

const str = (f: FormData, k: string) => String(f.get(k) ?? '')

export function ProfileSection() {
  const app = useApp()
  const me = app.user.value
  const name = useForm(async (f) => {
    await updateProfile(app, { name: str(f, 'name').trim() })
    return 'Your name is saved.'
  })
  const password = useForm(async (f, form) => {
    const next = str(f, 'password')
    if (next !== str(f, 'confirm')) throw new Error('The two new passwords are not the same.')
    const ended = await updateProfile(app, { password: next, currentPassword: str(f, 'currentPassword') })
    form.reset()
    return ended > 0
      ? `Password changed. ${ended} other session${ended === 1 ? ' was' : 's were'} signed out; this one stays.`
      : 'Password changed.'
  })
  if (!me) return null
  return (
    <section aria-labelledby="profile-heading" class="profile">
      <h2 id="profile-heading">Your profile</h2>
      <p class="hint">
        Signed in as <strong>{me.email}</strong> ({me.role === 'admin' ? 'admin' : 'agent'}).
      </p>
      <form class="settings-card" aria-label="Your name" onSubmit={name.onSubmit}>
        <label>
          <span>Name</span>
          <input name="name" defaultValue={me.name} required maxLength={100} autoComplete="name" />
        </label>
        <Outcome outcome={name.outcome} />
        <div class="settings-actions">
          <button type="submit" class="primary" disabled={name.busy}>
            {name.busy ? 'Saving…' : 'Save name'}
          </button>
        </div>
      </form>
      <form class="settings-card" aria-label="Change password" onSubmit={password.onSubmit}>
        <h3>Change password</h3>
        <input type="hidden" name="email" value={me.email} autoComplete="username" />
        <label>
          <span>Current password</span>
          <input name="currentPassword" type="password" required autoComplete="current-password" maxLength={1024} />
        </label>
        <label>
          <span>New password (at least 8 characters)</span>
          <input name="password" type="password" required minLength={8} maxLength={1024} autoComplete="new-password" />
        </label>
        <label>
          <span>The same again</span>
          <input name="confirm" type="password" required minLength={8} maxLength={1024} autoComplete="new-password" />
        </label>
        <p class="hint">Your other devices and browsers are signed out; this one stays signed in.</p>
        <Outcome outcome={password.outcome} />
        <div class="settings-actions">
          <button type="submit" class="primary" disabled={password.busy}>
            {password.busy ? 'Saving…' : 'Change password'}
          </button>
        </div>
      </form>
    </section>
  )
}
