// Contacts (issue 7): search, filter by tag, list or opt-out, edit tags, set or reverse
// an opt-out, and import a CSV (ImportPanel). Names and attributes are customer data:
// rendered as text only.
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import type { ContactDetailDTO } from '../../../src/events/types.ts'
import { campaignsApi, describeError } from '../campaigns/api.ts'
import { onStreamEvent } from '../campaigns/live.ts'
import { ImportPanel } from './ImportPanel.tsx'

const PAGE = 50
const SEARCH_DEBOUNCE_MS = 250
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
  const q = useSignal('')
  const tag = useSignal('')
  const listId = useSignal('')
  const optedOut = useSignal<'' | 'true' | 'false'>('')
  const rows = useSignal<ContactDetailDTO[]>([])
  const next = useSignal<string | null>(null)
  const tags = useSignal<{ tag: string; count: number }[]>([])
  const lists = useSignal<{ id: number; name: string; size: number }[]>([])
  const error = useSignal<string | null>(null)
  const importing = useSignal(false)
  const adding = useSignal(false)
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)

  const filters = () => ({
    q: q.value.trim() || undefined,
    tag: tag.value || undefined,
    listId: listId.value ? Number(listId.value) : undefined,
    optedOut: optedOut.value === '' ? undefined : optedOut.value === 'true',
  })

  async function load(reset: boolean) {
    try {
      const page = await campaignsApi.contacts({ ...filters(), cursor: reset ? null : next.value, limit: PAGE })
      rows.value = reset ? page.contacts : [...rows.value, ...page.contacts]
      next.value = page.nextCursor
      error.value = null
    } catch (e) {
      error.value = describeError(e)
    }
  }
  async function loadFacets() {
    try {
      const [t, l] = await Promise.all([campaignsApi.tags(), campaignsApi.lists()])
      tags.value = t.tags
      lists.value = l.lists
    } catch {
      // The filters keep their last values.
    }
  }

  useEffect(() => {
    void load(true)
    void loadFacets()
    return onStreamEvent((ev) => {
      if (ev.type === 'contact.updated') {
        const c = (ev.data as { contact: ContactDetailDTO }).contact
        if (rows.value.some((x) => x.id === c.id)) rows.value = rows.value.map((x) => (x.id === c.id ? c : x))
      } else if (ev.type === 'contacts.imported' || ev.type === 'reset') {
        void load(true)
        void loadFacets()
      }
    })
  }, [])

  const refilter = () => {
    clearTimeout(timer.current)
    timer.current = setTimeout(() => void load(true), SEARCH_DEBOUNCE_MS)
  }

  async function toggleOptOut(c: ContactDetailDTO) {
    const to = c.optOut === null
    if (!to && !confirm(`Reverse the opt-out of ${label(c)}? Campaigns will reach them again.`)) return
    try {
      const r = await campaignsApi.setOptOut(c.id, to)
      rows.value = rows.value.map((x) => (x.id === c.id ? r.contact : x))
    } catch (e) {
      error.value = describeError(e)
    }
  }

  async function editTags(c: ContactDetailDTO) {
    const raw = prompt(`Tags for ${label(c)}, separated by commas`, c.tags.join(', '))
    if (raw === null) return
    try {
      const r = await campaignsApi.updateContact(c.id, {
        tags: raw
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      })
      rows.value = rows.value.map((x) => (x.id === c.id ? r.contact : x))
      void loadFacets()
    } catch (e) {
      error.value = describeError(e)
    }
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
            void load(true)
            void loadFacets()
          }}
        />
      )}
      {adding.value && (
        <AddContact
          onDone={() => {
            adding.value = false
            void load(true)
            void loadFacets()
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
          onInput={(e) => {
            q.value = e.currentTarget.value
            refilter()
          }}
        />
        <select aria-label="Tag" value={tag.value} onChange={(e) => ((tag.value = e.currentTarget.value), void load(true))}>
          <option value="">All tags</option>
          {tags.value.map((t) => (
            <option key={t.tag} value={t.tag}>
              {t.tag} ({t.count})
            </option>
          ))}
        </select>
        <select aria-label="List" value={listId.value} onChange={(e) => ((listId.value = e.currentTarget.value), void load(true))}>
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
          onChange={(e) => ((optedOut.value = e.currentTarget.value as '' | 'true' | 'false'), void load(true))}
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
                  <button type="button" class="link small" onClick={() => void editTags(c)} aria-label={`Edit tags of ${label(c)}`}>
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
                      <button type="button" class="link small" onClick={() => void toggleOptOut(c)}>
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
                      <button type="button" class="link small" onClick={() => void toggleOptOut(c)}>
                        Opt out
                      </button>
                    </div>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.value.length === 0 && !error.value && <p class="muted">No contacts match.</p>}
      {next.value && (
        <button type="button" class="link" onClick={() => void load(false)}>
          Load more
        </button>
      )}
    </section>
  )
}

function AddContact({ onDone }: { onDone: () => void }) {
  const phone = useSignal('')
  const name = useSignal('')
  const tags = useSignal('')
  const error = useSignal<string | null>(null)
  return (
    <form
      class="panel inline-form"
      onSubmit={async (e) => {
        e.preventDefault()
        try {
          await campaignsApi.addContact({
            phone: phone.value,
            name: name.value || undefined,
            tags: tags.value
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean),
          })
          onDone()
        } catch (err) {
          error.value = describeError(err)
        }
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
