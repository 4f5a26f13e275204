// The inbox's endpoints (session, conversations, sending, channels), on the one client
// (client.ts: its 401 rule and the direction between state and api are written there).
import type { ConversationDTO, MessageDTO } from '../../../src/events/types.ts'
import { qs, request } from './client.ts'

export interface User {
  id: number
  email: string
  name: string
  role: 'admin' | 'agent'
  workspaceId: number
  /** Issue 13: set in the top bar; absent from a server that does not say. */
  availability?: 'online' | 'busy' | 'away'
}

export interface ConversationPage {
  conversations: ConversationDTO[]
  nextCursor: string | null
  eventId: string
}
export interface MessagePage {
  messages: MessageDTO[]
  nextCursor: string | null
  eventId: string
}

// Shapes of the sending API (issue 4), shared with the server as types only.
export type { TemplateDTO } from '../../../src/domain/sending/templates.ts'
import type { TemplateDTO } from '../../../src/domain/sending/templates.ts'
import type { MediaDTO } from '../../../src/domain/media/media.ts'
// Channels as data (issue 6); secrets are write-only, the API only says whether one is set.
export type { ChannelPublic, ChannelInput } from '../../../src/domain/channels/channels.ts'
import type { ChannelPublic, ChannelInput } from '../../../src/domain/channels/channels.ts'
/** What an admin may change of a channel (issue 13: `members` replaces its list of people). */
export type ChannelPatchBody = Partial<Omit<ChannelInput, 'kind' | 'externalId'>> & { members?: number[] }

export const api = {
  me: () => request<{ user: User; expiresAt: number }>('GET', '/api/me', undefined, { quiet401: true }),
  // `mail`: Parley can mail links (SMTP_URL), so the sign-in page offers "Forgot password?".
  setupNeeded: () => request<{ needed: boolean; mail: boolean }>('GET', '/api/setup'),
  setup: (body: { email: string; name: string; password: string }) =>
    request<{ user: User; expiresAt: number }>('POST', '/api/setup', body, { quiet401: true }),
  // Issue 16: `totp` or `recoveryCode` when the server answered TOTP_REQUIRED.
  login: (body: { email: string; password: string; totp?: string; recoveryCode?: string }) =>
    request<{ user: User; expiresAt: number }>('POST', '/api/auth/login', body, { quiet401: true }),
  logout: () => request<{ ok: boolean }>('POST', '/api/auth/logout', {}, { quiet401: true }),
  // Password reset links (`npm run admin -- reset-password`): the token travels in the body only.
  checkResetLink: (token: string) =>
    request<{ email: string; expiresAt: number }>('POST', '/api/password-reset/check', { token }, { quiet401: true }),
  resetPassword: (body: { token: string; password: string }) =>
    request<{ user: User }>('POST', '/api/password-reset', body, { quiet401: true }),
  conversations: (p: {
    cursor?: string | null
    limit?: number
    status?: string
    q?: string
    channel?: number
    kind?: string
    view?: 'mine' | 'unassigned' | 'all'
    /** Issue 14: only conversations carrying this label. */
    label?: number | null
  }) => request<ConversationPage>('GET', `/api/conversations${qs(p)}`),
  conversation: (id: number) => request<{ conversation: ConversationDTO; eventId: string }>('GET', `/api/conversations/${id}`),
  messages: (id: number, cursor?: string | null, limit?: number) =>
    request<MessagePage>('GET', `/api/conversations/${id}/messages${qs({ cursor, limit })}`),
  markRead: (id: number) => request<{ conversation: ConversationDTO }>('POST', `/api/conversations/${id}/read`, {}),
  /** The sending API (issue 4): idempotent on clientMessageId, answers 202 {message}. */
  post: (path: string, body: unknown) => request<{ message?: MessageDTO }>('POST', path, body),
  templates: (conversationId: number) => request<{ templates: TemplateDTO[] }>('GET', `/api/templates${qs({ conversationId })}`),
  upload: (form: FormData) => request<{ media: MediaDTO }>('POST', '/api/media', form),
  channels: () => request<{ channels: ChannelPublic[] }>('GET', '/api/channels'),
  verifyToken: () => request<{ verifyToken: string }>('GET', '/api/channels/verify-token'),
  createChannel: (body: ChannelInput) => request<{ channel: ChannelPublic }>('POST', '/api/channels', body),
  updateChannel: (id: number, patch: ChannelPatchBody) => request<{ channel: ChannelPublic }>('PATCH', `/api/channels/${id}`, patch),
  /** Answers only in sandbox mode (a 404 otherwise): the inbox then says so across the page. */
  sandboxInfo: () => request<{ sandbox: true }>('GET', '/api/sandbox/info'),
}
