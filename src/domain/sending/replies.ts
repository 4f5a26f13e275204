// Agents' replies: text, templates, images, documents, audio and video, reactions and quoted replies.
// A send is idempotent on the browser's clientMessageId (a retried POST from a flaky
// connection never sends twice: chatwoot #9314) and is stored — message, outbox row,
// conversation preview and `message.created` — in one transaction; the outbox worker
// does the rest. The 24-hour window is enforced here, before anything is queued.
import type { FastifyBaseLogger } from 'fastify'
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import type { ChannelsRepo } from '../../store/channels.ts'
import { MediaRepo } from '../../store/media.ts'
import type { MessageDTO } from '../../events/types.ts'
import { sendRecovery } from '../../events/send-recovery.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { OutboundContent } from '../../channels/provider.ts'
import { BUSINESS_REACTOR, SERVICE_WINDOW_MS, type InboxWriter } from '../inbox/writer.ts'
import { toMessageDTO, type ChannelRow, type InboxRepos, type MessageRow } from '../../store/inbox-store.ts'
import { Errors } from '../../errors.ts'
import type { Outbox } from './outbox.ts'
import type { OutboxWorker } from './outbox-worker.ts'
import { MESSENGER_MAX_BYTES, whatsappMaxBytes, type MediaService } from '../media/media.ts'
import type { TemplateSend, TemplateService } from './templates.ts'

type BuiltTemplate = Awaited<ReturnType<TemplateService['build']>>
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
  /** The inbox's repositories (its units run on whichever database the send runs on). */
  store: InboxRepos & { channels: ChannelsRepo }
  writer: InboxWriter
  /** Runs a send in one transaction and publishes its events after the commit. */
  units: UnitLog
  /** Reads before the transaction (what can be refused without one), in one snapshot. */
  reads: Pick<UnitRunner, 'read'>
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
  /** Agents' uploads: found, and linked to the message that sends them, in the send's unit. */
  private readonly uploads = new MediaRepo()

  constructor(private readonly deps: RepliesDeps) {
    this.guard = new SendGuard(new SendGuardRepo())
  }

  private get repos() {
    return this.deps.store
  }

  channel(id: number): Promise<ChannelRow | undefined> {
    return this.deps.reads.read(() => this.deps.store.channels.byId(id))
  }

  /** The workspace's WhatsApp number (the first enabled one). */
  whatsappChannel(workspaceId: number): Promise<ChannelRow | undefined> {
    return this.deps.reads.read(() => this.deps.store.channels.firstEnabled(workspaceId, 'whatsapp'))
  }

  async send(
    who: { workspaceId: number; userId: number },
    conversationId: number,
    input: SendInput,
  ): Promise<{ message: MessageDTO; created: boolean }> {
    const ws = who.workspaceId
    const { repos } = this
    const uploads = this.uploads
    const media = this.deps.media
    // What can be refused before the transaction, read in one snapshot.
    type Pre = { seen: MessageRow } | { channel: ChannelRow; type: SendType }
    const pre = await this.deps.reads.read<Pre>(function* () {
      const seen = yield* repos.messages.byClientId(ws, input.clientMessageId)
      if (seen) return { seen }
      const conv = yield* repos.conversations.conversationDTO(ws, conversationId)
      if (!conv) throw Errors.notFound('Conversation')
      const channel = yield* repos.channels.byId(conv.channelId)
      if (!channel || !channel.enabled) throw Errors.noChannel()
      let type: SendType | undefined = input.type ?? (input.template ? 'template' : input.reaction ? 'reaction' : undefined)
      if (type === undefined && input.mediaId) {
        const up = yield* uploads.storedUpload(ws, input.mediaId)
        if (!up) throw Errors.notFound('Upload')
        type = media.kindOf(up) ?? 'document'
      }
      return { channel, type: type ?? ('text' as const) }
    })
    if ('seen' in pre) return this.replay(pre.seen, conversationId)
    const { channel, type } = pre
    const messenger = channel.kind === 'messenger'
    // Messenger's Send API takes text and attachments; it has no templates, and Parley
    // does not send reactions there.
    if (messenger && (type === 'template' || type === 'reaction')) {
      throw Errors.messengerUnsupported(type === 'template' ? 'Templates' : `A ${type}`)
    }
    // The only await outside the database: a template is checked against Meta's approved list first.
    const built = type === 'template' ? await this.deps.templates.build(channel, this.need(input.template, 'template')) : null

    // The whole send — the guard's check, the message, its outbox row, its upload's link —
    // is one unit of work in one transaction: nothing can arrive between the check and the insert.
    const result = await this.deps.units.transact((batch) => this.store(batch, who, conversationId, input, { channel, type, built }))
    if (result.created) this.deps.worker.kick()
    return result
  }

  private *store(
    batch: Emitter,
    who: { workspaceId: number; userId: number },
    conversationId: number,
    input: SendInput,
    pre: { channel: ChannelRow; type: SendType; built: BuiltTemplate | null },
  ): Q<{ message: MessageDTO; created: boolean }> {
    const ws = who.workspaceId
    const { repos, deps } = this
    const { channel, type, built } = pre
    const messenger = channel.kind === 'messenger'
    const again = yield* repos.messages.byClientId(ws, input.clientMessageId)
    if (again) return this.replay(again, conversationId)
    const now = deps.now()
    const fresh = yield* repos.conversations.conversationDTO(ws, conversationId)
    if (!fresh) throw Errors.notFound('Conversation')
    yield* this.guard.checkUnit(who, fresh, (yield* repos.channels.byId(fresh.channelId)) ?? channel, input)
    // Only templates may open a conversation or reach a customer who has been quiet for a day.
    // Messenger: any reply for 24 h, then only a human agent's, tagged, up to 7 days.
    if (input.humanAgent && !messenger) throw Errors.invalidMessage('The human agent follow-up is Messenger’s; on WhatsApp send a template')
    const tag = messenger ? (input.humanAgent ? humanAgentTag(fresh.windowExpiresAt, now) : messengerTag(fresh.windowExpiresAt, now)) : null
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
      : yield* this.prepare(ws, type, input, messenger)
    const quoted =
      input.replyToMessageId !== undefined && type !== 'reaction' && !messenger
        ? yield* this.target(ws, conversationId, input.replyToMessageId)
        : null
    const reactTo = type === 'reaction' ? yield* this.target(ws, conversationId, input.reaction!.messageId) : null
    if (reactTo) {
      p.part = { message_id: reactTo.providerMessageId, emoji: input.reaction!.emoji }
      p.content = { type: 'reaction', targetId: reactTo.providerMessageId!, emoji: input.reaction!.emoji }
    }

    const uploads = this.uploads
    const conv = yield* repos.conversations.conversationByChannelContact(fresh.channelId, fresh.contact.id)
    const recorded = yield* deps.writer.record(
      batch,
      conv!,
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
          yield* deps.outbox.enqueue(row, channel.kind, {
            to: fresh.contact.externalId,
            content: p.content,
            quote: quoted?.providerMessageId ?? null,
            tag,
          })
          if (p.mediaId !== null) yield* uploads.attachUpload(p.mediaId, row.id, now)
          if (reactTo) yield* deps.writer.react(batch, reactTo, BUSINESS_REACTOR, input.reaction!.emoji || null, now)
        },
      },
    )
    if (!recorded) {
      // The same clientMessageId committed by a concurrent request between the check above and
      // this insert (PostgreSQL: transactions run side by side; the insert waited for that one's
      // commit and stored nothing). Read at this statement, it is visible: answer it as a retry.
      const other = yield* repos.messages.byClientId(ws, input.clientMessageId)
      if (other) return this.replay(other, conversationId)
      throw Errors.clientIdReused()
    }
    return { message: toMessageDTO(recorded.message), created: true }
  }

  /**
   * An agent's "send again" for a failed or unconfirmed message: a new attempt of the
   * same message (same bubble, a fresh outbox send, even after Meta failed it by status
   * webhook). Only where sendRecovery — the rule the bubble's button follows too — says
   * another attempt can succeed; otherwise 422 with the reason and what to do instead.
   * Idempotent: a second call while the new attempt is under way answers the message
   * as it is and sends nothing more. One unit of work: the checks and the requeue in one transaction.
   */
  async retry(workspaceId: number, conversationId: number, messageId: number): Promise<MessageDTO> {
    const { repos, deps } = this
    const row = await deps.units.transact(function* (batch) {
      // The send's row is locked before anything is read (PostgreSQL; SQLite's writers run one
      // at a time anyway): of two clicks at once, the second waits, then finds the new attempt
      // in flight and answers it — not a 409 from reading between the first one's statements.
      yield* deps.outbox.lockByMessage(messageId)
      const msg = yield* repos.messages.messageById(workspaceId, messageId)
      if (!msg || msg.conversationId !== conversationId || msg.direction !== 'out') throw Errors.notFound('Message')
      const conv = yield* repos.conversations.conversationDTO(workspaceId, conversationId)
      if (!conv) throw Errors.notFound('Conversation')
      if (IN_FLIGHT.has(msg.status)) return { row: msg, requeued: false }
      const recovery = sendRecovery(toMessageDTO(msg), conv.channelKind)
      if (!recovery) throw Errors.notRetryable()
      if (recovery.action !== 'retry') throw Errors.retryRefused(recovery.action, recovery.reason)
      let refresh: { payload: Record<string, unknown>; context: Record<string, unknown> | null } | undefined
      if (conv.channelKind === 'messenger') {
        // The tag the window calls for now, not when it was first sent: a reply that failed
        // inside the 24 hours and is retried after them goes as a human agent's follow-up.
        const tag = messengerTag(conv.windowExpiresAt, deps.now())
        const followUp = msg.context?.messengerTag === 'HUMAN_AGENT'
        if (tag && !followUp) refresh = { payload: deps.providers.for(conv.channelKind).tagFields(tag), context: { messengerTag: tag } }
      } else if (msg.type !== 'template' && !(conv.windowExpiresAt && conv.windowExpiresAt > deps.now())) throw Errors.windowClosed()
      const requeued = yield* deps.outbox.resend(batch, workspaceId, messageId, { afterSend: true, ...refresh })
      if (!requeued) throw Errors.notRetryable()
      return { row: requeued, requeued: true }
    })
    if (row.requeued) deps.worker.kick()
    return toMessageDTO(row.row)
  }

  /**
   * Blue ticks for the customer when an agent opens the conversation: marking the last
   * message read marks the earlier ones too (W-READ). Best effort and off the request
   * path: a failure here costs a tick, never an agent's action.
   */
  async markReadOnWhatsApp(workspaceId: number, conversationId: number): Promise<void> {
    if (!this.deps.markRead) return
    const { repos } = this
    // The conversation, its channel and the last message to mark, in one snapshot. The caller
    // does not wait (void): a failed read is logged here, never an unhandled rejection.
    let found: { channel: ChannelRow; last: string | null } | undefined
    try {
      found = await this.deps.reads.read(function* () {
        const conv = yield* repos.conversations.conversationDTO(workspaceId, conversationId)
        const channel = conv ? yield* repos.channels.byId(conv.channelId) : undefined
        return channel && { channel, last: yield* repos.messages.lastInboundProviderId(conversationId) }
      })
    } catch (err) {
      this.deps.log.warn({ err, conversationId }, 'mark-as-read on WhatsApp: reading the conversation failed')
      return
    }
    const channel = found?.channel
    const provider = channel ? this.deps.providers.for(channel.kind) : undefined
    // Only channels with read receipts (WhatsApp's blue ticks) have markRead.
    if (!channel || !provider?.markRead || !channel.enabled || !channel.accessToken) return
    const last = found?.last
    if (!last) return
    return provider.markRead(channel, channel.accessToken, last).catch((err: unknown) => {
      const e = err as { kind?: string; code?: number | null }
      this.deps.log.warn({ conversationId, kind: e.kind, code: e.code }, 'mark-as-read on WhatsApp failed')
    })
  }

  private *prepare(ws: number, type: SendType, input: SendInput, messenger = false): Q<Prepared> {
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
        const up = yield* this.uploads.storedUpload(ws, id)
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
  private *target(ws: number, conversationId: number, id: number): Q<MessageRow> {
    const m = yield* this.repos.messages.messageById(ws, id)
    if (!m || m.conversationId !== conversationId || !m.providerMessageId || m.type === 'reaction') {
      throw Errors.replyTargetInvalid()
    }
    return m
  }

  private need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw Errors.invalidMessage(`${what} is required for this message type`)
    return v
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
