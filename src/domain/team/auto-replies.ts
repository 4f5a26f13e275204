// The automatic replies (issue 13): a greeting for a brand-new conversation and an away
// message when a customer writes outside business hours (once per conversation per 12 h).
// Each is a reply like an agent's — stored through the inbox writer, queued in the
// outbox in the same transaction as the customer's message, sent by the outbox worker —
// marked `context.automatic` and sent by nobody (`senderUserId: null`). The customer
// has just written, so the 24-hour window is open; a message Meta retried for a day
// (the window already closed) gets nothing.
//
// Issue 17: a unit of work. The workspace's settings and the channel are read through their
// units (either database); the conversation, the reply and its outbox row are still the
// inbox store's, writer's and outbox's, synchronous on SQLite (domain/sqlite-only.ts).
import type { CommittedEvent } from '../../events/event-log.ts'
import type { InboxStore } from '../../store/inbox-store.ts'
import type { Q } from '../../store/unit.ts'
import type { WorkspaceSettingsRepo } from '../../store/workspace-settings.ts'
import type { CustomerWrote } from '../effects.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import type { Outbox } from '../sending/outbox.ts'
import { isOpen } from './business-hours.ts'

/** The away message goes at most once per conversation in this long. */
export const AWAY_REPLY_EVERY_MS = 12 * 3600 * 1000

export type AutomaticKind = 'away' | 'greeting'

export interface AutoRepliesDeps {
  settings: Pick<WorkspaceSettingsRepo, 'get'>
  store: InboxStore
  writer: InboxWriter
  outbox: Pick<Outbox, 'enqueue'>
  now: () => number
}

export class AutoReplies {
  constructor(private readonly deps: AutoRepliesDeps) {}

  /**
   * The greeting and the away message a customer's message calls for (effects.ts
   * `onCustomerWrote`), in its transaction.
   */
  *customerWroteUnit({ before, message, batch }: Pick<CustomerWrote, 'before' | 'message' | 'batch'>): Q<void> {
    const { store } = this.deps
    // A reaction is not a message to answer.
    if (message.type === 'reaction') return
    const settings = yield* this.deps.settings.get(message.workspaceId)
    if (!settings || (!settings.greetingMessage && !settings.awayMessage)) return
    const channel = yield* store.channels.byId(message.channelId)
    if (!channel) return
    const now = this.deps.now()
    const conv = yield* store.conversations.conversationDTO(channel.workspaceId, message.conversationId)
    if (!conv || conv.windowExpiresAt === null || conv.windowExpiresAt <= now) return
    const row = yield* store.conversations.conversationByChannelContact(conv.channelId, conv.contact.id)
    if (!row) return

    const replies: Array<{ kind: AutomaticKind; text: string }> = []
    if (settings.greetingMessage && before.lastMessageId === null) replies.push({ kind: 'greeting', text: settings.greetingMessage })
    const away =
      settings.awayMessage &&
      !isOpen(settings.businessHours, settings.timezone, now) &&
      (row.awayRepliedAt === null || now - row.awayRepliedAt >= AWAY_REPLY_EVERY_MS)
    if (away) {
      replies.push({ kind: 'away', text: settings.awayMessage! })
      yield* this.deps.writer.noteAwayReply(row.id, now)
    }

    const { outbox } = this.deps
    for (const reply of replies) {
      const current = (yield* store.conversations.conversationByChannelContact(conv.channelId, conv.contact.id))!
      yield* this.deps.writer.record(
        batch,
        current,
        {
          direction: 'out',
          type: 'text',
          text: reply.text,
          media: null,
          data: null,
          context: { automatic: reply.kind },
          replyToMessageId: null,
          clientMessageId: null,
          senderUserId: null,
          status: 'queued',
          timestamp: now,
          createdAt: now,
          updatedAt: now,
        },
        {
          by: 'agent',
          // Parley's own answer, not a person's: the customer still waits for one.
          automatic: true,
          now,
          // The channel's provider writes the request body; the outbox worker sends it.
          alongside: function* (stored) {
            yield* outbox.enqueue(stored, channel.kind, {
              to: conv.contact.externalId,
              content: { type: 'text', body: reply.text, previewUrl: /\bhttps?:\/\/\S/i.test(reply.text) },
              quote: null,
              tag: null,
            })
          },
        },
      )
    }
  }

  /** After the commit: whether it queued an automatic reply (the outbox worker is then woken). */
  static queuedAny(events: readonly CommittedEvent[]): boolean {
    return events.some((e) => e.type === 'message.created' && automaticKindOf(e.payload.message.context) !== null)
  }
}

/** `'away'` or `'greeting'` for an automatic reply's context, null for any other message. */
export function automaticKindOf(context: Record<string, unknown> | null | undefined): AutomaticKind | null {
  const k = context?.automatic
  return k === 'away' || k === 'greeting' ? k : null
}
