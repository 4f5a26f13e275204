// The labels API (issue 14) on the one client (client.ts): everyone reads the workspace's
// labels; admins define them; anyone who sees a conversation sets its labels.
import type { ConversationDTO, LabelRef } from '../../../src/events/types.ts'
import { request } from './client.ts'

export type { LabelRef }

export const labelsApi = {
  /** `eventId`: the stream position the list is current to. */
  list: () => request<{ labels: LabelRef[]; eventId: string }>('GET', '/api/labels'),
  create: (body: { name: string; color: string }) => request<{ label: LabelRef }>('POST', '/api/labels', body),
  update: (id: number, patch: { name?: string; color?: string }) => request<{ label: LabelRef }>('PATCH', `/api/labels/${id}`, patch),
  remove: (id: number) => request<null>('DELETE', `/api/labels/${id}`),
  /** The conversation's whole set of labels (idempotent). */
  setOnConversation: (conversationId: number, labelIds: number[]) =>
    request<{ conversation: ConversationDTO }>('PUT', `/api/conversations/${conversationId}/labels`, { labelIds }),
}
