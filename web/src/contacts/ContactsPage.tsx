// Contacts (issue 7): search, filter by tag, list or opt-out, edit tags, set or reverse
// an opt-out, and import a CSV (ImportPanel). Names and attributes are customer data:
// rendered as text only.
import { useEffect, useState } from 'preact/hooks'
import type { ContactDetailDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { addContact, followContacts, loadContacts, reloadContacts, search, setFilter, setOptOut, setTags } from './actions.ts'
import { createAddContactState, createContactsState, type AddContactState, type OptedOutFilter } from './state.ts'
import { ImportPanel } from './ImportPanel.tsx'
import { ContactDataActions } from './ContactDataActions.tsx'

const SOURCE_TEXT: Record<string, string> = {
  keyword: 'wrote a stop word',
  meta_131050: 'WhatsApp: opted out of marketing',
  agent: 'set by an agent',
  // Issue 11: the customer's own switch in WhatsApp (user_preferences webhook).
  whatsapp_stop: 'Stopped marketing messages in WhatsApp',
}
// Why a reversed opt-out is reachable again.
const OPT_IN_TEXT: Record<string, string> = {
  agent: 'Opt-out reversed by an agent',
  whatsapp_resume: 'Resumed marketing messages in WhatsApp',
}
const shortDate = (ms: number) => new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short' })

export function ContactsPage() {
  const app = useApp()
  const [s] = useState(createContactsState)
  // Issue 16: admins export or erase a contact's data.
  const admin = app.user.value?.role === 'admin'
  const { q, tag, listId, optedOut, rows, next, tags, lists, error, importing, adding } = s

  useEffect(() => followContacts(s, app.resumed), [])

  function toggleOptOut(c: ContactDetailDTO) {
    const to = c.optOut === null
    if (!to && !confirm(`Reverse the opt-out of ${label(c)}? Campaigns will reach them again.`)) return
    void setOptOut(s, c, to)
  }

  function editTags(c: ContactDetailDTO) {
    const raw = prompt(`Tags for ${label(c)}, separated by commas`, c.tags.join(', '))
    if (raw === null) return
    void setTags(s, c, raw)
  }

  return (
    <section class="page">
      <div class="page-head">
        <h1>Contacts</h1>
        <span class="spacer" />
        <button type="button" onClick={() => (adding.value = !adding.value)}>
          Add contact
        </button>
        <button type="button" class="primary" onClick={() => (importing.value = !importing.value)}>
          Import CSV
        </button>
      </div>
      {importing.value && (
        <ImportPanel
          onDone={() => {
            importing.value = false
            reloadContacts(s)
          }}
        />
      )}
      {adding.value && (
        <AddContact
          onDone={() => {
            adding.value = false
            reloadContacts(s)
          }}
        />
      )}
      <div class="filters-row">
        <input
          class="search"
          type="search"
          placeholder="Search by name or number"
          aria-label="Search contacts"
          value={q.value}
          onInput={(e) => search(s, e.currentTarget.value)}
        />
        <select aria-label="Tag" value={tag.value} onChange={(e) => setFilter(s, { tag: e.currentTarget.value })}>
          <option value="">All tags</option>
          {tags.value.map((t) => (
            <option key={t.tag} value={t.tag}>
              {t.tag} ({t.count})
            </option>
          ))}
        </select>
        <select aria-label="List" value={listId.value} onChange={(e) => setFilter(s, { listId: e.currentTarget.value })}>
          <option value="">All lists</option>
          {lists.value.map((l) => (
            <option key={l.id} value={String(l.id)}>
              {l.name} ({l.size})
            </option>
          ))}
        </select>
        <select
          aria-label="Opt-out"
          value={optedOut.value}
          onChange={(e) => setFilter(s, { optedOut: e.currentTarget.value as OptedOutFilter })}
        >
          <option value="">Everyone</option>
          <option value="false">Reachable</option>
          <option value="true">Opted out</option>
        </select>
      </div>
      {error.value && (
        <p class="form-error" role="alert">
          {error.value}
        </p>
      )}
      <div class="table-wrap">
        <table class="contacts-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Number</th>
              <th>Tags</th>
              <th>Attributes</th>
              <th>Campaigns</th>
              {admin && <th>Data</th>}
            </tr>
          </thead>
          <tbody>
            {rows.value.map((c) => (
              <tr key={c.id}>
                <td>{c.name ?? c.profileName ?? '—'}</td>
                <td>{c.phone ? `+${c.phone}` : c.externalId}</td>
                <td>
                  {c.tags.map((t) => (
                    <span key={t} class="tag">
                      {t}
                    </span>
                  ))}{' '}
                  <button type="button" class="link small" onClick={() => editTags(c)} aria-label={`Edit tags of ${label(c)}`}>
                    edit
                  </button>
                </td>
                <td class="attrs">
                  {Object.entries(c.attributes).map(([k, v]) => (
                    <div key={k}>
                      <span class="muted">{k}:</span> {v}
                    </div>
                  ))}
                </td>
                <td>
                  {c.optOut ? (
                    <div>
                      <span class="rstatus r-failed">Opted out</span>
                      <div class="muted small opt-reason" title={new Date(c.optOut.at).toLocaleString()}>
                        {SOURCE_TEXT[c.optOut.source] ?? c.optOut.source} · {shortDate(c.optOut.at)}
                        {c.optOut.text ? ` · “${c.optOut.text}”` : ''}
                      </div>
                      <button type="button" class="link small" onClick={() => toggleOptOut(c)}>
                        Reverse
                      </button>
                    </div>
                  ) : (
                    <div>
                      {c.optIn && (
                        <div class="muted small opt-reason" title={new Date(c.optIn.at).toLocaleString()}>
                          {OPT_IN_TEXT[c.optIn.source] ?? c.optIn.source} · {shortDate(c.optIn.at)}
                        </div>
                      )}
                      <button type="button" class="link small" onClick={() => toggleOptOut(c)}>
                        Opt out
                      </button>
                    </div>
                  )}
                </td>
                {admin && (
                  <td>
                    <ContactDataActions contact={c} onErased={() => (rows.value = rows.value.filter((r) => r.id !== c.id))} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.value.length === 0 && !error.value && <p class="muted">No contacts match.</p>}
      {next.value && (
        <button type="button" class="link" onClick={() => void loadContacts(s, false)}>
          Load more
        </button>
      )}
    </section>
  )
}

function AddContact({ onDone }: { onDone: () => void }) {
  const [s] = useState<AddContactState>(createAddContactState)
  const { phone, name, tags, error } = s
  return (
    <form
      class="panel inline-form"
      onSubmit={async (e) => {
        e.preventDefault()
        if (await addContact(s)) onDone()
      }}
    >
      <input
        required
        placeholder="+49 151 2345678"
        aria-label="Phone number"
        value={phone.value}
        onInput={(e) => (phone.value = e.currentTarget.value)}
      />
      <input placeholder="Name" aria-label="Name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
      <input
        placeholder="tags, comma separated"
        aria-label="Tags"
        value={tags.value}
        onInput={(e) => (tags.value = e.currentTarget.value)}
      />
      <button type="submit" class="primary">
        Add
      </button>
      {error.value && <span class="form-error">{error.value}</span>}
    </form>
  )
}

const label = (c: ContactDetailDTO) => c.name ?? (c.phone ? `+${c.phone}` : c.externalId)
