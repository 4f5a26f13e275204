// The sandbox's Messenger control API (/api/sandbox/messenger/*), as the simulator's
// Messenger player uses it; shapes shared with the emulator as types only.
import type { MsMessage, MsUser, MsUserInput } from '../../../src/sandbox/emulator-messenger.ts'
import { request } from '../api/client.ts'

export type { MsMessage, MsUserInput }
export interface MsUserView extends MsUser {
  windowOpen: boolean
  humanAgentOpen: boolean
  /** Page messages this user has not read yet. */
  unread: number
}

const base = '/api/sandbox/messenger'
export const messengerApi = {
  info: () => request<{ pages: { pageId: string; name: string }[] }>('GET', base),
  users: () => request<{ users: MsUserView[] }>('GET', `${base}/users`),
  createUser: (name: string) => request<{ user: MsUserView }>('POST', `${base}/users`, { name }),
  messages: (psid: string) => request<{ user: MsUserView; messages: MsMessage[] }>('GET', `${base}/users/${psid}/messages`),
  send: (psid: string, input: MsUserInput) =>
    request<{ message: MsMessage; delivered: boolean }>('POST', `${base}/users/${psid}/messages`, input),
  read: (psid: string) => request<{ read: number }>('POST', `${base}/users/${psid}/read`),
  streamUrl: `${base}/stream`,
}
