// The team's endpoints (issue 13): people, invitations, reset links, one's own profile,
// and the invited person's link. On the one client (client.ts).
import type { TeamUserDTO } from '../../../src/events/types.ts'
import type { InvitationDTO, InvitationPreview } from '../../../src/domain/accounts/invitations.ts'
import { request } from './client.ts'
import type { User } from './http.ts'

export type { TeamUserDTO, InvitationDTO, InvitationPreview }
export type Role = TeamUserDTO['role']
export type Availability = TeamUserDTO['availability']
export interface NewInvitation {
  id: number
  email: string
  role: Role
  url: string
  expiresAt: number
}

export const teamApi = {
  users: () => request<{ users: TeamUserDTO[] }>('GET', '/api/users'),
  updateUser: (id: number, patch: { role?: Role; channelIds?: number[]; disabled?: boolean }) =>
    request<{ user: TeamUserDTO }>('PATCH', `/api/users/${id}`, patch),
  resetLink: (id: number) => request<{ url: string; expiresAt: number }>('POST', `/api/users/${id}/password-reset`, {}),
  invitations: () => request<{ invitations: InvitationDTO[] }>('GET', '/api/users/invitations'),
  invite: (body: { email: string; role: Role; channelIds: number[] }) =>
    request<{ invitation: NewInvitation }>('POST', '/api/users/invitations', body),
  revokeInvitation: (id: number) => request<{ ok: boolean }>('DELETE', `/api/users/invitations/${id}`),
  updateMe: (body: { name?: string; password?: string; currentPassword?: string }) =>
    request<{ user: User; sessionsEnded: number }>('PATCH', '/api/me', body),
  setAvailability: (status: Availability) => request<{ user: TeamUserDTO }>('PUT', '/api/me/availability', { status }),
  // The invited person (no session): the token travels in a body only, never a URL.
  checkInvitation: (token: string) =>
    request<{ invitation: InvitationPreview }>('POST', '/api/invitations/check', { token }, { quiet401: true }),
  acceptInvitation: (body: { token: string; name: string; password: string }) =>
    request<{ user: User; expiresAt: number }>('POST', '/api/invitations/accept', body, { quiet401: true }),
  requestPasswordReset: (email: string) => request<{ ok: boolean }>('POST', '/api/password-reset/request', { email }, { quiet401: true }),
}
