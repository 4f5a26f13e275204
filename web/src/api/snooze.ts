// Snooze (issue 14) on the one client (client.ts). Ending a snooze, and pending, are a
// status: POST /api/conversations/:id/status (api/http.ts's post).
import type { ConversationDTO } from '../../../src/events/types.ts'
import { request } from './client.ts'

export const snoozeApi = {
  /** Until `until` (Unix ms): 422 SNOOZE_TIME_INVALID when it is not in the future or more than a year away. */
  snooze: (conversationId: number, until: number) =>
    request<{ conversation: ConversationDTO }>('POST', `/api/conversations/${conversationId}/snooze`, { until }),
}
