// The contacts and campaigns API (issue 7) for the browser: JSON over the session
// cookie, errors as ApiError with the server's code and message (the same shape as
// the inbox's client in api/http.ts).
import { ApiError, reportUnauthorized } from '../api/http.ts'
import type {
  CampaignAudience,
  CampaignDTO,
  CampaignParams,
  CampaignRecipientDTO,
  ContactDetailDTO,
  FollowUpFilter,
} from '../../../src/events/types.ts'
import type { TemplateDTO } from '../../../src/domain/sending/templates.ts'
import type { ImportReport } from '../../../src/domain/contacts/contacts-import.ts'

export type { ImportReport, TemplateDTO }

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached')
  }
  const json = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
  if (!res.ok) {
    // The session ended: the same in-place sign-in as the inbox's (the page stays).
    if (res.status === 401) reportUnauthorized()
    throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? res.statusText)
  }
  return json as T
}

const qs = (params: Record<string, string | number | boolean | null | undefined>) => {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

export interface ImportInput {
  csv: string
  mapping?: { phone?: string; name?: string; tags?: string; attributes?: string[] }
  defaultCountryCode?: string
  tags?: string[]
  listName?: string
}

export interface CampaignSpec {
  name: string
  template: { name: string; language: string }
  params: CampaignParams
  audience: CampaignAudience
}

export interface AudienceSize {
  total: number
  optedOut: number
  eligible: number
}

export interface Preview {
  contact: ContactDetailDTO | null
  text: string | null
  skip: { reason: string; detail: string } | null
  audience: { total: number; optedOut: number; eligible: number }
}

export const campaignsApi = {
  contacts: (p: { q?: string; tag?: string; listId?: number; optedOut?: boolean; cursor?: string | null; limit?: number }) =>
    call<{ contacts: ContactDetailDTO[]; nextCursor: string | null; eventId: string }>('GET', `/api/contacts${qs(p)}`),
  contact: (id: number) => call<{ contact: ContactDetailDTO }>('GET', `/api/contacts/${id}`),
  updateContact: (id: number, body: { name?: string | null; tags?: string[]; attributes?: Record<string, string> }) =>
    call<{ contact: ContactDetailDTO }>('PATCH', `/api/contacts/${id}`, body),
  addContact: (body: { phone: string; name?: string; tags?: string[] }) =>
    call<{ contact: ContactDetailDTO }>('POST', '/api/contacts', body),
  setOptOut: (id: number, optedOut: boolean) => call<{ contact: ContactDetailDTO }>('POST', `/api/contacts/${id}/opt-out`, { optedOut }),
  tags: () => call<{ tags: { tag: string; count: number }[] }>('GET', '/api/contacts/tags'),
  lists: () => call<{ lists: { id: number; name: string; size: number; createdAt: number }[] }>('GET', '/api/contacts/lists'),
  bulkTag: (contactIds: number[], add: string[], remove: string[]) =>
    call<{ updated: number }>('POST', '/api/contacts/tags', { contactIds, add, remove }),
  previewImport: (body: ImportInput) => call<{ report: ImportReport }>('POST', '/api/contacts/import/preview', body),
  commitImport: (body: ImportInput) => call<{ report: ImportReport }>('POST', '/api/contacts/import', body),

  templates: () => call<{ templates: TemplateDTO[] }>('GET', '/api/templates'),
  campaigns: (cursor?: string | null) =>
    call<{ campaigns: CampaignDTO[]; nextCursor: string | null; eventId: string }>('GET', `/api/campaigns${qs({ cursor, limit: 50 })}`),
  campaign: (id: number) => call<{ campaign: CampaignDTO; eventId: string }>('GET', `/api/campaigns/${id}`),
  create: (spec: CampaignSpec) => call<{ campaign: CampaignDTO }>('POST', '/api/campaigns', spec),
  update: (id: number, spec: CampaignSpec) => call<{ campaign: CampaignDTO }>('PUT', `/api/campaigns/${id}`, spec),
  preview: (spec: Omit<CampaignSpec, 'name'> & { contactId?: number }) => call<Preview>('POST', '/api/campaigns/preview', spec),
  audienceSize: (audience: CampaignAudience) => call<{ audience: AudienceSize }>('POST', '/api/campaigns/audience', { audience }),
  start: (id: number, at?: number | null) => call<{ campaign: CampaignDTO }>('POST', `/api/campaigns/${id}/start`, at ? { at } : {}),
  act: (id: number, what: 'pause' | 'resume' | 'cancel') => call<{ campaign: CampaignDTO }>('POST', `/api/campaigns/${id}/${what}`, {}),
  retryUnconfirmed: (id: number) => call<{ campaign: CampaignDTO; requeued: number }>('POST', `/api/campaigns/${id}/retry-unconfirmed`, {}),
  followUp: (id: number, filter: FollowUpFilter) => call<{ campaign: CampaignDTO }>('POST', `/api/campaigns/${id}/follow-up`, { filter }),
  recipients: (id: number, p: { cursor?: string | null; status?: string; limit?: number }) =>
    call<{ recipients: CampaignRecipientDTO[]; nextCursor: string | null; eventId: string }>(
      'GET',
      `/api/campaigns/${id}/recipients${qs(p)}`,
    ),
  exportUrl: (id: number) => `/api/campaigns/${id}/recipients.csv`,
}

export const describeError = (e: unknown) => (e instanceof ApiError ? (e.status === 0 ? 'No connection to Parley.' : e.message) : String(e))
