// Internal notes and mentions (issue 14), on the one client (client.ts).
import type { MentionDTO, MessageDTO } from '../../../src/events/types.ts'
import { qs, request } from './client.ts'

export type { MentionDTO }

/** A teammate as GET /api/team lists them: the note composer's @ picker. */
export interface Teammate {
  id: number
  name: string
  role: 'admin' | 'agent'
  channelIds: number[]
}

export interface MentionPage {
  mentions: MentionDTO[]
  nextCursor: string | null
  unread: number
}

export const notesApi = {
  create: (conversationId: number, text: string, mentions: number[]) =>
    request<{ note: MessageDTO }>('POST', `/api/conversations/${conversationId}/notes`, { text, mentions }),
  remove: (conversationId: number, noteId: number) => request<null>('DELETE', `/api/conversations/${conversationId}/notes/${noteId}`),
  mentions: (cursor: string | null) => request<MentionPage>('GET', `/api/mentions${qs({ cursor })}`),
  /** Without ids: all of them. */
  read: (ids?: number[]) => request<{ mentionIds: number[]; unread: number }>('POST', '/api/mentions/read', ids ? { ids } : {}),
  team: () => request<{ people: Teammate[] }>('GET', '/api/team'),
}
