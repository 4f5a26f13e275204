// Settings → Canned replies (issue 14). Everyone keeps their own replies here; admins
// also manage the shared ones (an agent sees those, read-only). Each reply has a
// shortcut for the composer's `/` list and may use variables; the help line lists them
// with the attributes the workspace's contacts have. A refusal from the server (an
// unknown variable, a shortcut taken) is shown next to the form that caused it.
import { useEffect, useState } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import {
  cannedError,
  deleteCannedReply,
  loadCannedReplies,
  loadCannedVariables,
  saveCannedReply,
  type CannedReplyDTO,
} from '../state/canned-actions.ts'
import './canned-settings.css'

type Editing = { id: number | null } | null

export function CannedRepliesSection() {
  const app = useApp()
  const admin = app.user.value?.role === 'admin'
  const [replies, setReplies] = useState<CannedReplyDTO[] | null>(null)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [attributes, setAttributes] = useState<string[]>([])
  const [editing, setEditing] = useState<Editing>(null)

  const reload = () =>
    loadCannedReplies().then(
      (list) => {
        setReplies(list)
        setLoadError(null)
      },
      (e) => setLoadError(cannedError(e)),
    )
  useEffect(() => {
    void reload()
    loadCannedVariables().then(
      (v) => setAttributes(v.attributes),
      () => {},
    )
  }, [])

  const own = (replies ?? []).filter((r) => !r.shared)
  const shared = (replies ?? []).filter((r) => r.shared)
  const list = (items: CannedReplyDTO[], editable: boolean, label: string) => (
    <ul class="canned-replies" aria-label={label}>
      {items.map((r) =>
        editing?.id === r.id ? (
          <li key={r.id} class="settings-card">
            <CannedForm
              reply={r}
              admin={admin}
              onDone={(saved) => {
                setEditing(null)
                if (saved) void reload()
              }}
            />
          </li>
        ) : (
          <CannedRow key={r.id} r={r} editable={editable} onEdit={() => setEditing({ id: r.id })} onDeleted={() => void reload()} />
        ),
      )}
      {items.length === 0 && <li class="hint">None yet.</li>}
    </ul>
  )

  return (
    <section aria-labelledby="canned-heading" class="canned-settings">
      <h2 id="canned-heading">Canned replies</h2>
      <p class="hint">
        Type <kbd>/</kbd> at the start of a message to pick one by its shortcut or words; it is put in the composer to edit, not sent.
      </p>
      <p class="hint" data-canned-help>
        Variables: {'{{contact.first_name}}'}, {'{{contact.name}}'}, {'{{contact.phone}}'}, {'{{contact.<attribute>}}'}, {'{{agent.name}}'}{' '}
        (you). A fallback after a bar is used when the contact has no value: {'{{contact.first_name | there}}'}.
        {attributes.length > 0 && <> Attributes your contacts have: {attributes.join(', ')}.</>}
      </p>
      {loadError && (
        <p class="form-error" role="alert">
          {loadError}
        </p>
      )}
      <h3>Your replies</h3>
      {replies !== null && list(own, true, 'Your canned replies')}
      <h3>Shared with the team</h3>
      {!admin && <p class="hint">Admins manage these.</p>}
      {replies !== null && list(shared, admin, 'Shared canned replies')}
      {editing?.id === null ? (
        <div class="settings-card">
          <CannedForm
            reply={null}
            admin={admin}
            onDone={(saved) => {
              setEditing(null)
              if (saved) void reload()
            }}
          />
        </div>
      ) : (
        <div class="settings-actions">
          <button type="button" class="primary" onClick={() => setEditing({ id: null })}>
            Add a canned reply
          </button>
        </div>
      )}
    </section>
  )
}

function CannedRow({
  r,
  editable,
  onEdit,
  onDeleted,
}: {
  r: CannedReplyDTO
  editable: boolean
  onEdit: () => void
  onDeleted: () => void
}) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  // Asked in the row itself (no browser dialog): a second button confirms.
  const [confirming, setConfirming] = useState(false)
  const remove = async () => {
    setBusy(true)
    try {
      await deleteCannedReply(r.id)
      onDeleted()
    } catch (e) {
      setError(cannedError(e))
      setBusy(false)
    }
  }
  return (
    <li class="canned-reply" data-canned-id={r.id} aria-label={`/${r.shortcut}`}>
      <strong class="canned-shortcut">/{r.shortcut}</strong>
      <p class="canned-reply-text">{r.text}</p>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {editable && (
        <div class="settings-actions">
          <button type="button" class="chip" onClick={onEdit} aria-label={`Edit /${r.shortcut}`}>
            Edit
          </button>
          {confirming ? (
            <>
              <button type="button" class="chip danger" disabled={busy} onClick={() => void remove()}>
                Yes, delete /{r.shortcut}
              </button>
              <button type="button" class="chip" onClick={() => setConfirming(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" class="chip" onClick={() => setConfirming(true)} aria-label={`Delete /${r.shortcut}`}>
              Delete
            </button>
          )}
        </div>
      )}
    </li>
  )
}

function CannedForm({ reply, admin, onDone }: { reply: CannedReplyDTO | null; admin: boolean; onDone: (saved: boolean) => void }) {
  const [shortcut, setShortcut] = useState(reply?.shortcut ?? '')
  const [text, setText] = useState(reply?.text ?? '')
  const [shared, setShared] = useState(reply?.shared ?? false)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async () => {
    setBusy(true)
    setError(null)
    try {
      await saveCannedReply(reply?.id ?? null, { shortcut: shortcut.trim(), text, ...(admin ? { shared } : {}) })
      onDone(true)
    } catch (e) {
      setError(cannedError(e))
      setBusy(false)
    }
  }
  return (
    <form
      class="canned-form"
      noValidate
      aria-label={reply ? `Edit /${reply.shortcut}` : 'Add a canned reply'}
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <label>
        <span>Shortcut</span>
        <input
          name="shortcut"
          value={shortcut}
          maxLength={32}
          placeholder="thanks"
          autocomplete="off"
          spellcheck={false}
          onInput={(e) => setShortcut(e.currentTarget.value)}
        />
        <span class="hint">Letters, digits, - and _; up to 32.</span>
      </label>
      <label>
        <span>Text</span>
        <textarea name="text" rows={4} maxLength={4096} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      {admin && (
        <label class="inline">
          <input type="checkbox" name="shared" checked={shared} onChange={(e) => setShared(e.currentTarget.checked)} /> Shared with the team
        </label>
      )}
      {error && (
        <p class="form-error" role="alert" data-canned-error>
          {error}
        </p>
      )}
      <div class="settings-actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : reply ? 'Save' : 'Add'}
        </button>
        <button type="button" class="chip" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  )
}
