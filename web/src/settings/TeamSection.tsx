// Settings → Team (issue 13), for admins: invite someone (email, role, channels; the link
// is shown once to copy, and mailed when the server can), the pending invitations with
// Revoke, and the people: role, channels, deactivate / reactivate, a reset link.
import type { TargetedEvent } from 'preact'
import { useState } from 'preact/hooks'
import type { ChannelPublic } from '../api/http.ts'
import type { NewInvitation, Role, TeamUserDTO } from '../api/team.ts'
import { channelTitle } from '../lib/channels.ts'
import { useApp } from '../state/context.ts'
import { invite, issueResetLink, loadTeam, revokeInvitation, teamError, updateMember } from './actions.ts'
import { CopyField } from './CopyField.tsx'
import type { TeamState } from './team-state.ts'

const when = (ms: number) => new Date(ms).toLocaleString()

/** The team's state is the settings screen's (loaded there): the channels' members list the same people. */
export function TeamSection({ team }: { team: TeamState }) {
  return (
    <section aria-labelledby="team-heading" class="team">
      <h2 id="team-heading">Team</h2>
      <p class="hint">
        Admins manage everything; agents work the conversations of their channels and edit contacts. Invite someone with a link that works
        once, for 7 days.
      </p>
      <InviteForm team={team} />
      <PendingInvitations team={team} />
      {team.status.value === 'error' && (
        <p class="form-error" role="alert">
          The team could not be loaded.{' '}
          <button type="button" class="link" onClick={() => loadTeam(team).catch(() => {})}>
            Try again
          </button>
        </p>
      )}
      <People team={team} />
    </section>
  )
}

function ChannelChecks({
  channels,
  checked,
  label,
  onChange,
  disabled,
}: {
  channels: ChannelPublic[]
  checked: readonly number[]
  label: (c: ChannelPublic) => string
  onChange: (ids: number[]) => void
  disabled?: boolean
}) {
  if (channels.length === 0) return <span class="hint">No channel yet</span>
  return (
    <span class="channel-checks">
      {channels.map((c) => (
        <label key={c.id} class="inline">
          <input
            type="checkbox"
            aria-label={label(c)}
            checked={checked.includes(c.id)}
            disabled={disabled}
            onChange={(e) => onChange(e.currentTarget.checked ? [...checked, c.id] : checked.filter((id) => id !== c.id))}
          />{' '}
          {channelTitle(c)}
        </label>
      ))}
    </span>
  )
}

function InviteForm({ team }: { team: TeamState }) {
  const app = useApp()
  const [email, setEmail] = useState('')
  const [role, setRole] = useState<Role>('agent')
  const [channelIds, setChannelIds] = useState<number[]>([])
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [made, setMade] = useState<NewInvitation | null>(null)
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    setMade(null)
    try {
      setMade(await invite(team, { email: email.trim(), role, channelIds: role === 'admin' ? [] : channelIds }))
      setEmail('')
      setChannelIds([])
    } catch (err) {
      setError(teamError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="settings-card invite-form" aria-label="Invite someone" onSubmit={submit}>
      <h3>Invite someone</h3>
      <label>
        <span>Email</span>
        <input name="email" type="email" required maxLength={254} value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </label>
      <label>
        <span>Role</span>
        <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          <option value="agent">Agent</option>
          <option value="admin">Admin</option>
        </select>
      </label>
      {role === 'agent' ? (
        <fieldset class="channels-field">
          <legend>Channels</legend>
          <ChannelChecks channels={app.channels.value} checked={channelIds} label={(c) => `Invite to ${c.name}`} onChange={setChannelIds} />
        </fieldset>
      ) : (
        <p class="hint">Admins see every channel.</p>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {made && (
        <div class="link-once" role="status">
          <p>
            Invitation for <strong>{made.email}</strong> ready. Copy the link now: it is shown only this once, and works once until{' '}
            {when(made.expiresAt)}.{app.mail.value ? ' It was also mailed.' : ''}
          </p>
          <CopyField label="Invitation link" value={made.url} attrs={{ 'data-invite-url': '' }} />
        </div>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Inviting…' : 'Invite'}
        </button>
      </div>
    </form>
  )
}

function PendingInvitations({ team }: { team: TeamState }) {
  const list = team.invitations.value
  const [error, setError] = useState<string | null>(null)
  if (list.length === 0) return null
  return (
    <div class="settings-card">
      <h3>Pending invitations</h3>
      <ul class="pending-invitations" aria-label="Pending invitations">
        {list.map((i) => (
          <li key={i.id} data-invitation-id={i.id}>
            <span class="invite-email">{i.email}</span> <span class="hint">{i.role}</span>{' '}
            <span class="hint">· until {when(i.expiresAt)}</span>{' '}
            <button
              type="button"
              class="chip"
              aria-label={`Revoke the invitation for ${i.email}`}
              onClick={() => revokeInvitation(team, i.id).catch((e) => setError(teamError(e)))}
            >
              Revoke
            </button>
          </li>
        ))}
      </ul>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}

function People({ team }: { team: TeamState }) {
  const users = team.users.value
  if (users.length === 0) return null
  return (
    <div class="settings-card people">
      <h3>People</h3>
      <table aria-label="People">
        <thead>
          <tr>
            <th scope="col">Person</th>
            <th scope="col">Role</th>
            <th scope="col">Channels</th>
            <th scope="col">State</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <PersonRow key={u.id} team={team} u={u} />
          ))}
        </tbody>
      </table>
    </div>
  )
}

const AVAILABILITY = { online: 'Online', busy: 'Busy', away: 'Away' } as const

function PersonRow({ team, u }: { team: TeamState; u: TeamUserDTO }) {
  const app = useApp()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [link, setLink] = useState<{ url: string; expiresAt: number } | null>(null)
  const me = app.user.value?.id === u.id
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true)
    setError(null)
    try {
      await fn()
    } catch (e) {
      setError(teamError(e))
    } finally {
      setBusy(false)
    }
  }
  const who = u.name || u.email
  return (
    <>
      <tr data-user-id={u.id} class={u.disabled ? 'disabled' : undefined}>
        <td>
          <strong>{u.name}</strong>
          {me && <span class="hint"> (you)</span>}
          <br />
          <span class="hint">{u.email}</span>
        </td>
        <td>
          <select
            aria-label={`Role of ${who}`}
            value={u.role}
            disabled={busy}
            onChange={(e) => {
              const role = e.currentTarget.value as Role
              e.currentTarget.value = u.role // shown as changed once the server agrees
              void run(() => updateMember(app, team, u.id, { role }))
            }}
          >
            <option value="agent">Agent</option>
            <option value="admin">Admin</option>
          </select>
        </td>
        <td>
          {u.role === 'admin' ? (
            <span class="hint">All channels</span>
          ) : (
            <ChannelChecks
              channels={app.channels.value}
              checked={u.channelIds}
              label={(c) => `${c.name} for ${who}`}
              disabled={busy}
              onChange={(channelIds) => void run(() => updateMember(app, team, u.id, { channelIds }))}
            />
          )}
        </td>
        <td data-state>{u.disabled ? 'Deactivated' : AVAILABILITY[u.availability]}</td>
        <td class="row-actions">
          <button
            type="button"
            class="chip"
            disabled={busy}
            aria-label={`${u.disabled ? 'Reactivate' : 'Deactivate'} ${who}`}
            onClick={() => void run(() => updateMember(app, team, u.id, { disabled: !u.disabled }))}
          >
            {u.disabled ? 'Reactivate' : 'Deactivate'}
          </button>
          {!u.disabled && !me && (
            <button
              type="button"
              class="chip"
              disabled={busy}
              aria-label={`Reset link for ${who}`}
              onClick={() => void run(async () => setLink(await issueResetLink(u.id)))}
            >
              Reset link
            </button>
          )}
        </td>
      </tr>
      {(error || link) && (
        <tr class="row-note">
          <td colSpan={5}>
            {error && (
              <p class="form-error" role="alert">
                {error}
              </p>
            )}
            {link && (
              <div class="link-once" role="status">
                <p>
                  A password reset link for {who}, shown only now; it works once until {when(link.expiresAt)}.
                </p>
                <CopyField label={`Reset link for ${who}`} value={link.url} attrs={{ 'data-reset-url': '' }} />
              </div>
            )}
          </td>
        </tr>
      )}
    </>
  )
}
