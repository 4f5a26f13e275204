// Viewing and typing (issue 14): `POST /api/conversations/:id/presence` → 204. On the one client (client.ts).
import { request } from './client.ts'
import type { PresenceFrame } from '../../../src/events/types.ts'

export type PresenceState = PresenceFrame['state']
export type PresenceMode = NonNullable<PresenceFrame['mode']>

export const presenceApi = {
  // quiet401: a background heartbeat never opens the sign-in by itself; the stream and
  // the next action notice an ended session.
  signal: (conversationId: number, state: PresenceState, mode?: PresenceMode) =>
    request<null>('POST', `/api/conversations/${conversationId}/presence`, mode ? { state, mode } : { state }, { quiet401: true }),
}
