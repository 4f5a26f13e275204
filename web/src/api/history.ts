// Issue 15: a conversation's history around one message, and the pages after it, on
// the one client (client.ts). The newest and older pages are api/http.ts `messages`.
import type { MessagePage } from './http.ts'
import { qs, request } from './client.ts'

export interface HistoryPage extends MessagePage {
  /** Pages newer from the page's newest message; null at the live end. */
  newerCursor: string | null
  hasNewer: boolean
}

export const historyApi = {
  page: (conversationId: number, at: { around?: number; after?: string | null; limit: number }) =>
    request<HistoryPage>('GET', `/api/conversations/${conversationId}/messages${qs(at)}`),
}
