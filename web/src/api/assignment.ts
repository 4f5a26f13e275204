// The inbox's team endpoints (issue 13): assignment, the views' counts, the people a
// conversation can be handed to, and one's availability. On the one client (client.ts).
import type { ConversationDTO } from '../../../src/events/types.ts'
import { request } from './client.ts'

/** Mine, Unassigned, All (within my channels): the list's views (`GET /api/conversations?view=`). */
export type AssignView = 'mine' | 'unassigned' | 'all'
export type ViewCounts = Record<AssignView, number>
export type Availability = 'online' | 'busy' | 'away'

/** A person as `GET /api/users` lists them (admins only: agents get a 403). */
export interface TeamPerson {
  id: number
  name: string
  email?: string
  role?: 'admin' | 'agent'
  channelIds?: number[]
  availability?: Availability
  disabled?: boolean
}

export const assignmentApi = {
  people: () => request<{ users: TeamPerson[] }>('GET', '/api/users'),
  /** Everyone may read this one: the active teammates, without emails (`GET /api/team`). */
  teammates: () => request<{ people: TeamPerson[] }>('GET', '/api/team'),
  /** `userId: null` unassigns. Answers the conversation as the caller sees it. */
  assign: (conversationId: number, userId: number | null) =>
    request<{ conversation: ConversationDTO }>('POST', `/api/conversations/${conversationId}/assign`, { userId }),
  counts: () => request<ViewCounts>('GET', '/api/conversations/counts'),
  setAvailability: (status: Availability) => request<{ user?: { availability?: Availability } }>('PUT', '/api/me/availability', { status }),
}
