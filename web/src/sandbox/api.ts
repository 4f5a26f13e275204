// The sandbox's control API (/api/sandbox/*), as the simulator page uses it. The browser
// is signed in to Parley (the HttpOnly session cookie rides along); shapes are shared
// with the emulator as types only.
import type { SimCustomer, SimMessage } from '../../../src/sandbox/emulator-state.ts'
import type { Faults } from '../../../src/sandbox/emulator.ts'

export type { SimMessage, Faults }
export interface Customer extends SimCustomer {
  windowOpen: boolean
  /** Business messages this customer has not read yet. */
  unread: number
}
export interface SandboxInfo {
  sandbox: true
  phoneNumberId: string
  displayPhoneNumber: string
  wabaId: string
}

export class SandboxError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

/** JSON over fetch for the sandbox's own API (shared by the WhatsApp and Messenger players). */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch {
    throw new SandboxError(0, 'Parley could not be reached')
  }
  const json = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
  if (!res.ok) throw new SandboxError(res.status, json?.error?.message ?? `HTTP ${res.status}`)
  return json as T
}

/** What a customer can send (the emulator turns it into Meta's webhook). */
export type CustomerInput =
  | { type: 'text'; text: string; contextId?: string; timestamp?: number }
  | { type: 'image'; data: string; mimeType: string; caption?: string; contextId?: string }
  | { type: 'reaction'; reaction: { messageId: string; emoji: string } }
  | { type: 'button' | 'interactive'; contextId: string; button: { text: string; payload?: string } }

export const sandboxApi = {
  info: () => request<SandboxInfo>('GET', '/api/sandbox/info'),
  customers: () => request<{ customers: Customer[] }>('GET', '/api/sandbox/customers'),
  createCustomer: (name: string, phone?: string) =>
    request<{ customer: Customer }>('POST', '/api/sandbox/customers', { name, ...(phone ? { phone } : {}) }),
  messages: (phone: string) => request<{ customer: Customer; messages: SimMessage[] }>('GET', `/api/sandbox/customers/${phone}/messages`),
  send: (phone: string, input: CustomerInput) =>
    request<{ message: SimMessage; delivered: boolean }>('POST', `/api/sandbox/customers/${phone}/messages`, input),
  read: (phone: string) => request<{ read: number }>('POST', `/api/sandbox/customers/${phone}/read`),
  faults: () => request<{ faults: Faults }>('GET', '/api/sandbox/faults'),
  setFaults: (patch: Partial<Faults>) => request<{ faults: Faults }>('PUT', '/api/sandbox/faults', patch),
}

export const mediaSrc = (id: string) => `/api/sandbox/media/${encodeURIComponent(id)}`
