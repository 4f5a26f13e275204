// "Only the assignee can reply" (issue 14), on a channel's card in Settings → Channels
// (admins), beside automatic assignment: saved as soon as it is switched. When on,
// everyone but a conversation's assignee — admins too — is refused a reply and offered
// "Assign to me" (the composer's banner, components/SendGuard.tsx).
import { useState } from 'preact/hooks'
import type { ChannelPublic } from '../api/http.ts'
import { useApp } from '../state/context.ts'
import { channelError, updateChannel } from './actions.ts'
import './assignee-only.css'

export function AssigneeOnlySwitch({ c }: { c: ChannelPublic }) {
  const app = useApp()
  // What the admin chose, shown at once while it is saved (undefined: the saved value).
  const [saving, setSaving] = useState<boolean | undefined>(undefined)
  const [error, setError] = useState<string | null>(null)
  const busy = saving !== undefined
  const on = saving ?? c.assigneeOnly === true
  const toggle = async (next: boolean) => {
    setSaving(next)
    setError(null)
    try {
      await updateChannel(app, c.id, { assigneeOnly: next })
    } catch (err) {
      setError(channelError(err))
    } finally {
      setSaving(undefined)
    }
  }
  return (
    <div class="channel-assignee-only" data-assignee-only={c.id}>
      <label class="inline switch">
        <input type="checkbox" name="assigneeOnly" checked={on} disabled={busy} onChange={(e) => void toggle(e.currentTarget.checked)} />{' '}
        <strong>Only the assignee can reply</strong>
        <span class={on ? 'state on' : 'state off'} data-state={busy ? 'saving' : on ? 'on' : 'off'}>
          {on ? 'On' : 'Off'}
        </span>
      </label>
      <p class="hint">Anyone else — admins too — is asked to assign the conversation to themselves first. Notes are never blocked.</p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
