// Issue 15: full-text search over every message, note and contact the caller may see,
// on the one client (client.ts). A query the server cannot read answers 400 BAD_QUERY
// with a message for a person.
import type { ConversationDTO } from '../../../src/events/types.ts'
import { qs, request } from './client.ts'

export interface SearchResult {
  conversationId: number
  /** The message found; null (or absent) when the conversation matched by its contact (name, number). */
  messageId: number | null
  /** Text around the match, plain text (rendered as text, never as HTML). */
  snippet: string
  /** Where the words found are in `snippet`: [start, end) character ranges. Absent: shown plain. */
  highlights?: Array<[number, number]>
  timestamp: number
  conversation: ConversationDTO
}

export interface SearchPage {
  results: SearchResult[]
  nextCursor: string | null
}

export const searchApi = {
  search: (q: string, cursor: string | null, limit: number) => request<SearchPage>('GET', `/api/search${qs({ q, cursor, limit })}`),
}
