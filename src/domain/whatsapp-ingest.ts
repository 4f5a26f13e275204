// Turns a parsed WhatsApp webhook into state: contact upsert, conversation find-or-open,
// message insert (idempotent on the wamid), reactions, monotonic statuses — and the
// events for each change, in the caller's transaction.
import type { EventBatch } from '../events/event-log.ts'
import type { WaChange, WaInbound, WaParsed, WaStatus } from '../channels/whatsapp/parse.ts'
import { toMessageDTO, type ChannelRow, type InboxStore, type MessageRow } from '../store/inbox-store.ts'
import type { Db } from '../store/db.ts'
import { pendingStatuses, rawWebhooks } from '../store/schema.ts'
import { applyStatus } from './message-status.ts'
import { plainReason } from './meta-errors.ts'
import { recordMessage } from './conversation-activity.ts'

export { SERVICE_WINDOW_MS } from './conversation-activity.ts'

export interface IngestDeps {
  db: Db
  store: InboxStore
  now: () => number
  /** The app secret that signed this webhook, and the one each channel requires. */
  signedWith?: { secret: string; secretOf(channel: ChannelRow): string }
  hooks?: IngestHooks
}

/** Where sending (issue 4) joins the ingest, inside the webhook's transaction. */
export interface IngestHooks {
  /** A status for an unknown wamid: may name an outbox row (biz_opaque_callback_data) and return its message. */
  reconcileStatus?(channel: ChannelRow, st: WaStatus, events: EventBatch): MessageRow | undefined
  /**
   * A new inbound message was stored (media downloads start here; campaigns read stop
   * keywords and attribute replies, issue 7). May return the message as it changed,
   * before `message.created` is emitted with it.
   */
  messageStored?(channel: ChannelRow, row: MessageRow, events: EventBatch): MessageRow | void
}

export function keepRaw(db: Db, provider: string, reason: string, body: unknown): void {
  db.insert(rawWebhooks)
    .values({ provider, reason, body: typeof body === 'string' ? body : JSON.stringify(body) })
    .run()
}

export function ingestWhatsApp(deps: IngestDeps, events: EventBatch, parsed: WaParsed): void {
  for (const u of parsed.unhandled) keepRaw(deps.db, 'whatsapp', u.reason, u.value)
  for (const change of parsed.changes) {
    const channel = deps.store.channelByExternalId('whatsapp', change.phoneNumberId)
    if (!channel || !channel.enabled) {
      // Acknowledged (Meta would retry for a week) but never stored under a wrong channel.
      keepRaw(deps.db, 'whatsapp', `unknown_channel:${change.phoneNumberId}`, change)
      continue
    }
    // A webhook signed by one app cannot speak for a number of another.
    if (deps.signedWith && deps.signedWith.secretOf(channel) !== deps.signedWith.secret) {
      keepRaw(deps.db, 'whatsapp', `secret_mismatch:${change.phoneNumberId}`, change)
      continue
    }
    ingestChange(deps, events, channel, change)
  }
}

function ingestChange(deps: IngestDeps, events: EventBatch, channel: ChannelRow, change: WaChange): void {
  const names = new Map(change.contacts.map((c) => [c.waId, c.name]))
  for (const msg of change.messages) ingestMessage(deps, events, channel, msg, names.get(msg.from) ?? null)
  for (const st of change.statuses) ingestStatus(deps, events, channel, st)
}

function ingestMessage(
  deps: IngestDeps,
  events: EventBatch,
  channel: ChannelRow,
  msg: WaInbound,
  profileName: string | null,
): void {
  const { store } = deps
  const now = deps.now()
  const ws = channel.workspaceId
  const contact = store.upsertContact(ws, 'whatsapp', msg.from, profileName, /^\d+$/.test(msg.from) ? msg.from : null, now)
  const conv = store.findOrOpenConversation(ws, channel.id, contact.id, now)
  const replyTo = msg.replyToProviderId ? store.messageByProviderId(channel.id, msg.replyToProviderId) : undefined
  const stored = store.insertMessage({
    workspaceId: ws,
    conversationId: conv.id,
    channelId: channel.id,
    direction: 'in',
    // Types Parley does not know yet are kept with their data and shown as unsupported.
    type: msg.supported ? msg.type : 'unsupported',
    text: msg.text,
    media: msg.media,
    data: msg.supported || msg.type === 'unsupported' ? msg.data : { type: msg.type, [msg.type]: msg.data },
    context: msg.context,
    replyToMessageId: replyTo?.id ?? null,
    providerMessageId: msg.providerId,
    status: 'received',
    errorCode: errorCodeOf(msg.errors),
    errorTitle: errorTitleOf(msg.errors),
    timestamp: msg.timestamp,
    raw: msg.raw,
    createdAt: now,
    updatedAt: now,
  })
  if (!stored) return // duplicate delivery: nothing changes, nothing is emitted
  const row = deps.hooks?.messageStored?.(channel, stored, events) ?? stored

  if (msg.reaction) {
    const target = store.messageByProviderId(channel.id, msg.reaction.targetProviderId)
    if (target) {
      const reactions = { ...(target.reactions ?? {}) }
      const who = `contact:${contact.id}`
      if (msg.reaction.emoji) reactions[who] = msg.reaction.emoji
      else delete reactions[who]
      const updated = store.updateMessage(target.id, { reactions, updatedAt: now })
      events.emit(ws, 'message.updated', { message: toMessageDTO(updated) })
    }
  }

  // A reaction is shown on its message; it does not add to the unread count.
  const conversation = recordMessage(store, conv, row, now, {
    countsAsUnread: !msg.reaction,
    view: { contact, channelKind: 'whatsapp' },
  })
  events.emit(ws, 'message.created', { message: toMessageDTO(row), conversation })
}

function ingestStatus(deps: IngestDeps, events: EventBatch, channel: ChannelRow, st: WaStatus): void {
  const target =
    deps.store.messageByProviderId(channel.id, st.providerId) ?? deps.hooks?.reconcileStatus?.(channel, st, events)
  if (!target) {
    // A status for a message Parley has not stored (yet): keep it; applied when the id appears.
    deps.db
      .insert(pendingStatuses)
      .values({ channelId: channel.id, providerMessageId: st.providerId, status: st.status, timestamp: st.timestamp, raw: st.raw })
      .onConflictDoNothing()
      .run()
    return
  }
  // A failure reported by webhook reads like one reported by the send call: the
  // plain-language reason for Meta's code (Meta's own text when the code is unknown).
  const patch = applyStatus(
    target,
    st.error ? { ...st, error: { ...st.error, detail: plainReason(st.error.code, st.error.detail) } } : st,
  )
  if (!patch) return
  const updated = deps.store.updateMessage(target.id, { ...patch, updatedAt: deps.now() })
  events.emit(channel.workspaceId, 'message.updated', { message: toMessageDTO(updated) })
}

function errorCodeOf(errors: unknown[] | null): number | null {
  const e = errors?.[0] as { code?: unknown } | undefined
  return typeof e?.code === 'number' ? e.code : null
}
function errorTitleOf(errors: unknown[] | null): string | null {
  const e = errors?.[0] as { title?: unknown } | undefined
  return typeof e?.title === 'string' ? e.title : null
}
