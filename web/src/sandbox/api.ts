// The sandbox's control API (/api/sandbox/*), as the simulator page uses it, on the
// app's one client (api/client.ts). The browser is signed in to Parley (the HttpOnly
// session cookie rides along); shapes are shared with the emulator as types only.
// The simulator has no sign-in form of its own: it registers no session handler, and
// says "signed out" where a call answers 401 (state.ts, messenger-state.ts).
import { request } from '../api/client.ts'
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
