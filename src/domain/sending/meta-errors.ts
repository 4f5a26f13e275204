// Meta's error codes: what each means for a retry, and what to tell an agent.
// Meta says to key on `code` (+ details), never on titles, subcodes or the HTTP
// status (meta-platform-facts.md §3, W-ERRORS). One table, so the worker, the
// status webhooks and the UI all tell the same story.

export type ErrorClass =
  /** Worth another attempt later: Meta was busy or had a hiccup. */
  | 'transient'
  /** The number's throughput is exhausted: pause every send on that number. */
  | 'throttle'
  /** Will fail the same way again: one attempt, then a clear reason. */
  | 'permanent'

interface Entry {
  cls: ErrorClass
  reason: string
}

const TABLE: Record<number, Entry> = {
  // Transient.
  1: { cls: 'transient', reason: 'Meta had a temporary problem; Parley will try again.' },
  2: { cls: 'transient', reason: 'Meta’s service was temporarily unavailable; Parley will try again.' },
  4: { cls: 'throttle', reason: 'Too many API calls for this app right now; Parley is slowing down.' },
  80007: { cls: 'throttle', reason: 'The WhatsApp account hit its API call limit; Parley is slowing down.' },
  131000: { cls: 'transient', reason: 'Something went wrong at Meta; Parley will try again.' },
  131016: { cls: 'transient', reason: 'WhatsApp is overloaded right now; Parley will try again.' },
  131057: { cls: 'transient', reason: 'The WhatsApp number is in maintenance (a throughput upgrade); Parley will try again.' },
  130429: { cls: 'throttle', reason: 'This number is sending faster than Meta allows; Parley paused it briefly.' },

  // Permanent for this message.
  0: { cls: 'permanent', reason: 'Meta could not authenticate the request; check the access token.' },
  3: { cls: 'permanent', reason: 'The app lacks the permission to send WhatsApp messages.' },
  10: { cls: 'permanent', reason: 'The app lacks the permission for this action.' },
  100: { cls: 'permanent', reason: 'Meta rejected the message as invalid (an unsupported or misspelled parameter).' },
  190: { cls: 'permanent', reason: 'The WhatsApp access token has expired or is invalid; an admin must renew it.' },
  200: { cls: 'permanent', reason: 'The app lacks the permission to send WhatsApp messages.' },
  368: { cls: 'permanent', reason: 'The WhatsApp Business account is restricted for a policy violation.' },
  130472: { cls: 'permanent', reason: 'The customer’s number is part of an experiment and was not sent this message.' },
  130497: { cls: 'permanent', reason: 'This business cannot message customers in that country.' },
  131005: { cls: 'permanent', reason: 'Permission denied by Meta for this request.' },
  131008: { cls: 'permanent', reason: 'A required field was missing from the message.' },
  131009: {
    cls: 'permanent',
    reason: 'A field of the message had a value WhatsApp does not accept (for a reaction: the message is too old or was deleted).',
  },
  131021: { cls: 'permanent', reason: 'The recipient is the business number itself.' },
  131026: {
    cls: 'permanent',
    reason:
      'The message could not be delivered: the number may not be on WhatsApp, or the customer uses an old app version or has not accepted WhatsApp’s terms.',
  },
  131030: { cls: 'permanent', reason: 'The number is not on the allowed list of this test account.' },
  131031: { cls: 'permanent', reason: 'The WhatsApp Business account is locked.' },
  131037: { cls: 'permanent', reason: 'The number needs a display name approved before it can send.' },
  131042: { cls: 'permanent', reason: 'There is a payment problem with the WhatsApp Business account.' },
  131045: { cls: 'permanent', reason: 'The phone number is not registered with the Cloud API.' },
  131047: {
    cls: 'permanent',
    reason: 'More than 24 hours have passed since the customer last wrote. Only an approved template can be sent until they write again.',
  },
  131048: { cls: 'permanent', reason: 'WhatsApp limited this number because too many of its messages were blocked or reported as spam.' },
  131049: {
    cls: 'permanent',
    reason:
      'WhatsApp did not deliver this message to keep the customer’s experience healthy (too many marketing messages). Try again in a day or more.',
  },
  131050: { cls: 'permanent', reason: 'The customer has opted out of marketing messages from this business.' },
  131051: { cls: 'permanent', reason: 'WhatsApp does not support this message type.' },
  131052: { cls: 'permanent', reason: 'The media could not be downloaded (it may be over 100 MB).' },
  131053: { cls: 'permanent', reason: 'The media could not be uploaded: its type or size is not accepted.' },
  131056: { cls: 'permanent', reason: 'Too many messages to this customer in a short time. Wait a little before writing again.' },
  132000: { cls: 'permanent', reason: 'The template’s parameters do not match (wrong number of values).' },
  132001: { cls: 'permanent', reason: 'The template does not exist in that language, or is not approved yet.' },
  132005: { cls: 'permanent', reason: 'The template text is too long once the parameters are filled in.' },
  132007: { cls: 'permanent', reason: 'The filled-in template breaks WhatsApp’s formatting or policy rules.' },
  132012: { cls: 'permanent', reason: 'A template parameter has the wrong format.' },
  132015: { cls: 'permanent', reason: 'The template is paused because of low quality.' },
  132016: { cls: 'permanent', reason: 'The template is disabled because of low quality.' },
  133010: { cls: 'permanent', reason: 'The phone number is not registered with WhatsApp.' },
}

/** What a code means for a retry. Unknown 132xxx are template problems; other unknown codes are not retried. */
export function classify(code: number | null | undefined): ErrorClass {
  if (code === null || code === undefined) return 'permanent'
  const e = TABLE[code]
  if (e) return e.cls
  return 'permanent'
}

/** A sentence an agent understands, for any code (with Meta's own text as the fallback). */
// The same Graph codes mean other things on Messenger's Send API.
const MESSENGER_REASONS: Record<number, string> = {
  10: 'Outside Messenger’s allowed window: the customer last wrote more than 24 hours ago (7 days with the human-agent tag).',
  190: 'The Page access token has expired or is invalid; an admin must renew it.',
  200: 'The app lacks the pages_messaging permission for this Page.',
  551: 'This person is not available on Messenger right now.',
}

export function plainReason(
  code: number | null | undefined,
  metaDetail?: string | null,
  channel: 'whatsapp' | 'messenger' = 'whatsapp',
): string {
  if (channel === 'messenger' && code !== null && code !== undefined && MESSENGER_REASONS[code]) return MESSENGER_REASONS[code]
  const e = code === null || code === undefined ? undefined : TABLE[code]
  if (e) return e.reason
  if (code !== null && code !== undefined && code >= 132000 && code < 133000) {
    return 'The template could not be sent: it does not match what Meta approved.'
  }
  return metaDetail && metaDetail.length > 0 ? metaDetail : `${serviceOf(channel)} refused the message.`
}

/** How the agent knows the service a channel sends through. */
const serviceOf = (channel: 'whatsapp' | 'messenger') => (channel === 'messenger' ? 'Messenger' : 'WhatsApp')

/** Reasons for failures that happen before Meta answers, in the channel's words. */
export function localReasons(channel: 'whatsapp' | 'messenger' = 'whatsapp') {
  const s = serviceOf(channel)
  return {
    network: `Parley could not reach ${s}; it will try again.`,
    ambiguous: `The connection to ${s} broke after the message was handed over, so Parley cannot tell whether it was sent. It will not resend it by itself; a status from ${s} will settle it.`,
    http: `${s} answered with an unexpected error.`,
    unreachable: `${s} could not be reached.`,
    exhausted: 'Parley gave up after several attempts.',
    mediaMissing: 'The attached file is no longer available.',
  } as const
}
export const LOCAL_REASONS = localReasons('whatsapp')
