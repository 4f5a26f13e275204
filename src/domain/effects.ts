// The moments other features join, as one typed list. app.ts registers every listener
// (read it to see everything that happens when a message is stored); the writers call
// the dispatchers. Listeners of these moments run inside the transaction that stores
// them, so what they write commits or rolls back with the message; what runs after the
// commit is registered on the event log (EventLog.onCommitted) and receives the typed
// events (CommittedEvent), never their serialized JSON. Listeners that write are units of
// work (store/unit.ts, issue 17): the same on SQLite and PostgreSQL.
import type { WaPreference, WaStatus } from '../channels/whatsapp/parse.ts'
import type { Emitter } from '../events/event-log.ts'
import type { ChannelRow, ContactRow, ConversationRow, MessageRow } from '../store/inbox-store.ts'
import type { Q } from '../store/unit.ts'

/** A customer's message was stored, or an echo of one the business sent from the phone app. */
export interface MessageStored {
  channel: ChannelRow
  message: MessageRow
  batch: Emitter
}

/** A WhatsApp status for a wamid Parley has not stored: it may name one of Parley's own sends. */
export interface UnknownStatus {
  channel: ChannelRow
  status: WaStatus
  batch: Emitter
}

/** A customer stopped or resumed marketing messages inside WhatsApp. */
export interface MarketingPreference {
  channel: ChannelRow
  contact: ContactRow
  preference: WaPreference
  batch: Emitter
}

/** A person wrote to a Messenger Page. */
export interface ContactWrote {
  channel: ChannelRow
  contact: ContactRow
}

/**
 * A customer's message (or reaction) was stored in a conversation: the conversation as
 * it was before (`before.lastMessageId === null` and no inbound: brand new; `status`
 * resolved: the customer reopened it) and after. Dispatched by the inbox writer after the
 * message's own event. Automatic assignment and the automatic replies join here.
 */
export interface CustomerWrote {
  before: ConversationRow
  after: ConversationRow
  message: MessageRow
  batch: Emitter
}

export class SideEffects {
  private readonly stored: Array<(e: MessageStored) => Q<MessageRow | undefined | void>> = []
  private readonly unknown: Array<(e: UnknownStatus) => Q<MessageRow | undefined>> = []
  private readonly preferences: Array<(e: MarketingPreference) => Q<unknown>> = []
  private readonly wrote: Array<(e: ContactWrote) => void> = []
  private readonly customer: Array<(e: CustomerWrote) => Q<void>> = []

  /** May return the message as it changed (before `message.created` is emitted with it). */
  onMessageStored(fn: (e: MessageStored) => Q<MessageRow | undefined | void>): this {
    this.stored.push(fn)
    return this
  }

  /** Returns the message the status belongs to, when the listener can name it. */
  onUnknownStatus(fn: (e: UnknownStatus) => Q<MessageRow | undefined>): this {
    this.unknown.push(fn)
    return this
  }

  onMarketingPreference(fn: (e: MarketingPreference) => Q<unknown>): this {
    this.preferences.push(fn)
    return this
  }

  onContactWrote(fn: (e: ContactWrote) => void): this {
    this.wrote.push(fn)
    return this
  }

  /** A unit of work (store/unit.ts) in the writer's: the same on SQLite and PostgreSQL (issue 17). */
  onCustomerWrote(fn: (e: CustomerWrote) => Q<void>): this {
    this.customer.push(fn)
    return this
  }

  /** Dispatched by the inbox writer, in the transaction that stores the customer's message. */
  *customerWrote(e: CustomerWrote): Q<void> {
    for (const fn of this.customer) yield* fn(e)
  }

  /** Runs the listeners in registration order, each seeing the message as the one before left it. */
  *messageStored(channel: ChannelRow, message: MessageRow, batch: Emitter): Q<MessageRow> {
    let current = message
    for (const fn of this.stored) current = (yield* fn({ channel, message: current, batch })) ?? current
    return current
  }

  /** The first listener that names the status's message wins. */
  *unknownStatus(channel: ChannelRow, status: WaStatus, batch: Emitter): Q<MessageRow | undefined> {
    for (const fn of this.unknown) {
      const found = yield* fn({ channel, status, batch })
      if (found) return found
    }
    return undefined
  }

  *marketingPreference(channel: ChannelRow, contact: ContactRow, preference: WaPreference, batch: Emitter): Q<void> {
    for (const fn of this.preferences) yield* fn({ channel, contact, preference, batch })
  }

  contactWrote(channel: ChannelRow, contact: ContactRow): void {
    for (const fn of this.wrote) fn({ channel, contact })
  }
}
