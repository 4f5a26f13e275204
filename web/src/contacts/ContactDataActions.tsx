// A contact's data (issue 16), for admins on the contacts page: "Export data" downloads all
// Parley keeps of the contact as JSON; "Erase…" deletes it for good (messages, media files,
// campaign rows, conversations) after the admin types the contact's name or number.
import type { TargetedEvent } from 'preact'
import { useState } from 'preact/hooks'
import type { ContactDetailDTO } from '../../../src/events/types.ts'
import { describeError, download, request } from '../api/client.ts'

// Long enough for the browser to start the download from the URL; then it is let go.
const REVOKE_AFTER_MS = 60_000

async function exportContact(id: number): Promise<void> {
  const res = await download(`/api/contacts/${id}/export`)
  const blob = await res.blob()
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = `contact-${id}.json`
  a.hidden = true
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS)
}

/** What the admin types to confirm: the name as shown, or the number. */
const confirmText = (c: ContactDetailDTO) => c.name ?? c.profileName ?? (c.phone ? `+${c.phone}` : c.externalId)

export function ContactDataActions({ contact, onErased }: { contact: ContactDetailDTO; onErased: () => void }) {
  const [confirming, setConfirming] = useState(false)
  const [typed, setTyped] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const expected = confirmText(contact)

  const doExport = async () => {
    setError(null)
    try {
      await exportContact(contact.id)
    } catch (e) {
      setError(describeError(e))
    }
  }
  const erase = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await request('POST', `/api/contacts/${contact.id}/erase`, { confirm: typed })
      onErased()
    } catch (err) {
      setError(describeError(err))
      setBusy(false)
    }
  }

  return (
    <div class="contact-data">
      <button type="button" class="link small" onClick={() => void doExport()} aria-label={`Export data of ${expected}`}>
        Export data
      </button>{' '}
      <button type="button" class="link small danger" onClick={() => setConfirming(!confirming)} aria-label={`Erase ${expected}`}>
        Erase…
      </button>
      {confirming && (
        <form class="erase-confirm" onSubmit={erase} aria-label={`Erase ${expected}`}>
          <p class="small">
            This deletes every message, file, note and campaign record of this contact, for good. Type <strong>{expected}</strong> to
            confirm.
          </p>
          <input value={typed} aria-label="Type the contact's name or number" onInput={(e) => setTyped(e.currentTarget.value)} />{' '}
          <button type="submit" class="danger" disabled={busy || typed.trim() === ''}>
            Erase for good
          </button>
        </form>
      )}
      {error && (
        <p class="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
