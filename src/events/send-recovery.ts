// What an agent can do about a reply that failed or was not confirmed (issue 11 point
// 3): the one rule behind both the retry route (src/domain/sending/replies.ts) and the failed
// bubble's button (web/src/components/MessageBubble.tsx). Pure, no imports but types,
// so the browser bundles the same code the server runs.
//
// Retry is offered only where another attempt can succeed: Meta's transient errors and
// throttles, a send Parley could not confirm, failures before Meta answered (network,
// a disabled channel, a missing token — fixable, then worth a retry), an expired token
// (once an admin renews it), and Meta's "try later" codes. A closed window is not a
// retry: on WhatsApp only a template reaches the customer; on Messenger, a person's
// follow-up with the HUMAN_AGENT tag (up to 7 days). Anything else would fail the same
// way again, so the bubble says why and offers nothing.
import type { ChannelKind, MessageDTO } from './types.ts'

export type RecoveryAction =
  /** Send the same message again (a new attempt). */
  | 'retry'
  /** WhatsApp's window is closed: choose an approved template instead. */
  | 'template'
  /** Messenger's 24 hours are over: a person's follow-up, sent with the HUMAN_AGENT tag. */
  | 'human_agent'
  /** Nothing Parley can do would make it go through. */
  | 'none'

export interface Recovery {
  action: RecoveryAction
  /** Why, in words an agent understands. */
  reason: string
}

/**
 * Meta's codes where a later attempt can succeed: transient (1, 2, 131000, 131016,
 * 131057), throttles (4, 80007, 130429), an invalid token once renewed (0, 190), and
 * "not now" (131049: too many marketing messages lately; 131056: too many to this
 * customer in a short time). meta-errors.ts's transient and throttle codes must all be
 * here (test/send-recovery.test.ts checks it).
 */
export const RETRYABLE_CODES: ReadonlySet<number> = new Set([0, 1, 2, 4, 190, 80007, 130429, 131000, 131016, 131049, 131056, 131057])

/** WhatsApp: more than 24 hours since the customer last wrote (W-ERRORS). */
export const WHATSAPP_WINDOW_CODE = 131047
/** Messenger's Send API: outside the allowed window (code 10, subcode 2018278, M-POLICY). */
export const MESSENGER_WINDOW_CODE = 10

const WINDOW_REASON: Record<ChannelKind, string> = {
  whatsapp:
    'WhatsApp did not deliver it: more than 24 hours have passed since the customer last wrote. Only an approved template reaches them until they write again.',
  messenger:
    'Messenger refused it: the customer last wrote more than 24 hours ago. A person on your team can still follow up (sent with the HUMAN_AGENT tag) within 7 days of their message.',
}
const MESSENGER_CLOSED_REASON =
  'Messenger refused even a human agent’s follow-up: more than 7 days have passed since the customer last wrote. Nothing can be sent until they write again.'

/** The recovery for an outbound message that failed or is unconfirmed; null for any other message. */
export function sendRecovery(m: Pick<MessageDTO, 'direction' | 'status' | 'error' | 'context'>, channel: ChannelKind): Recovery | null {
  if (m.direction !== 'out') return null
  if (m.status === 'unknown') {
    return {
      action: 'retry',
      reason:
        m.error?.detail ??
        'Parley could not confirm this message was sent. Sending it again may deliver it twice if the first attempt arrived.',
    }
  }
  if (m.status !== 'failed') return null
  const code = m.error?.code ?? null
  const said = m.error?.detail || m.error?.title || 'The message was not delivered.'
  if (channel === 'whatsapp' && code === WHATSAPP_WINDOW_CODE) return { action: 'template', reason: WINDOW_REASON.whatsapp }
  if (channel === 'messenger' && code === MESSENGER_WINDOW_CODE) {
    // Already a tagged follow-up (replies.ts marks it): Meta's 7 days are over as well.
    if (m.context?.messengerTag === 'HUMAN_AGENT') return { action: 'none', reason: MESSENGER_CLOSED_REASON }
    return { action: 'human_agent', reason: WINDOW_REASON.messenger }
  }
  // No code: Parley's own side failed before Meta answered (network, channel, token).
  if (code === null || RETRYABLE_CODES.has(code)) return { action: 'retry', reason: said }
  return { action: 'none', reason: said }
}
