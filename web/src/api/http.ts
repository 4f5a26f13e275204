// Thin JSON client for Parley's REST API. The browser authenticates with the HttpOnly
// session cookie (never a token in JS); errors arrive as `{error: {code, message}}`.
import type { ConversationDTO, MessageDTO } from '../../../src/events/types.ts'

export interface User {
  id: number
  email: string
  name: string
  role: 'admin' | 'agent'
  workspaceId: number
}

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
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

let onUnauthorized: () => void = () => {}
/** Called when any request answers 401: the session ended (logout elsewhere, expiry). */
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn
}
/**
 * For the app's other JSON clients (campaigns, contacts): a 401 anywhere leads to the
 * same in-place sign-in, never to a reload that would lose the page.
 */
export function reportUnauthorized() {
  onUnauthorized()
}

async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  let res: Response
  const isForm = typeof FormData !== 'undefined' && body instanceof FormData
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined || isForm ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : isForm ? (body as FormData) : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'NETWORK', 'The server could not be reached')
  }
  const json = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) onUnauthorized()
    throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? res.statusText)
  }
  return json as T
}

const qs = (params: Record<string, string | number | null | undefined>) => {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

export const api = {
  me: () => request<{ user: User; expiresAt: number }>('GET', '/api/me', undefined, { quiet401: true }),
  setupNeeded: () => request<{ needed: boolean }>('GET', '/api/setup'),
  setup: (body: { email: string; name: string; password: string }) =>
    request<{ user: User; expiresAt: number }>('POST', '/api/setup', body, { quiet401: true }),
  login: (body: { email: string; password: string }) =>
    request<{ user: User; expiresAt: number }>('POST', '/api/auth/login', body, { quiet401: true }),
  logout: () => request<{ ok: boolean }>('POST', '/api/auth/logout', {}, { quiet401: true }),
  // Password reset links (`npm run admin -- reset-password`): the token travels in the body only.
  checkResetLink: (token: string) =>
    request<{ email: string; expiresAt: number }>('POST', '/api/password-reset/check', { token }, { quiet401: true }),
  resetPassword: (body: { token: string; password: string }) =>
    request<{ user: User }>('POST', '/api/password-reset', body, { quiet401: true }),
  conversations: (p: { cursor?: string | null; limit?: number; status?: string; q?: string; channel?: number; kind?: string }) =>
    request<ConversationPage>('GET', `/api/conversations${qs(p)}`),
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
  updateChannel: (id: number, patch: Partial<Omit<ChannelInput, 'kind' | 'externalId'>>) =>
    request<{ channel: ChannelPublic }>('PATCH', `/api/channels/${id}`, patch),
}
