// Settings → Labels (issue 14), for admins: the workspace's labels with a name and a colour
// (a small palette, or any colour); rename, recolour, and delete after a confirmation (it
// comes off every conversation). Every change reaches every open inbox live.
import type { TargetedEvent } from 'preact'
import { useState } from 'preact/hooks'
import { ApiError } from '../api/client.ts'
import type { LabelRef } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { createLabel, removeLabel, updateLabel } from '../state/label-edit.ts'
import '../components/labels.css'
import './labels-settings.css'

const PALETTE: ReadonlyArray<[string, string]> = [
  ['#dc2626', 'Red'],
  ['#ea580c', 'Orange'],
  ['#ca8a04', 'Yellow'],
  ['#16a34a', 'Green'],
  ['#0d9488', 'Teal'],
  ['#2563eb', 'Blue'],
  ['#7c3aed', 'Violet'],
  ['#db2777', 'Pink'],
  ['#64748b', 'Grey'],
]
const NAME_MAX = 40

/** A refusal in words an admin can act on (the server's codes: src/errors.ts). */
function labelError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  if (e.status === 0) return 'No connection to Parley.'
  if (e.code === 'LABEL_EXISTS') return 'There is already a label with this name.'
  return e.message
}

export function LabelsSection() {
  const app = useApp()
  const labels = app.labels.list.value
  return (
    <section aria-labelledby="labels-heading" class="labels-settings">
      <h2 id="labels-heading">Labels</h2>
      <p class="hint">
        Labels sort conversations (“VIP”, “Refund”): everyone who can see a conversation adds or removes them, and the inbox filters by
        them. Adding a label never marks a conversation unread.
      </p>
      <LabelForm key="new" label={null} onDone={() => {}} />
      {labels === null ? (
        <p class="hint">Loading…</p>
      ) : labels.length === 0 ? (
        <p class="hint">No labels yet.</p>
      ) : (
        <ul class="label-rows" aria-label="Labels">
          {labels.map((l) => (
            <LabelRow key={l.id} label={l} />
          ))}
        </ul>
      )}
    </section>
  )
}

function LabelRow({ label }: { label: LabelRef }) {
  const app = useApp()
  const [mode, setMode] = useState<'view' | 'edit' | 'confirm'>('view')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (mode === 'edit') {
    return (
      <li class="label-row editing" data-label-id={label.id}>
        <LabelForm label={label} onDone={() => setMode('view')} />
      </li>
    )
  }
  const remove = async () => {
    setBusy(true)
    setError(null)
    try {
      await removeLabel(app.labels, label.id)
    } catch (e) {
      setError(labelError(e))
      setBusy(false)
    }
  }
  return (
    <li class="label-row" data-label-id={label.id} aria-label={label.name}>
      <span class="label-chip">
        <span class="label-dot" style={{ background: label.color }} aria-hidden="true" />
        <span class="label-name">{label.name}</span>
      </span>
      <span class="hint mono">{label.color}</span>
      {mode === 'confirm' ? (
        <span class="label-confirm">
          <span>Delete “{label.name}”? It comes off every conversation.</span>
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
            Delete
          </button>
          <button type="button" class="chip" onClick={() => setMode('view')}>
            Keep it
          </button>
        </span>
      ) : (
        <span class="row-actions">
          <button type="button" class="chip" aria-label={`Edit ${label.name}`} onClick={() => setMode('edit')}>
            Rename or recolour
          </button>
          <button type="button" class="chip" aria-label={`Delete ${label.name}`} onClick={() => setMode('confirm')}>
            Delete
          </button>
        </span>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </li>
  )
}

/** New (label null) or edit: a name and a colour. */
function LabelForm({ label, onDone }: { label: LabelRef | null; onDone: () => void }) {
  const app = useApp()
  const [name, setName] = useState(label?.name ?? '')
  const [color, setColor] = useState(label?.color ?? PALETTE[5]![0])
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const prefix = label ? `label-${label.id}` : 'label-new'
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    const n = name.trim()
    if (!n) return setError('Give the label a name.')
    if ([...n].length > NAME_MAX) return setError(`A label name has at most ${NAME_MAX} characters.`)
    setBusy(true)
    setError(null)
    try {
      if (label) await updateLabel(app.labels, label.id, { name: n, color })
      else {
        await createLabel(app.labels, n, color)
        setName('')
      }
      setBusy(false)
      onDone()
    } catch (err) {
      setError(labelError(err))
      setBusy(false)
    }
  }
  return (
    <form class="label-form" noValidate aria-label={label ? `Edit ${label.name}` : 'New label'} onSubmit={(e) => void submit(e)}>
      <label>
        <span>{label ? 'Name' : 'New label'}</span>
        <input
          id={`${prefix}-name`}
          name="name"
          value={name}
          maxLength={NAME_MAX}
          placeholder="VIP"
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </label>
      <fieldset class="label-colors">
        <legend>Colour</legend>
        {PALETTE.map(([hex, title]) => (
          <label key={hex} class="swatch" title={title}>
            <input
              type="radio"
              name={`${prefix}-color`}
              value={hex}
              aria-label={title}
              checked={color === hex}
              onChange={() => setColor(hex)}
            />
            <span class="label-dot" style={{ background: hex }} aria-hidden="true" />
          </label>
        ))}
        <label class="swatch custom">
          <input type="color" aria-label="Another colour" value={color} onInput={(e) => setColor(e.currentTarget.value.toLowerCase())} />
          <span>Other</span>
        </label>
      </fieldset>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : label ? 'Save' : 'Add label'}
        </button>
        {label && (
          <button type="button" class="chip" onClick={onDone}>
            Cancel
          </button>
        )}
      </div>
    </form>
  )
}
