// Which event log types an outgoing webhook may subscribe to (issue 16). Every type of
// src/events/types.ts is named here (the compiler insists), so a new event is decided on:
// the workspace's and its channels' events go out; those addressed to one person (their
// assignment notice, their mentions, their read position) stay theirs and are never sent.
import type { EventType } from '../../events/types.ts'
import { Errors } from '../../errors.ts'

const DELIVERABLE: Record<EventType, boolean> = {
  'message.created': true,
  'message.updated': true,
  // Delivered without the one-person copies a read position emits (their unread count).
  'conversation.updated': true,
  // To the new assignee alone; `conversation.updated` carries the assignee for everyone.
  'conversation.assigned': false,
  'message.deleted': true,
  'campaign.updated': true,
  'contact.updated': true,
  'contacts.imported': true,
  'channel.updated': true,
  // Internal (the processes' channel directories reload on it), addressed to nobody.
  'channel.changed': false,
  'user.updated': true,
  'labels.changed': true,
  'mention.created': false,
  'mentions.read': false,
  // A contact's data was erased: a receiver that keeps copies erases them too. (Older events
  // about it became `erased` tombstones, which no endpoint subscribes to, so they are not sent.)
  'conversation.deleted': true,
  'contact.deleted': true,
}

export const WEBHOOK_EVENT_TYPES: readonly EventType[] = (Object.keys(DELIVERABLE) as EventType[]).filter((t) => DELIVERABLE[t])

/** The types, deduplicated in the order given; WEBHOOK_EVENT_UNKNOWN names the first one that is not deliverable. */
export function checkEventTypes(types: readonly string[]): EventType[] {
  if (types.length === 0) throw Errors.webhookEventUnknown('Choose at least one event type')
  for (const t of types) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(t)) {
      const why = Object.hasOwn(DELIVERABLE, t)
        ? `“${t}” is addressed to one person and is not sent to webhooks`
        : `“${t}” is not an event type`
      throw Errors.webhookEventUnknown(`${why}; the types are ${WEBHOOK_EVENT_TYPES.join(', ')}`)
    }
  }
  return [...new Set(types)] as EventType[]
}
