// Agents' replies: text, templates, images, documents, audio and video, reactions and quoted replies.
// A send is idempotent on the browser's clientMessageId (a retried POST from a flaky
// connection never sends twice: chatwoot #9314) and is stored — message, outbox row,
// conversation preview and `message.created` — in one transaction; the outbox worker
// does the rest. The 24-hour window is enforced here, before anything is queued.
import type { FastifyBaseLogger } from 'fastify'
import type { EventLog } from '../../events/event-log.ts'
import type { MessageDTO } from '../../events/types.ts'
import { sendRecovery } from '../../events/send-recovery.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { OutboundContent } from '../../channels/provider.ts'
import type { Db } from '../../store/db.ts'
import { BUSINESS_REACTOR, SERVICE_WINDOW_MS, type InboxWriter } from '../inbox/writer.ts'
import { toMessageDTO, type ChannelRow, type InboxStore, type MessageRow } from '../../store/inbox-store.ts'
import { Errors } from '../../errors.ts'
import { sqliteOnly } from '../sqlite-only.ts'
import type { Outbox } from './outbox.ts'
import type { OutboxWorker } from './outbox-worker.ts'
import { MESSENGER_MAX_BYTES, whatsappMaxBytes, type MediaService } from '../media/media.ts'
import type { TemplateSend, TemplateService } from './templates.ts'
import { SendGuardRepo } from '../../store/send-guard.ts'
import { SendGuard, type GuardInput } from './send-guard.ts'

export type SendType = 'text' | 'template' | 'image' | 'document' | 'audio' | 'video' | 'reaction'

export interface SendInput extends GuardInput {
  clientMessageId: string
  type?: SendType
  text?: string
  previewUrl?: boolean
  replyToMessageId?: number
  template?: TemplateSend
  mediaId?: number
  caption?: string
  reaction?: { messageId: number; emoji: string }
  /**
   * Messenger: send as a person's follow-up (the HUMAN_AGENT tag) even while Parley
   * counts the 24 hours as open — the agent's answer to Meta's own window refusal
   * (code 10), whose clock may differ from Parley's. Up to 7 days after the customer wrote.
   */
  humanAgent?: boolean
}

// Meta's limits (W-SEND-TEXT, W-MEDIA): text body 4096, captions 1024.
const MAX_TEXT = 4096
const MAX_CAPTION = 1024
const URL_IN_TEXT = /\bhttps?:\/\/\S/i

export interface RepliesDeps {
  db: Db
  store: InboxStore
  writer: InboxWriter
  events: EventLog
  outbox: Outbox
  worker: OutboxWorker
  media: MediaService
  templates: TemplateService
  /** Each channel's provider writes its payloads and sends its read receipts. */
  providers: Pick<ChannelProviders, 'for'>
  now: () => number
  markRead: boolean
  log: FastifyBaseLogger
}

interface Prepared {
  type: SendType
  /** What the channel's provider sends (channels/provider.ts). */
  content: OutboundContent
  /** A reaction's {message_id, emoji}: the message's data, shaped like an inbound reaction's. */
  part: Record<string, unknown>
  text: string | null
  data: unknown
  media: Record<string, unknown> | null
  mediaId: number | null
}

export class Replies {
  /** Issue 14: only the assignee replies, and the send guard (send-guard.ts). */
  private readonly guard: SendGuard

  constructor(private readonly deps: RepliesDeps) {
    this.guard = new SendGuard(new SendGuardRepo(), (unit) => deps.store.runNow(unit))
  }

  channel(id: number): ChannelRow | undefined {
    return this.deps.store.runNow(this.deps.store.channels.byId(id))
  }

  /** The workspace's WhatsApp number (the first enabled one). */
  whatsappChannel(workspaceId: number): ChannelRow | undefined {
    return this.deps.store.runNow(this.deps.store.channels.firstEnabled(workspaceId, 'whatsapp'))
  }

  async send(
    who: { workspaceId: number; userId: number },
    conversationId: number,
    input: SendInput,
  ): Promise<{ message: MessageDTO; created: boolean }> {
    const ws = who.workspaceId
    const seen = this.byClientId(ws, input.clientMessageId)
    if (seen) return this.replay(seen, conversationId)

    const conv = this.deps.store.conversation(ws, conversationId)
    if (!conv) throw Errors.notFound('Conversation')
    const channel = this.channel(conv.channelId)
    if (!channel || !channel.enabled) throw Errors.noChannel()
    const messenger = channel.kind === 'messenger'
    const type: SendType =
      input.type ??
      (input.template ? 'template' : input.reaction ? 'reaction' : input.mediaId ? this.uploadKind(ws, input.mediaId) : 'text')
    // Messenger's Send API takes text and attachments; it has no templates, and Parley
    // does not send reactions there.
    if (messenger && (type === 'template' || type === 'reaction')) {
      throw Errors.messengerUnsupported(type === 'template' ? 'Templates' : `A ${type}`)
    }
    // The only await: a template is checked against Meta's approved list first.
    const built = type === 'template' ? await this.deps.templates.build(channel, this.need(input.template, 'template')) : null

    const result = this.deps.events.transact((batch) => {
      const again = this.byClientId(ws, input.clientMessageId)
      if (again) return this.replay(again, conversationId)
      const now = this.deps.now()
      const fresh = this.deps.store.conversation(ws, conversationId)
      if (!fresh) throw Errors.notFound('Conversation')
      // In this transaction: nothing can arrive between the check and the insert.
      this.guard.check(who, fresh, this.channel(fresh.channelId) ?? channel, input)
      // Only templates may open a conversation or reach a customer who has been quiet for a day.
      // Messenger: any reply for 24 h, then only a human agent's, tagged, up to 7 days.
      if (input.humanAgent && !messenger)
        throw Errors.invalidMessage('The human agent follow-up is Messenger’s; on WhatsApp send a template')
      const tag = messenger
        ? input.humanAgent
          ? humanAgentTag(fresh.windowExpiresAt, now)
          : messengerTag(fresh.windowExpiresAt, now)
        : null
      if (!messenger && type !== 'template' && !(fresh.windowExpiresAt !== null && fresh.windowExpiresAt > now)) throw Errors.windowClosed()

      const p: Prepared = built
        ? {
            type,
            content: { type: 'template', template: built.message },
            part: {},
            text: built.text,
            data: built.data,
            media: null,
            mediaId: null,
          }
        : this.prepare(ws, type, input, messenger)
      const quoted =
        input.replyToMessageId !== undefined && type !== 'reaction' && !messenger
          ? this.target(ws, conversationId, input.replyToMessageId)
          : null
      const reactTo = type === 'reaction' ? this.target(ws, conversationId, input.reaction!.messageId) : null
      if (reactTo) {
        p.part = { message_id: reactTo.providerMessageId, emoji: input.reaction!.emoji }
        p.content = { type: 'reaction', targetId: reactTo.providerMessageId!, emoji: input.reaction!.emoji }
      }

      const deps = this.deps
      const recorded = deps.store.runNow(
        deps.writer.record(
          batch,
          deps.store.conversationByChannelContact(fresh.channelId, fresh.contact.id)!,
          {
            direction: 'out',
            type,
            text: p.text,
            media: p.media,
            data: p.data ?? (type === 'reaction' ? p.part : null),
            // A Messenger follow-up says so: a refusal of it (code 10) means the 7 days are over
            // too, and the bubble must not offer another follow-up (send-recovery.ts).
            context: quoted ? { id: quoted.providerMessageId } : tag ? { messengerTag: tag } : null,
            replyToMessageId: quoted?.id ?? null,
            clientMessageId: input.clientMessageId,
            senderUserId: who.userId,
            status: 'queued',
            timestamp: now,
            createdAt: now,
            updatedAt: now,
          },
          {
            by: 'agent',
            now,
            alongside: function* (row) {
              // The channel's provider writes the request body; the worker sends it (outbox-worker.ts).
              yield* sqliteOnly('Outbox.enqueue', () => {
                deps.outbox.enqueue(row, channel.kind, {
                  to: fresh.contact.externalId,
                  content: p.content,
                  quote: quoted?.providerMessageId ?? null,
                  tag,
                })
                if (p.mediaId !== null) deps.media.attach(p.mediaId, row.id)
              })
              if (reactTo) yield* deps.writer.react(batch, reactTo, BUSINESS_REACTOR, input.reaction!.emoji || null, now)
            },
          },
        ),
      )
      if (!recorded) throw Errors.clientIdReused() // unreachable: the unique key was checked above
      return { message: toMessageDTO(recorded.message), created: true }
    })
    if (result.created) this.deps.worker.kick()
    return result
  }

  /**
   * An agent's "send again" for a failed or unconfirmed message: a new attempt of the
   * same message (same bubble, a fresh outbox send, even after Meta failed it by status
   * webhook). Only where sendRecovery — the rule the bubble's button follows too — says
   * another attempt can succeed; otherwise 422 with the reason and what to do instead.
   * Idempotent: a second call while the new attempt is under way answers the message
   * as it is and sends nothing more.
   */
  retry(workspaceId: number, conversationId: number, messageId: number): MessageDTO {
    const msg = this.message(workspaceId, messageId)
    if (!msg || msg.conversationId !== conversationId || msg.direction !== 'out') throw Errors.notFound('Message')
    const conv = this.deps.store.conversation(workspaceId, conversationId)
    if (!conv) throw Errors.notFound('Conversation')
    if (IN_FLIGHT.has(msg.status)) return toMessageDTO(msg)
    const recovery = sendRecovery(toMessageDTO(msg), conv.channelKind)
    if (!recovery) throw Errors.notRetryable()
    if (recovery.action !== 'retry') throw Errors.retryRefused(recovery.action, recovery.reason)
    let refresh: { payload: Record<string, unknown>; context: Record<string, unknown> | null } | undefined
    if (conv.channelKind === 'messenger') {
      // The tag the window calls for now, not when it was first sent: a reply that failed
      // inside the 24 hours and is retried after them goes as a human agent's follow-up.
      const tag = messengerTag(conv.windowExpiresAt, this.deps.now())
      const followUp = msg.context?.messengerTag === 'HUMAN_AGENT'
      if (tag && !followUp) refresh = { payload: this.deps.providers.for(conv.channelKind).tagFields(tag), context: { messengerTag: tag } }
    } else if (msg.type !== 'template' && !(conv.windowExpiresAt && conv.windowExpiresAt > this.deps.now())) throw Errors.windowClosed()
    const row = this.deps.outbox.requeue(workspaceId, messageId, { afterSend: true, ...refresh })
    if (!row) throw Errors.notRetryable()
    this.deps.worker.kick()
    return toMessageDTO(row)
  }

  /**
   * Blue ticks for the customer when an agent opens the conversation: marking the last
   * message read marks the earlier ones too (W-READ). Best effort and off the request
   * path: a failure here costs a tick, never an agent's action.
   */
  markReadOnWhatsApp(workspaceId: number, conversationId: number): Promise<void> {
    if (!this.deps.markRead) return Promise.resolve()
    const conv = this.deps.store.conversation(workspaceId, conversationId)
    const channel = conv ? this.channel(conv.channelId) : undefined
    const provider = channel ? this.deps.providers.for(channel.kind) : undefined
    // Only channels with read receipts (WhatsApp's blue ticks) have markRead.
    if (!conv || !channel || !provider?.markRead || !channel.enabled || !channel.accessToken) return Promise.resolve()
    const last = this.deps.store.runNow(this.deps.store.messages.lastInboundProviderId(conversationId))
    if (!last) return Promise.resolve()
    return provider.markRead(channel, channel.accessToken, last).catch((err: unknown) => {
      const e = err as { kind?: string; code?: number | null }
      this.deps.log.warn({ conversationId, kind: e.kind, code: e.code }, 'mark-as-read on WhatsApp failed')
    })
  }

  private prepare(ws: number, type: SendType, input: SendInput, messenger = false): Prepared {
    switch (type) {
      case 'text': {
        const body = input.text ?? ''
        if (body.trim() === '') throw Errors.invalidMessage('The message is empty')
        if (body.length > MAX_TEXT) throw Errors.invalidMessage(`A message can hold at most ${MAX_TEXT} characters`)
        return {
          type,
          content: { type, body, previewUrl: input.previewUrl ?? URL_IN_TEXT.test(body) },
          part: {},
          text: body,
          data: null,
          media: null,
          mediaId: null,
        }
      }
      case 'image':
      case 'document':
      case 'audio':
      case 'video': {
        const id = this.need(input.mediaId, 'mediaId')
        const up = this.deps.media.upload(ws, id)
        if (!up) throw Errors.notFound('Upload')
        const kind = this.deps.media.kindOf(up)
        if (kind !== type) throw Errors.invalidMessage(`The upload is ${kindName(kind)}, not ${kindName(type)}`)
        const caption = input.caption ?? input.text ?? ''
        if (caption.length > MAX_CAPTION) throw Errors.invalidMessage(`A caption can hold at most ${MAX_CAPTION} characters`)
        const dto = this.deps.media.dto(up)
        // WhatsApp audio has no caption (W-SEND); refused rather than silently dropped.
        if (!messenger && type === 'audio' && caption.trim()) {
          throw Errors.invalidMessage('WhatsApp audio has no caption; send the text as its own message')
        }
        const waMax = messenger ? null : whatsappMaxBytes(up.mimeType)
        if (waMax !== null && (up.size ?? 0) > waMax) {
          throw Errors.mediaTooLarge(`WhatsApp takes ${type} up to ${waMax / 1024 / 1024} MB`)
        }
        if (messenger) {
          // A Messenger attachment has no caption: the text goes as its own message.
          if (caption.trim()) throw Errors.invalidMessage('A Messenger attachment has no caption; send the text as its own message')
          if ((up.size ?? 0) > MESSENGER_MAX_BYTES) {
            throw Errors.mediaTooLarge(`Messenger takes files up to ${MESSENGER_MAX_BYTES / 1024 / 1024} MB`)
          }
        }
        return {
          type,
          content: { type, localMediaId: id, caption: caption || null, filename: up.filename },
          part: {},
          text: (type !== 'audio' && caption) || null,
          data: null,
          media: { localId: dto.id, url: dto.url, mimeType: dto.mimeType, filename: dto.filename, size: dto.size },
          mediaId: id,
        }
      }
      case 'reaction': {
        const r = this.need(input.reaction, 'reaction')
        // An empty emoji removes the reaction, as on WhatsApp.
        if (r.emoji.length > 16 || /\s/.test(r.emoji)) throw Errors.invalidMessage('A reaction is a single emoji')
        // The target is looked up in send() (it must be a message of this conversation).
        return {
          type,
          content: { type, targetId: '', emoji: r.emoji },
          part: {},
          text: r.emoji || null,
          data: null,
          media: null,
          mediaId: null,
        }
      }
      default:
        throw Errors.invalidMessage(`Unknown message type ${String(type)}`)
    }
  }

  /** A message of this conversation that WhatsApp knows (has a wamid), to quote or react to. */
  private target(ws: number, conversationId: number, id: number): MessageRow {
    const m = this.message(ws, id)
    if (!m || m.conversationId !== conversationId || !m.providerMessageId || m.type === 'reaction') {
      throw Errors.replyTargetInvalid()
    }
    return m
  }

  private uploadKind(ws: number, id: number): SendType {
    const up = this.deps.media.upload(ws, id)
    if (!up) throw Errors.notFound('Upload')
    return this.deps.media.kindOf(up) ?? 'document'
  }

  private need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw Errors.invalidMessage(`${what} is required for this message type`)
    return v
  }

  private message(ws: number, id: number): MessageRow | undefined {
    return this.deps.store.messageById(ws, id)
  }

  private byClientId(ws: number, clientMessageId: string): MessageRow | undefined {
    return this.deps.store.runNow(this.deps.store.messages.byClientId(ws, clientMessageId))
  }

  /** The same clientMessageId again: the message as it is now, nothing sent. */
  private replay(m: MessageRow, conversationId: number): { message: MessageDTO; created: boolean } {
    if (m.conversationId !== conversationId) throw Errors.clientIdReused()
    return { message: toMessageDTO(m), created: false }
  }
}

/** A message whose send is queued or under way: a retry has nothing to add. */
const IN_FLIGHT = new Set(['pending', 'queued', 'sending'])

const kindName = (k: string | null) => (k === 'image' ? 'an image' : k === 'audio' ? 'audio' : k === 'video' ? 'a video' : 'a document')

/** Messenger's standard window is 24 h; the HUMAN_AGENT tag extends it to 7 days (M-POLICY). */
export const MESSENGER_HUMAN_AGENT_MS = 7 * 24 * 3600 * 1000

/** An explicit follow-up: the tag up to 7 days after the customer's last message, refused after. */
function humanAgentTag(windowExpiresAt: number | null, now: number): 'HUMAN_AGENT' {
  if (windowExpiresAt === null || windowExpiresAt - SERVICE_WINDOW_MS + MESSENGER_HUMAN_AGENT_MS <= now)
    throw Errors.messengerWindowClosed()
  return 'HUMAN_AGENT'
}

/** null inside the 24-hour window, 'HUMAN_AGENT' up to 7 days, refused after. */
function messengerTag(windowExpiresAt: number | null, now: number): 'HUMAN_AGENT' | null {
  if (windowExpiresAt === null) throw Errors.messengerWindowClosed()
  if (windowExpiresAt > now) return null
  const lastInbound = windowExpiresAt - SERVICE_WINDOW_MS
  if (lastInbound + MESSENGER_HUMAN_AGENT_MS > now) return 'HUMAN_AGENT'
  throw Errors.messengerWindowClosed()
}
