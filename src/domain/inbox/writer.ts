// The one writer of messages and conversation summaries. Every way a message enters the
// inbox — a customer's (WhatsApp, Messenger), an agent's reply, a campaign's template,
// the business's own from the phone app or the Page inbox, a system line — and every
// change to one (a status, a reaction, downloaded media) goes through here, so the
// rules live once: the preview, the out-of-order guard, unread, the 24-hour window,
// `lastActivityAt`, how long the customer waits for a reply, and the `message.created` /
// `message.updated` / `conversation.updated` events. Everything runs in the caller's transaction; the
// events it emits are published after the commit.
//
// Issue 17: every method that touches the database is a unit of work (store/unit.ts) taking
// the unit's `Emitter`, so the same rules run on SQLite and PostgreSQL. Code inside a unit
// calls them with `yield*`; code still synchronous on SQLite runs them at once with
// `store.runNow(writer.x(…))` inside its transaction. A unit is lazy: a call whose result is
// neither yielded nor run does nothing.
import { statusErrorOf, type WaStatusName } from '../../channels/whatsapp/parse.ts'
import type { Emitter } from '../../events/event-log.ts'
import { listPreviewOf } from '../../events/preview.ts'
import type { ChannelKind, ConversationDTO, SystemLineData } from '../../events/types.ts'
import {
  type ContactRow,
  type ConversationRow,
  type InboxRepos,
  type MessageRow,
  type NewConversation,
  type NewMessage,
  toConversationDTO,
  toMessageDTO,
} from '../../store/inbox-store.ts'
import type { Q } from '../../store/unit.ts'
import { LabelsRepo } from '../../store/labels.ts'
import { PendingStatuses } from '../../store/webhook-leftovers.ts'
import type { SideEffects } from '../effects.ts'
import { plainReason } from '../sending/meta-errors.ts'
import { applyStatus, type StatusUpdate } from './message-status.ts'

/** Meta's customer-service window: 24 h after the customer's last message. */
export const SERVICE_WINDOW_MS = 24 * 3600 * 1000

/** A message as its writer describes it; the writer places it in its conversation. */
export type MessageInput = Omit<NewMessage, 'workspaceId' | 'conversationId' | 'channelId'>

/**
 * Who the message is from, which decides what it does to its conversation:
 * - `customer`: reopens it, counts as unread, opens Meta's 24-hour window.
 * - `echo`: the business writing from elsewhere (the phone app, the Page's inbox): moves
 *   the preview and the order like a reply, opens no window, adds nothing unread.
 * - `agent`: Parley's own send, made now: always the newest, to the top of the inbox.
 * - `broadcast`: a campaign's message: the newest, but the conversation keeps its place
 *   in the inbox (a broadcast does not push thousands of them to the top), and one
 *   opened for it starts resolved (a reply reopens it).
 */
export type Author = 'customer' | 'echo' | 'agent' | 'broadcast'

export interface RecordOptions {
  by: Author
  now: number
  /** `customer`: false for a reaction, shown on its message and not counted as unread. */
  countsAsUnread?: boolean
  /**
   * `agent`: sent by Parley on nobody's behalf (an away reply, a greeting): not a
   * person's reply, so the customer is still waiting for one.
   */
  automatic?: boolean
  /** `broadcast`: the conversation was opened for this message. */
  newConversation?: boolean
  /**
   * The conversation's contact and channel kind, when the caller has them: the event's
   * conversation is then built from the updated row instead of read back through four
   * joins (one statement of the eight an inbound message costs).
   */
  view?: { contact: ContactRow; channelKind: ChannelKind }
  /**
   * The caller's part of the same unit of work, after the insert and before the
   * conversation changes and `message.created` is emitted (the outbox row, the side
   * effects of a stored message). Returns the message as it changed, if it did.
   */
  alongside?(row: MessageRow): Q<MessageRow | undefined | void>
}

export class InboxWriter {
  private readonly pending = new PendingStatuses()
  private readonly labels = new LabelsRepo()

  constructor(
    /** Repositories only: the writer runs on whichever database its units are run on. */
    private readonly store: InboxRepos,
    private readonly now: () => number,
    /** The moments the writer dispatches (a customer wrote), registered in app.ts. */
    private readonly effects?: Pick<SideEffects, 'customerWrote'>,
  ) {}

  /**
   * Stores a message in its conversation, updates the conversation and emits
   * `message.created`. Undefined when the message is already stored (a duplicate
   * delivery: its provider id or client id exists): nothing changes, nothing is emitted.
   */
  *record(
    batch: Emitter,
    conv: ConversationRow,
    input: MessageInput,
    opts: RecordOptions,
  ): Q<{ message: MessageRow; conversation: ConversationDTO } | undefined> {
    // A system line is recordSystemLine's: it never becomes the preview.
    if (input.direction === 'system') throw new Error('InboxWriter.record: a system line is not conversation activity')
    const inserted = yield* this.store.messages.insertMessage({
      ...input,
      workspaceId: conv.workspaceId,
      conversationId: conv.id,
      channelId: conv.channelId,
    })
    if (!inserted) return undefined
    const message = (opts.alongside ? yield* opts.alongside(inserted) : undefined) ?? inserted
    const { row, conversation } = yield* this.summarize(conv, message, opts)
    batch.emit(conv.workspaceId, 'message.created', { message: toMessageDTO(message), conversation }, { channelId: conv.channelId })
    // After the message's own event, so a timeline reads "message, then Ana took this".
    if (opts.by === 'customer' && this.effects) yield* this.effects.customerWrote({ before: conv, after: row, message, batch })
    return { message, conversation }
  }

  /** What a new message does to its conversation's summary; returns the conversation as the event carries it. */
  private *summarize(
    conv: ConversationRow,
    row: MessageRow,
    opts: RecordOptions,
  ): Q<{ row: ConversationRow; conversation: ConversationDTO }> {
    const { by, now } = opts
    const inbound = by === 'customer'
    // Out-of-order delivery: an older message never moves the preview back in time.
    // Meta stamps inbound messages in whole seconds while Parley stamps its sends in
    // milliseconds, so within the same second arrival decides. Parley's own sends are
    // made now: always the newest.
    const newest =
      by === 'agent' || by === 'broadcast' || conv.lastMessageAt === null || row.timestamp + (inbound ? 999 : 0) >= conv.lastMessageAt
    const waitingSince = waitingAfter(conv, row, by, newest, opts.automatic === true)
    const updated = yield* this.store.conversations.updateConversation(conv.id, {
      ...(inbound
        ? {
            // A customer's message brings a pending, snoozed or resolved conversation back to Open.
            status: 'open' as const,
            snoozedUntil: null,
            unreadCount: opts.countsAsUnread === false ? conv.unreadCount : conv.unreadCount + 1,
            lastInboundAt: Math.max(conv.lastInboundAt ?? 0, row.timestamp),
            windowExpiresAt: Math.max(conv.windowExpiresAt ?? 0, row.timestamp + SERVICE_WINDOW_MS),
          }
        : {}),
      // The inbox orders by when Parley received it: a message Meta retried for hours is
      // news to the agent and belongs at the top. A broadcast keeps the conversation's place.
      ...(by === 'broadcast' ? {} : { lastActivityAt: Math.max(conv.lastActivityAt, now) }),
      ...(by === 'broadcast' && opts.newConversation ? { status: 'resolved' as const } : {}),
      ...(waitingSince !== conv.waitingSince ? { waitingSince } : {}),
      updatedAt: now,
      ...(newest
        ? {
            lastMessageId: row.id,
            lastMessagePreview: listPreviewOf(row),
            lastMessageDirection: row.direction as 'in' | 'out',
            lastMessageAt: row.timestamp,
          }
        : {}),
    })
    // The list's last-message status is this message's when it is the newest; an older
    // one arriving late leaves it as stored, which only the read-back knows.
    // An assignee's name is the read-back's too.
    if (opts.view && newest && updated.assigneeId === null) {
      const { contact, channelKind } = opts.view
      const conversation = toConversationDTO({
        c: updated,
        contact: { id: contact.id, externalId: contact.externalId, name: contact.name, phone: contact.phone },
        channelKind,
        last: { status: row.status, errorTitle: row.errorTitle, errorDetail: row.errorDetail },
        assignee: null,
        labels: yield* this.store.conversations.labelsOf(conv.id),
      })
      return { row: updated, conversation }
    }
    return { row: updated, conversation: (yield* this.store.conversations.conversationDTO(conv.workspaceId, conv.id))! }
  }

  /**
   * A line of the team's activity in the timeline ("Ana resolved this"): a message row
   * (direction `system`, type `activity`) so it pages, replays and orders with the
   * history, but never the preview, never unread, never the window, never sent. Emits
   * `message.created` with the conversation as it now is.
   */
  *recordSystemLine(
    batch: Emitter,
    conversation: ConversationDTO,
    line: { workspaceId: number; text: string; data: SystemLineData; userId: number | null; now: number },
  ): Q<MessageRow> {
    const ws = line.workspaceId
    const row = (yield* this.store.messages.insertMessage({
      workspaceId: ws,
      conversationId: conversation.id,
      channelId: conversation.channelId,
      direction: 'system',
      type: 'activity',
      text: line.text,
      data: line.data,
      senderUserId: line.userId,
      // Not a delivery state: a system line is never sent.
      status: 'received',
      timestamp: line.now,
      createdAt: line.now,
      updatedAt: line.now,
    }))!
    batch.emit(ws, 'message.created', { message: toMessageDTO(row), conversation }, { channelId: conversation.channelId })
    return row
  }

  /**
   * An internal note (issue 14): a message row (direction `system`, type `note`, the
   * author as its sender) that pages, replays and orders with the history and is never
   * sent — the outbox refuses anything that is not `out`. Like a system line it leaves
   * the conversation exactly as it is: never the preview (the list would show the team's
   * words as if said to the customer), never unread (the customer did not write), never
   * the window or the wait (nobody answered the customer), never `lastActivityAt` (the
   * team's own chatter must not reorder everyone's list or bring a conversation back to
   * the top). Emits `message.created` with the conversation as it is.
   */
  *recordNote(
    batch: Emitter,
    conversation: ConversationDTO,
    note: { workspaceId: number; text: string; authorId: number; now: number },
  ): Q<MessageRow> {
    const ws = note.workspaceId
    const row = (yield* this.store.messages.insertMessage({
      workspaceId: ws,
      conversationId: conversation.id,
      channelId: conversation.channelId,
      direction: 'system',
      type: 'note',
      text: note.text,
      senderUserId: note.authorId,
      // Not a delivery state: a note is never sent.
      status: 'received',
      timestamp: note.now,
      createdAt: note.now,
      updatedAt: note.now,
    }))!
    batch.emit(ws, 'message.created', { message: toMessageDTO(row), conversation }, { channelId: conversation.channelId })
    return row
  }

  /**
   * Deletes a note (its author's choice, issue 14; the caller removed its mentions first)
   * and emits `message.deleted` to the channel. False when `note` is not a note.
   */
  *deleteNote(batch: Emitter, note: MessageRow): Q<boolean> {
    if (!(yield* this.store.messages.deleteNote(note.id))) return false
    batch.emit(
      note.workspaceId,
      'message.deleted',
      { messageId: note.id, conversationId: note.conversationId },
      { channelId: note.channelId },
    )
    return true
  }

  /**
   * Gives the conversation to `assigneeId` (null: back to the pool), with its line in the
   * timeline and `conversation.updated`, in the caller's transaction. Only the assignee
   * (and updatedAt) changes: never unread, the preview, the order or the window.
   * Idempotent: undefined when it already has that assignee (no write, no event).
   */
  *assign(
    batch: Emitter,
    conv: ConversationRow,
    assigneeId: number | null,
    line: { text: string; data: SystemLineData; userId: number | null; now: number },
  ): Q<{ row: ConversationRow; conversation: ConversationDTO } | undefined> {
    if (conv.assigneeId === assigneeId) return undefined
    const ws = conv.workspaceId
    const row = yield* this.store.conversations.updateConversation(conv.id, { assigneeId, updatedAt: line.now })
    const conversation = (yield* this.store.conversations.conversationDTO(ws, conv.id))!
    yield* this.recordSystemLine(batch, conversation, { workspaceId: ws, ...line })
    this.conversationChanged(batch, ws, conversation)
    return { row, conversation }
  }

  /**
   * Snoozes the conversation until `until` (issue 14): out of Open, with its line and
   * `conversation.updated`. Only the status, snoozedUntil and updatedAt change — never
   * unread, the wait, the preview or the order. Undefined when it is already snoozed
   * until then (no write, no event).
   */
  *snooze(
    batch: Emitter,
    current: ConversationDTO,
    until: number,
    line: { text: string; data: SystemLineData; userId: number | null; now: number },
  ): Q<ConversationDTO | undefined> {
    if (current.status === 'snoozed' && current.snoozedUntil === until) return undefined
    return yield* this.statusWithLine(batch, current, { status: 'snoozed', snoozedUntil: until }, line)
  }

  /**
   * A snooze ends (its time came): back to Open with its line ("Snooze ended") and
   * `conversation.updated`; nothing else changes. Undefined when it is no longer snoozed.
   * (A customer's message ends a snooze in `record`; its line is the caller's.)
   */
  *wake(
    batch: Emitter,
    current: ConversationDTO,
    line: { text: string; data: SystemLineData; userId: number | null; now: number },
  ): Q<ConversationDTO | undefined> {
    if (current.status !== 'snoozed') return undefined
    return yield* this.statusWithLine(batch, current, { status: 'open', snoozedUntil: null }, line)
  }

  private *statusWithLine(
    batch: Emitter,
    current: ConversationDTO,
    set: Pick<NewConversation, 'status' | 'snoozedUntil'>,
    line: { text: string; data: SystemLineData; userId: number | null; now: number },
  ): Q<ConversationDTO> {
    const ws = (yield* this.store.conversations.updateConversation(current.id, { ...set, updatedAt: line.now })).workspaceId
    const conversation = (yield* this.store.conversations.conversationDTO(ws, current.id))!
    yield* this.recordSystemLine(batch, conversation, { workspaceId: ws, ...line })
    this.conversationChanged(batch, ws, conversation)
    return conversation
  }

  /**
   * One person read the conversation (issue 13): their read position moves to its newest
   * message, the shared count clears (WhatsApp's blue ticks follow the first read), and
   * only their own streams hear it — with their unread, 0. Nothing is emitted when they
   * had nothing unread. Undefined for a conversation that does not exist.
   */
  *markRead(
    batch: Emitter,
    workspaceId: number,
    conversationId: number,
    userId: number,
    now: number,
  ): Q<{ conversation: ConversationDTO; hadUnread: boolean } | undefined> {
    const viewer = { userId }
    const { conversations } = this.store
    const before = yield* conversations.conversationDTOFor(viewer, workspaceId, conversationId)
    if (!before) return undefined
    const hadUnread = (yield* conversations.markConversationRead(workspaceId, conversationId, now)) !== undefined
    yield* conversations.readUpTo(conversationId, userId, now)
    const conversation = (yield* conversations.conversationDTOFor(viewer, workspaceId, conversationId))!
    if (before.unreadCount > 0) {
      batch.emit(workspaceId, 'conversation.updated', { conversation, readBy: userId }, { channelId: conversation.channelId, userId })
    }
    return { conversation, hadUnread }
  }

  /**
   * Makes the conversation carry exactly these labels (issue 14; ids already checked to be
   * its workspace's) and emits `conversation.updated`, in the caller's transaction. Only
   * conversation_labels is written: never unread, waiting, `lastActivityAt` (the order) or
   * the preview — a label is not news, so it marks nothing unread for anyone. Labels are no
   * timeline line either: they are a filing aid, and a line per click would bury the talk.
   * Idempotent: undefined when it already carries that set (no write, no event).
   */
  *setLabels(
    batch: Emitter,
    workspaceId: number,
    conversationId: number,
    labelIds: readonly number[],
    now: number,
  ): Q<ConversationDTO | undefined> {
    if (!(yield* this.labels.setForConversation(conversationId, labelIds, now))) return undefined
    const conversation = (yield* this.store.conversations.conversationDTO(workspaceId, conversationId))!
    this.conversationChanged(batch, workspaceId, conversation)
    return conversation
  }

  /** The away reply went out now: the next one waits 12 hours (auto-replies.ts). */
  *noteAwayReply(conversationId: number, now: number): Q<void> {
    yield* this.store.conversations.updateConversation(conversationId, { awayRepliedAt: now })
  }

  /** The conversation changed (status, read, the contact's name): every stream hears it. */
  conversationChanged(batch: Emitter, workspaceId: number, conversation: ConversationDTO): void {
    batch.emit(workspaceId, 'conversation.updated', { conversation }, { channelId: conversation.channelId })
  }

  /**
   * Changes a stored message (a status, its provider id, downloaded media) and emits
   * `message.updated` — or, with no batch, only changes it: for a message whose
   * `message.created` is still to come in the same unit of work.
   */
  *updateMessage(batch: Emitter | null, id: number, patch: Partial<NewMessage>): Q<MessageRow> {
    const updated = yield* this.store.messages.updateMessage(id, { ...patch, updatedAt: patch.updatedAt ?? this.now() })
    if (batch) batch.emit(updated.workspaceId, 'message.updated', { message: toMessageDTO(updated) }, { channelId: updated.channelId })
    return updated
  }

  /** Announces a message's current state (after changes made with no batch). */
  messageChanged(batch: Emitter, row: MessageRow): void {
    batch.emit(row.workspaceId, 'message.updated', { message: toMessageDTO(row) }, { channelId: row.channelId })
  }

  /**
   * A delivery status (Meta's webhook, a Messenger watermark, an echo naming Parley's
   * send): applied only forward (message-status.ts), `extra` alongside. Undefined when
   * it changes nothing: no write, no event.
   */
  *applyStatus(
    batch: Emitter | null,
    target: MessageRow,
    update: StatusUpdate,
    extra: Partial<NewMessage> = {},
  ): Q<MessageRow | undefined> {
    const patch = applyStatus(target, update)
    if (!patch) return undefined
    return yield* this.updateMessage(batch, target.id, { ...patch, ...extra })
  }

  /**
   * Statuses that arrived before their message had its id (kept in pending_statuses):
   * applied in Meta's order once it has one. Only changes the message; the caller emits
   * (it is about to emit the message anyway). Returns the message as they left it.
   */
  *applyPendingStatuses(row: MessageRow): Q<MessageRow> {
    const providerId = row.providerMessageId
    if (providerId === null) return row
    let current = row
    for (const p of yield* this.pending.take(row.channelId, providerId)) {
      const error = statusErrorOf(p.raw)
      // A failure reported by webhook reads like one reported by the send call.
      const update: StatusUpdate = {
        status: p.status as WaStatusName,
        timestamp: p.timestamp,
        error: error ? { ...error, detail: plainReason(error.code, error.detail) } : null,
      }
      current = (yield* this.applyStatus(null, current, update)) ?? current
    }
    return current
  }

  /** A status for a message Parley has not stored (yet): kept, applied when the id appears. */
  *keepPendingStatus(p: { channelId: number; providerMessageId: string; status: string; timestamp: number; raw: unknown }): Q<void> {
    yield* this.pending.keep(p)
  }

  /**
   * Sets (or, with no emoji, removes) one reactor's reaction on a message and emits the
   * update. `reactor` is `contact:<id>` for a customer, BUSINESS_REACTOR for the business.
   */
  *react(batch: Emitter, target: MessageRow, reactor: string, emoji: string | null, now = this.now()): Q<MessageRow> {
    const reactions = { ...(target.reactions ?? {}) }
    if (emoji) reactions[reactor] = emoji
    else delete reactions[reactor]
    return yield* this.updateMessage(batch, target.id, { reactions, updatedAt: now })
  }
}

/**
 * How long the customer has waited for a reply (issue 13), after this message. Their
 * message starts the wait when nobody was waiting; a person's reply ends it — an
 * agent's send, or the business's own from the phone app or the Page inbox (an echo).
 * A campaign's message or an automatic one (away, greeting) is not a reply, and a
 * reaction neither starts nor ends a wait.
 * A message older than the newest (a late delivery) changes nothing: what came after
 * it already decided.
 */
function waitingAfter(conv: ConversationRow, row: MessageRow, by: Author, newest: boolean, automatic: boolean): number | null {
  if (!newest || row.type === 'reaction' || automatic) return conv.waitingSince
  if (by === 'customer') return conv.waitingSince ?? row.timestamp
  if (by === 'agent' || by === 'echo') return null
  return conv.waitingSince
}

/** The reactor key for the business's own reaction: WhatsApp shows one per message. */
export const BUSINESS_REACTOR = 'business'
