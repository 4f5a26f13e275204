// A channel's people and its automatic assignment (issue 13), on its card in Settings →
// Channels (admins only): who works its conversations (the team's active agents and
// admins, each with their role) and whether new ones go round robin to them. Changes
// are a draft until saved; the saved channel (members replaced) is what shows after.
import type { TargetedEvent } from 'preact'
import { useState } from 'preact/hooks'
import type { ChannelPublic } from '../api/http.ts'
import { useApp } from '../state/context.ts'
import { channelError, loadTeam, saveChannelAssignment } from './actions.ts'
import type { TeamState } from './team-state.ts'

interface Draft {
  autoAssign: boolean
  members: number[]
}

const ROLE_LABEL = { admin: 'Admin', agent: 'Agent' } as const

export function ChannelAssignment({ c, team }: { c: ChannelPublic; team: TeamState }) {
  const app = useApp()
  const [draft, setDraft] = useState<Draft | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const current: Draft = draft ?? { autoAssign: c.autoAssign, members: c.members ?? [] }
  const people = team.users.value.filter((u) => !u.disabled)
  // Deactivated people stay in the list they are in (hidden here): saving keeps them.
  const hidden = current.members.filter((id) => !people.some((u) => u.id === id)).length

  const change = (next: Partial<Draft>) => {
    setSaved(false)
    setError(null)
    setDraft({ ...current, ...next })
  }
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    if (!draft) return
    setBusy(true)
    setError(null)
    try {
      await saveChannelAssignment(app, team, c.id, draft)
      setDraft(null)
      setSaved(true)
    } catch (err) {
      setError(channelError(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="channel-assignment" aria-label={`Members and assignment of ${c.name}`} data-assignment={c.id} onSubmit={submit}>
      <label class="inline switch">
        <input
          type="checkbox"
          name="autoAssign"
          checked={current.autoAssign}
          disabled={busy}
          onChange={(e) => change({ autoAssign: e.currentTarget.checked })}
        />{' '}
        <strong>Automatic assignment</strong>
        <span class={current.autoAssign ? 'state on' : 'state off'} data-auto-assign={current.autoAssign ? 'on' : 'off'}>
          {current.autoAssign ? 'On' : 'Off'}
        </span>
      </label>
      <p class="hint">
        New conversations go round robin to the members who are online, up to each person's cap (Business hours → assignment cap).
      </p>
      <fieldset class="members-field">
        <legend>Members</legend>
        {team.status.value === 'loading' && people.length === 0 ? (
          <span class="hint" role="status">
            Loading the team…
          </span>
        ) : team.status.value === 'error' && people.length === 0 ? (
          <span class="form-error" role="alert">
            The team could not be loaded.{' '}
            <button type="button" class="link" onClick={() => loadTeam(team).catch(() => {})}>
              Try again
            </button>
          </span>
        ) : (
          <ul class="member-checks" aria-label={`Members of ${c.name}`}>
            {people.map((u) => (
              <li key={u.id} data-member-id={u.id}>
                <label class="inline">
                  <input
                    type="checkbox"
                    name="members"
                    value={u.id}
                    aria-label={`${u.name || u.email} works ${c.name}`}
                    checked={current.members.includes(u.id)}
                    disabled={busy}
                    onChange={(e) =>
                      change({
                        members: e.currentTarget.checked
                          ? [...current.members, u.id].sort((a, b) => a - b)
                          : current.members.filter((id) => id !== u.id),
                      })
                    }
                  />{' '}
                  {u.name || u.email} <span class="hint">{ROLE_LABEL[u.role]}</span>
                </label>
              </li>
            ))}
          </ul>
        )}
        {hidden > 0 && (
          <span class="hint">
            {hidden === 1 ? 'One deactivated person stays' : `${hidden} deactivated people stay`} in the list, without conversations.
          </span>
        )}
        {people.some((u) => u.role === 'admin') && (
          <span class="hint">Admins see every channel; ticked, they also take their turn in automatic assignment.</span>
        )}
      </fieldset>
      {current.autoAssign && current.members.length === 0 && (
        <p class="warn" role="note">
          Nobody is a member: automatic assignment has nobody to give conversations to.
        </p>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {saved && !draft && (
        <p class="form-ok" role="status">
          Saved.
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy || !draft}>
          {busy ? 'Saving…' : 'Save members and assignment'}
        </button>
        {draft && (
          <button type="button" class="chip" disabled={busy} onClick={() => setDraft(null)}>
            Discard changes
          </button>
        )}
      </div>
    </form>
  )
}
