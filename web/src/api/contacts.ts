// The contacts API (issue 7) on the one client (client.ts): search, tags, lists,
// opt-outs and the CSV import.
import type { ContactDetailDTO } from '../../../src/events/types.ts'
import type { ImportReport } from '../../../src/domain/contacts/contacts-import.ts'
import { qs, request } from './client.ts'

export type { ImportReport }

export interface ImportInput {
  csv: string
  mapping?: { phone?: string; name?: string; tags?: string; attributes?: string[] }
  defaultCountryCode?: string
  tags?: string[]
  listName?: string
}

export interface ContactQuery {
  q?: string
  tag?: string
  listId?: number
  optedOut?: boolean
  cursor?: string | null
  limit?: number
}

export type TagCount = { tag: string; count: number }
export type ContactList = { id: number; name: string; size: number; createdAt: number }

export const contactsApi = {
  contacts: (p: ContactQuery) =>
    request<{ contacts: ContactDetailDTO[]; nextCursor: string | null; eventId: string }>('GET', `/api/contacts${qs({ ...p })}`),
  contact: (id: number) => request<{ contact: ContactDetailDTO }>('GET', `/api/contacts/${id}`),
  updateContact: (id: number, body: { name?: string | null; tags?: string[]; attributes?: Record<string, string> }) =>
    request<{ contact: ContactDetailDTO }>('PATCH', `/api/contacts/${id}`, body),
  addContact: (body: { phone: string; name?: string; tags?: string[] }) =>
    request<{ contact: ContactDetailDTO }>('POST', '/api/contacts', body),
  setOptOut: (id: number, optedOut: boolean) => request<{ contact: ContactDetailDTO }>('POST', `/api/contacts/${id}/opt-out`, { optedOut }),
  tags: () => request<{ tags: TagCount[] }>('GET', '/api/contacts/tags'),
  lists: () => request<{ lists: ContactList[] }>('GET', '/api/contacts/lists'),
  bulkTag: (contactIds: number[], add: string[], remove: string[]) =>
    request<{ updated: number }>('POST', '/api/contacts/tags', { contactIds, add, remove }),
  previewImport: (body: ImportInput) => request<{ report: ImportReport }>('POST', '/api/contacts/import/preview', body),
  commitImport: (body: ImportInput) => request<{ report: ImportReport }>('POST', '/api/contacts/import', body),
}
