// Status moves only forward. Meta does not order status webhooks and may skip
// "delivered" when delivered and read happen together, so a late "delivered" must
// never downgrade "read", and every duplicate must be a no-op.
import type { MessageStatus } from '../../store/schema.ts'

export const STATUS_RANK: Record<MessageStatus, number> = {
  received: 0,
  pending: 1,
  queued: 2,
  sending: 3,
  unknown: 4,
  sent: 10,
  delivered: 20,
  read: 30,
  played: 40,
  // Terminal for a message that never reached the phone; see applyStatus.
  failed: 5,
}

export interface StatusState {
  status: MessageStatus
  sentAt: number | null
  deliveredAt: number | null
  readAt: number | null
  failedAt: number | null
  errorCode: number | null
  errorTitle: string | null
  errorDetail: string | null
}

export interface StatusUpdate {
  status: 'sent' | 'delivered' | 'read' | 'played' | 'failed'
  timestamp: number
  error: { code: number | null; title: string | null; detail: string | null } | null
}

/** The fields to change, or null when the update changes nothing. */
export function applyStatus(cur: StatusState, up: StatusUpdate): Partial<StatusState> | null {
  const patch: Partial<StatusState> = {}
  if (up.status === 'failed') {
    // A message the phone acknowledged cannot fail afterwards; a second failure is a duplicate.
    if (cur.status === 'failed' || STATUS_RANK[cur.status] >= STATUS_RANK.delivered) return null
    patch.status = 'failed'
    patch.failedAt = up.timestamp
    patch.errorCode = up.error?.code ?? null
    patch.errorTitle = up.error?.title ?? null
    patch.errorDetail = up.error?.detail ?? null
    return patch
  }
  // Fill in the time of each step even when it arrives late, without moving back.
  if (up.status === 'sent' && cur.sentAt === null) patch.sentAt = up.timestamp
  if (up.status === 'delivered' && cur.deliveredAt === null) patch.deliveredAt = up.timestamp
  if ((up.status === 'read' || up.status === 'played') && cur.readAt === null) patch.readAt = up.timestamp
  if (cur.status !== 'failed' && STATUS_RANK[up.status] > STATUS_RANK[cur.status]) patch.status = up.status
  return Object.keys(patch).length > 0 ? patch : null
}
