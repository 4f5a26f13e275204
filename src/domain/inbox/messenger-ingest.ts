// Messenger webhook events → state, in the caller's transaction: messages, postbacks,
// reactions, echoes of the Page's own messages, and delivery/read watermarks.
import type { Emitter } from '../../events/event-log.ts'
import { messageTypeOf, type MsEvent, type MsParsed } from '../../channels/messenger/parse.ts'
import { ECHO_METADATA_PREFIX } from '../../channels/messenger/send.ts'
import type { ChannelRow, InboxStore, MessageRow } from '../../store/inbox-store.ts'
import type { MessageStatus } from '../../store/schema.ts'
import type { Q } from '../../store/unit.ts'
import type { SideEffects } from '../effects.ts'
import { keepRawUnit } from './whatsapp-ingest.ts'
import type { InboxWriter } from './writer.ts'

export interface MessengerIngestDeps {
  /** Repositories only (issue 17): the ingest is a unit of work, on either database. */
  store: Pick<InboxStore, 'channels' | 'contacts' | 'conversations' | 'messages'>
  writer: InboxWriter
  effects: SideEffects
  /** The app secret each Page's webhooks must be signed with. */
  secretOf(channel: ChannelRow): string
  now: () => number
  /** A payload (or part) was kept raw, with why: the metrics count them (issue 16). */
  keptRaw?: (provider: string, reason: string) => void
}

export function* ingestMessenger(deps: MessengerIngestDeps, events: Emitter, parsed: MsParsed, verifiedWith: string): Q<void> {
  for (const u of parsed.unhandled) yield* keepRawUnit(deps, 'messenger', u.reason, u.value)
  for (const ev of parsed.events) {
    const channel = yield* deps.store.channels.byExternalId('messenger', ev.pageId)
    if (!channel || !channel.enabled) {
      yield* keepRawUnit(deps, 'messenger', `unknown_channel:${ev.pageId}`, ev.raw)
      continue
    }
    // A webhook signed by one app cannot speak for a page of another.
    if (deps.secretOf(channel) !== verifiedWith) {
      yield* keepRawUnit(deps, 'messenger', `secret_mismatch:${ev.pageId}`, ev.raw)
      continue
    }
    switch (ev.kind) {
      case 'message':
      case 'postback':
        yield* inbound(deps, events, channel, ev)
        break
      case 'echo':
        yield* echo(deps, events, channel, ev)
        break
      case 'reaction':
        yield* reaction(deps, events, channel, ev)
        break
      case 'delivery':
      case 'read':
        yield* watermark(deps, events, channel, ev)
        break
    }
  }
}

function* conversationFor(deps: MessengerIngestDeps, channel: ChannelRow, psid: string) {
  const now = deps.now()
  const contact = yield* deps.store.contacts.upsertContact(channel.workspaceId, 'messenger', psid, null, null, now)
  const conv = yield* deps.store.conversations.findOrOpenConversation(channel.workspaceId, channel.id, contact.id, now)
  return { contact, conv, now }
}

function* inbound(
  deps: MessengerIngestDeps,
  events: Emitter,
  channel: ChannelRow,
  ev: Extract<MsEvent, { kind: 'message' | 'postback' }>,
): Q<void> {
  const { store } = deps
  const ws = channel.workspaceId
  const { contact, conv, now } = yield* conversationFor(deps, channel, ev.psid)
  const isPostback = ev.kind === 'postback'
  const type = isPostback ? 'postback' : messageTypeOf(ev.text, ev.attachments)
  const first = isPostback ? undefined : ev.attachments[0]
  const replyTo = !isPostback && ev.replyToMid ? yield* store.messages.messageByProviderId(channel.id, ev.replyToMid) : undefined
  const recorded = yield* deps.writer.record(
    events,
    conv,
    {
      direction: 'in',
      type,
      text: isPostback ? ev.title : (ev.text ?? first?.title ?? null),
      media: first ? { url: first.url, mimeType: null, filename: first.title, attachmentType: first.type } : null,
      data: isPostback ? { payload: ev.payload, title: ev.title } : { attachments: ev.attachments, quickReply: ev.quickReplyPayload },
      context: !isPostback && ev.replyToMid ? { id: ev.replyToMid } : null,
      replyToMessageId: replyTo?.id ?? null,
      // A postback may come without a mid: its sender and time identify it for dedupe.
      providerMessageId: ev.kind === 'message' ? ev.mid : (ev.mid ?? `postback:${ev.psid}:${ev.timestamp}`),
      status: 'received',
      timestamp: ev.timestamp,
      raw: ev.raw,
      createdAt: now,
      updatedAt: now,
    },
    { by: 'customer', now },
  )
  if (recorded) deps.effects.contactWrote(channel, contact)
}

function* echo(deps: MessengerIngestDeps, events: Emitter, channel: ChannelRow, ev: Extract<MsEvent, { kind: 'echo' }>): Q<void> {
  const { store } = deps
  const ws = channel.workspaceId
  if (yield* store.messages.messageByProviderId(channel.id, ev.mid)) return // already known: Parley's own send, or a duplicate
  // Parley's own send whose answer has not been stored yet: the echo names it.
  if (ev.metadata?.startsWith(ECHO_METADATA_PREFIX)) {
    const id = Number(ev.metadata.slice(ECHO_METADATA_PREFIX.length))
    const own = Number.isSafeInteger(id) ? yield* store.messages.messageById(ws, id) : undefined
    if (own && own.channelId === channel.id) {
      if (own.providerMessageId === null) {
        // Named even when the status has moved past sent: the id is what matters here.
        const sent = { status: 'sent', timestamp: ev.timestamp, error: null } as const
        const named = { providerMessageId: ev.mid, updatedAt: deps.now() }
        if (!(yield* deps.writer.applyStatus(events, own, sent, named))) yield* deps.writer.updateMessage(events, own.id, named)
      }
      return
    }
  }
  // Sent from elsewhere (Meta Business Suite, the Page's inbox): shown as outbound.
  const { conv, now } = yield* conversationFor(deps, channel, ev.psid)
  const first = ev.attachments[0]
  yield* deps.writer.record(
    events,
    conv,
    {
      direction: 'out',
      type: messageTypeOf(ev.text, ev.attachments),
      text: ev.text ?? first?.title ?? null,
      media: first ? { url: first.url, mimeType: null, filename: first.title, attachmentType: first.type } : null,
      data: { attachments: ev.attachments, echo: true, appId: ev.appId },
      providerMessageId: ev.mid,
      status: 'sent',
      sentAt: ev.timestamp,
      timestamp: ev.timestamp,
      raw: ev.raw,
      createdAt: now,
      updatedAt: now,
    },
    { by: 'echo', now },
  )
}

function* reaction(deps: MessengerIngestDeps, events: Emitter, channel: ChannelRow, ev: Extract<MsEvent, { kind: 'reaction' }>): Q<void> {
  const target = yield* deps.store.messages.messageByProviderId(channel.id, ev.targetMid)
  if (!target) return
  const contact = yield* deps.store.contacts.upsertContact(channel.workspaceId, 'messenger', ev.psid, null, null, deps.now())
  const who = `contact:${contact.id}`
  if ((target.reactions?.[who] ?? null) === ev.emoji) return // a duplicate changes nothing
  yield* deps.writer.react(events, target, who, ev.emoji)
}

/**
 * Messenger reports delivery and reads as watermarks: everything the Page sent to this
 * person at or before the watermark is delivered (or read). `mids` may be absent.
 */
function* watermark(
  deps: MessengerIngestDeps,
  events: Emitter,
  channel: ChannelRow,
  ev: Extract<MsEvent, { kind: 'delivery' | 'read' }>,
): Q<void> {
  const contact = yield* deps.store.contacts.contactByExternalId(channel.workspaceId, 'messenger', ev.psid)
  if (!contact) return
  const conv = yield* deps.store.conversations.conversationByChannelContact(channel.id, contact.id)
  if (!conv) return
  const status = ev.kind === 'delivery' ? 'delivered' : 'read'
  const below: MessageStatus[] = status === 'delivered' ? ['sent', 'unknown'] : ['sent', 'delivered', 'unknown']
  const targets = new Map<number, MessageRow>()
  for (const m of yield* deps.store.messages.outboundUpTo(conv.id, ev.watermark, below)) targets.set(m.id, m)
  if (ev.kind === 'delivery') {
    for (const mid of ev.mids) {
      const m = yield* deps.store.messages.messageByProviderId(channel.id, mid)
      if (m && m.direction === 'out') targets.set(m.id, m)
    }
  }
  for (const m of targets.values()) yield* deps.writer.applyStatus(events, m, { status, timestamp: ev.watermark, error: null })
}
