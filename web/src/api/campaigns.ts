// The campaigns API (issue 7) on the one client (client.ts): drafts, preview, audience,
// start / pause / resume / cancel, follow-ups and the per-recipient table.
import type {
  CampaignAudience,
  CampaignDTO,
  CampaignParams,
  CampaignRecipientDTO,
  ContactDetailDTO,
  FollowUpFilter,
} from '../../../src/events/types.ts'
import type { TemplateDTO } from '../../../src/domain/sending/templates.ts'
import { qs, request } from './client.ts'

export type { TemplateDTO }

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
  templates: () => request<{ templates: TemplateDTO[] }>('GET', '/api/templates'),
  campaigns: (cursor?: string | null) =>
    request<{ campaigns: CampaignDTO[]; nextCursor: string | null; eventId: string }>('GET', `/api/campaigns${qs({ cursor, limit: 50 })}`),
  campaign: (id: number) => request<{ campaign: CampaignDTO; eventId: string }>('GET', `/api/campaigns/${id}`),
  create: (spec: CampaignSpec) => request<{ campaign: CampaignDTO }>('POST', '/api/campaigns', spec),
  update: (id: number, spec: CampaignSpec) => request<{ campaign: CampaignDTO }>('PUT', `/api/campaigns/${id}`, spec),
  preview: (spec: Omit<CampaignSpec, 'name'> & { contactId?: number }) => request<Preview>('POST', '/api/campaigns/preview', spec),
  audienceSize: (audience: CampaignAudience) => request<{ audience: AudienceSize }>('POST', '/api/campaigns/audience', { audience }),
  start: (id: number, at?: number | null) => request<{ campaign: CampaignDTO }>('POST', `/api/campaigns/${id}/start`, at ? { at } : {}),
  act: (id: number, what: 'pause' | 'resume' | 'cancel') => request<{ campaign: CampaignDTO }>('POST', `/api/campaigns/${id}/${what}`, {}),
  retryUnconfirmed: (id: number) =>
    request<{ campaign: CampaignDTO; requeued: number }>('POST', `/api/campaigns/${id}/retry-unconfirmed`, {}),
  followUp: (id: number, filter: FollowUpFilter) =>
    request<{ campaign: CampaignDTO }>('POST', `/api/campaigns/${id}/follow-up`, { filter }),
  recipients: (id: number, p: { cursor?: string | null; status?: string; limit?: number }) =>
    request<{ recipients: CampaignRecipientDTO[]; nextCursor: string | null; eventId: string }>(
      'GET',
      `/api/campaigns/${id}/recipients${qs(p)}`,
    ),
  exportUrl: (id: number) => `/api/campaigns/${id}/recipients.csv`,
}
