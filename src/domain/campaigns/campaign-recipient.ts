// A campaign recipient as its message makes it: the status and the failure wording the
// per-recipient table shows. Pure, so the server's table (campaign-analytics.ts) and the
// browser's live table (issue 11 point 6: it lagged the counters until a reload) read a
// `message.updated` the same way. STATUS_SQL in store/campaign-recipients.ts is the same rule
// in SQL for the counters; test/campaign-recipient.test.ts holds the two together.
import type { RecipientStatus } from '../../events/types.ts'
import { plainReason } from '../sending/meta-errors.ts'

/** The recipient's status once its message exists (before that: queued or skipped). */
export function recipientStatusOf(messageStatus: string | null): RecipientStatus {
  if (messageStatus === null || messageStatus === 'pending' || messageStatus === 'queued') return 'queued'
  // A voice message played was read.
  if (messageStatus === 'played') return 'read'
  return messageStatus as RecipientStatus
}

/** Why a failed recipient failed, in the words the "Failed, by reason" table uses. */
export function recipientFailure(code: number | null, detail: string | null): { code: number | null; reason: string } {
  return { code, reason: code !== null ? plainReason(code, detail) : (detail ?? 'Not sent') }
}
