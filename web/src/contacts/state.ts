// The contacts page's state, as the inbox keeps its own (state/inbox.ts): factories of
// signals, no fetch and no DOM; one per page as it opens. The actions that fill them
// are contacts/actions.ts.
import { signal } from '@preact/signals'
import type { ContactDetailDTO } from '../../../src/events/types.ts'
import type { ContactList, ImportInput, ImportReport, TagCount } from '../api/contacts.ts'

export type OptedOutFilter = '' | 'true' | 'false'

export function createContactsState() {
  return {
    // The filters, as the controls hold them.
    q: signal(''),
    tag: signal(''),
    listId: signal(''),
    optedOut: signal<OptedOutFilter>(''),
    rows: signal<ContactDetailDTO[]>([]),
    next: signal<string | null>(null),
    tags: signal<TagCount[]>([]),
    lists: signal<Pick<ContactList, 'id' | 'name' | 'size'>[]>([]),
    error: signal<string | null>(null),
    /** Which panel is open above the table. */
    importing: signal(false),
    adding: signal(false),
    searchTimer: undefined as ReturnType<typeof setTimeout> | undefined,
  }
}
export type ContactsState = ReturnType<typeof createContactsState>

/** The filters as the API takes them. */
export function contactFilters(s: ContactsState) {
  return {
    q: s.q.value.trim() || undefined,
    tag: s.tag.value || undefined,
    listId: s.listId.value ? Number(s.listId.value) : undefined,
    optedOut: s.optedOut.value === '' ? undefined : s.optedOut.value === 'true',
  }
}

/** A contact as the server now has it replaces its row, if it is shown. */
export function replaceContact(s: ContactsState, c: ContactDetailDTO) {
  if (s.rows.value.some((x) => x.id === c.id)) s.rows.value = s.rows.value.map((x) => (x.id === c.id ? c : x))
}

/** Tags typed as "a, b, c". */
export const splitTags = (raw: string) =>
  raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)

export function createAddContactState() {
  return {
    phone: signal(''),
    name: signal(''),
    tags: signal(''),
    error: signal<string | null>(null),
  }
}
export type AddContactState = ReturnType<typeof createAddContactState>

export type ColumnKey = 'phone' | 'name' | 'tags'

export function createImportState() {
  return {
    csv: signal<string | null>(null),
    fileName: signal(''),
    report: signal<ImportReport | null>(null),
    mapping: signal<{ phone?: string; name?: string; tags?: string }>({}),
    country: signal(''),
    extraTags: signal(''),
    listName: signal(''),
    error: signal<string | null>(null),
    busy: signal(false),
    /** The report of the import once it is stored. */
    result: signal<ImportReport | null>(null),
  }
}
export type ImportState = ReturnType<typeof createImportState>

/** The import as the API takes it: exactly what was previewed. */
export function importInput(s: ImportState): ImportInput {
  return {
    csv: s.csv.value ?? '',
    mapping: { ...s.mapping.value },
    ...(s.country.value.trim() ? { defaultCountryCode: s.country.value.trim() } : {}),
    tags: splitTags(s.extraTags.value),
    ...(s.listName.value.trim() ? { listName: s.listName.value.trim() } : {}),
  }
}
