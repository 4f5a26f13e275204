// What the contacts page does, as the inbox's actions (state/app.ts): ask the server and
// write its answers into the page's state (contacts/state.ts), follow the stream.
// Components read the state and call these; they never fetch. What asks the agent
// first (confirm, prompt) stays in the component.
import type { ReadonlySignal } from '@preact/signals'
import type { ContactDetailDTO } from '../../../src/events/types.ts'
import { describeError } from '../api/client.ts'
import { contactsApi } from '../api/contacts.ts'
import { onResume, onStreamEvent } from '../campaigns/live.ts'
import {
  contactFilters,
  importInput,
  replaceContact,
  splitTags,
  type AddContactState,
  type ColumnKey,
  type ContactsState,
  type ImportState,
  type OptedOutFilter,
} from './state.ts'

const PAGE = 50
const SEARCH_DEBOUNCE_MS = 250

/** Reads the first page for the filters (reset) or the next one. */
export async function loadContacts(s: ContactsState, reset: boolean) {
  try {
    const page = await contactsApi.contacts({ ...contactFilters(s), cursor: reset ? null : s.next.value, limit: PAGE })
    s.rows.value = reset ? page.contacts : [...s.rows.value, ...page.contacts]
    s.next.value = page.nextCursor
    s.error.value = null
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/** The tags and lists the filters offer. */
export async function loadFacets(s: ContactsState) {
  try {
    const [t, l] = await Promise.all([contactsApi.tags(), contactsApi.lists()])
    s.tags.value = t.tags
    s.lists.value = l.lists
  } catch {
    // The filters keep their last values.
  }
}

/** The table and the filters, read again (after an import, an added contact). */
export function reloadContacts(s: ContactsState) {
  void loadContacts(s, true)
  void loadFacets(s)
}

/** Loads the page and keeps it live while it is open; returns the stop. */
export function followContacts(s: ContactsState, resumed: ReadonlySignal<number>): () => void {
  reloadContacts(s)
  const off = onStreamEvent((ev) => {
    if (ev.type === 'contact.updated') replaceContact(s, (ev.data as { contact: ContactDetailDTO }).contact)
    else if (ev.type === 'contacts.imported' || ev.type === 'reset') reloadContacts(s)
  })
  const offResume = onResume(resumed, () => reloadContacts(s))
  return () => {
    off()
    offResume()
    clearTimeout(s.searchTimer)
  }
}

/** The search box: the server is asked once the agent pauses. */
export function search(s: ContactsState, q: string) {
  s.q.value = q
  clearTimeout(s.searchTimer)
  s.searchTimer = setTimeout(() => void loadContacts(s, true), SEARCH_DEBOUNCE_MS)
}

/** A filter control (tag, list, opt-out): the first page again at once. */
export function setFilter(s: ContactsState, f: { tag?: string; listId?: string; optedOut?: OptedOutFilter }) {
  if (f.tag !== undefined) s.tag.value = f.tag
  if (f.listId !== undefined) s.listId.value = f.listId
  if (f.optedOut !== undefined) s.optedOut.value = f.optedOut
  void loadContacts(s, true)
}

export async function setOptOut(s: ContactsState, c: ContactDetailDTO, optedOut: boolean) {
  try {
    const r = await contactsApi.setOptOut(c.id, optedOut)
    s.rows.value = s.rows.value.map((x) => (x.id === c.id ? r.contact : x))
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/** Replaces a contact's tags with those typed ("a, b, c"). */
export async function setTags(s: ContactsState, c: ContactDetailDTO, raw: string) {
  try {
    const r = await contactsApi.updateContact(c.id, { tags: splitTags(raw) })
    s.rows.value = s.rows.value.map((x) => (x.id === c.id ? r.contact : x))
    void loadFacets(s)
  } catch (e) {
    s.error.value = describeError(e)
  }
}

/** Adds the contact typed in the form; true once the server has it. */
export async function addContact(s: AddContactState): Promise<boolean> {
  try {
    await contactsApi.addContact({ phone: s.phone.value, name: s.name.value || undefined, tags: splitTags(s.tags.value) })
    return true
  } catch (err) {
    s.error.value = describeError(err)
    return false
  }
}

// --- CSV import: checked first, then stored exactly as previewed ---------------

export async function checkImport(s: ImportState) {
  if (!s.csv.value) return
  s.busy.value = true
  s.error.value = null
  try {
    const r = (await contactsApi.previewImport(importInput(s))).report
    s.report.value = r
    s.mapping.value = { phone: r.mapping.phone, name: r.mapping.name ?? undefined, tags: r.mapping.tags ?? undefined }
  } catch (e) {
    s.report.value = null
    s.error.value = describeError(e)
  } finally {
    s.busy.value = false
  }
}

export async function commitImport(s: ImportState) {
  s.busy.value = true
  s.error.value = null
  try {
    s.result.value = (await contactsApi.commitImport(importInput(s))).report
  } catch (e) {
    s.error.value = describeError(e)
  } finally {
    s.busy.value = false
  }
}

/** A file was chosen: its text is checked at once (the list is named after it unless named already). */
export async function pickImportFile(s: ImportState, file: File | undefined) {
  if (!file) return
  s.fileName.value = file.name
  if (!s.listName.value) s.listName.value = file.name.replace(/\.(csv|txt)$/i, '')
  s.csv.value = await file.text()
  s.mapping.value = {}
  s.result.value = null
  await checkImport(s)
}

/** Which column is the number, the name or the tags; the file is checked again. */
export function mapColumn(s: ImportState, key: ColumnKey, column: string | undefined) {
  s.mapping.value = { ...s.mapping.value, [key]: column }
  void checkImport(s)
}
