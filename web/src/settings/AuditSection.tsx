// Settings → Audit log (issue 16), admins only: who did what — sign-ins and failures,
// two-factor changes, invitations, roles and channels, channel credentials (which field,
// never the value), exports — newest first, 50 at a time ("Older entries"), and Export
// (CSV, itself recorded). Everything shown is text. The entries load when asked for ("Show
// entries"), not with every visit to the settings.
import { useState } from 'preact/hooks'
import { auditLog, securityError, type AuditEntry } from './security-actions.ts'
import './security.css'

// What each action is called on the page; an action not named here is shown as written.
const ACTIONS: Record<string, string> = {
  'auth.login': 'Signed in',
  'auth.login_failed': 'Sign-in failed',
  'auth.locked_out': 'Locked out after repeated failures',
  '2fa.enabled': 'Turned on two-factor sign-in',
  '2fa.disabled': 'Turned off two-factor sign-in',
  '2fa.recovery_used': 'Used a recovery code',
  '2fa.recovery_codes_regenerated': 'Made new recovery codes',
  '2fa.requirement_changed': 'Changed "require two-factor"',
  'user.invited': 'Invited someone',
  'user.role_changed': 'Changed a role',
  'user.channels_changed': "Changed someone's channels",
  'user.disabled': 'Deactivated someone',
  'user.enabled': 'Reactivated someone',
  'user.password_reset_link': 'Made a password reset link',
  'channel.created': 'Added a channel',
  'channel.updated': 'Changed a channel',
  'channel.credentials_changed': "Changed a channel's credentials",
  'channel.deleted': 'Deleted a channel',
  'report.exported': 'Exported a report',
  'transcript.exported': 'Exported a transcript',
  'audit.exported': 'Exported the audit log',
}

const when = (at: number) => new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
const actorOf = (e: AuditEntry) => e.actor.name ?? e.actor.label ?? (e.actor.userId === null ? 'Parley' : `User ${e.actor.userId}`)
const detailOf = (e: AuditEntry) =>
  [e.target ? `${e.target.type} ${e.target.id}` : '', e.detail ? JSON.stringify(e.detail) : ''].filter(Boolean).join(' · ')

export function AuditSection() {
  const [entries, setEntries] = useState<AuditEntry[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [loaded, setLoaded] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const load = async (cursor: string | null) => {
    setBusy(true)
    setError(null)
    try {
      const page = await auditLog.page(cursor)
      setEntries((old) => (cursor ? [...old, ...page.entries] : page.entries))
      setNext(page.nextCursor)
      setLoaded(true)
    } catch (e) {
      setError(securityError(e))
    } finally {
      setBusy(false)
    }
  }
  const exportCsv = async () => {
    setError(null)
    try {
      await auditLog.exportCsv()
    } catch (e) {
      setError(securityError(e))
    }
  }
  return (
    <section aria-labelledby="audit-heading" data-audit-log={loaded ? 'ready' : 'loading'}>
      <h2 id="audit-heading">Audit log</h2>
      <p class="hint">Sign-ins, two-factor changes, people, channels and exports, newest first. Secrets are never written here.</p>
      <div class="settings-actions">
        <button type="button" onClick={() => void load(null)} disabled={busy}>
          {loaded ? 'Refresh' : 'Show entries'}
        </button>
        <button type="button" class="primary" onClick={() => void exportCsv()} data-audit-export>
          Export CSV
        </button>
      </div>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {loaded && (
        <table class="audit-table">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Details</th>
              <th scope="col">Address</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-audit-entry={e.action}>
                <td>{when(e.at)}</td>
                <td>{actorOf(e)}</td>
                <td>{ACTIONS[e.action] ?? e.action}</td>
                <td class="audit-detail">{detailOf(e)}</td>
                <td>{e.ip ?? ''}</td>
              </tr>
            ))}
            {loaded && entries.length === 0 && (
              <tr>
                <td colSpan={5} class="hint">
                  Nothing recorded yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {next && (
        <div class="settings-actions">
          <button type="button" onClick={() => void load(next)} disabled={busy} data-audit-more>
            {busy ? 'Loading…' : 'Older entries'}
          </button>
        </div>
      )}
    </section>
  )
}
