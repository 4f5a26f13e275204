// Turns a parsed WhatsApp webhook into state: contact upsert, conversation find-or-open,
// message insert (idempotent on the wamid), reactions, monotonic statuses, the
// business's own messages sent from the WhatsApp Business app (echoes), customers'
// marketing preferences — and the events for each change, in the caller's transaction.
import { and, asc, eq } from 'drizzle-orm'
import type { EventBatch } from '../../events/event-log.ts'
import { PHONE_APP_SOURCE } from '../../events/types.ts'
import {
  statusErrorOf,
  type WaChange,
  type WaEcho,
  type WaInbound,
  type WaParsed,
  type WaPreference,
  type WaStatus,
  type WaStatusName,
} from '../../channels/whatsapp/parse.ts'
import { toMessageDTO, type ChannelRow, type ContactRow, type InboxStore, type MessageRow } from '../../store/inbox-store.ts'
import type { Db } from '../../store/db.ts'
import { pendingStatuses, rawWebhooks } from '../../store/schema.ts'
import { applyStatus } from './message-status.ts'
import { plainReason } from '../sending/meta-errors.ts'
import { recordMessage } from './conversation-activity.ts'
import { BUSINESS_REACTOR } from '../sending/replies.ts'

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
   * keywords and attribute replies, issue 7) — or an echo of one the business sent from
   * the phone app (issue 11: its media is downloaded like a customer's; campaigns look
   * at inbound messages only). May return the message as it changed, before
   * `message.created` is emitted with it.
   */
  messageStored?(channel: ChannelRow, row: MessageRow, events: EventBatch): MessageRow | void
  /** A customer stopped or resumed marketing messages in WhatsApp (campaigns' opt-out, issue 11). */
  marketingPreference?(channel: ChannelRow, contact: ContactRow, pref: WaPreference, events: EventBatch): void
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
  // Before the statuses: one that arrives in the same delivery finds its message.
  for (const echo of change.echoes) ingestEcho(deps, events, channel, echo)
  for (const st of change.statuses) ingestStatus(deps, events, channel, st)
  for (const pref of change.preferences) ingestPreference(deps, events, channel, pref, names.get(pref.waId) ?? null)
}

function ingestMessage(deps: IngestDeps, events: EventBatch, channel: ChannelRow, msg: WaInbound, profileName: string | null): void {
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

/**
 * A message the business sent from the WhatsApp Business app on its phone (coexistence):
 * shown as an outbound message, once (the wamid is the key, as for every message), and
 * never sent — no outbox row. It moves the conversation's preview and order like any
 * reply; it is not the customer's, so it opens no window and adds nothing unread.
 */
function ingestEcho(deps: IngestDeps, events: EventBatch, channel: ChannelRow, echo: WaEcho): void {
  const { store } = deps
  const now = deps.now()
  const ws = channel.workspaceId
  // Already stored: a duplicate delivery (Meta retries), or a message Parley sent itself.
  if (store.messageByProviderId(channel.id, echo.providerId)) return
  const contact = store.upsertContact(ws, 'whatsapp', echo.to, null, /^\d+$/.test(echo.to) ? echo.to : null, now)
  const conv = store.findOrOpenConversation(ws, channel.id, contact.id, now)
  const replyTo = echo.replyToProviderId ? store.messageByProviderId(channel.id, echo.replyToProviderId) : undefined
  const stored = store.insertMessage({
    workspaceId: ws,
    conversationId: conv.id,
    channelId: channel.id,
    direction: 'out',
    type: echo.supported ? echo.type : 'unsupported',
    text: echo.text,
    media: echo.media,
    data: echo.supported || echo.type === 'unsupported' ? echo.data : { type: echo.type, [echo.type]: echo.data },
    context: { ...(echo.context ?? {}), source: PHONE_APP_SOURCE },
    replyToMessageId: replyTo?.id ?? null,
    providerMessageId: echo.providerId,
    // It left the phone: as far as Parley knows, sent. Statuses move it on from here.
    status: 'sent',
    sentAt: echo.timestamp,
    timestamp: echo.timestamp,
    raw: echo.raw,
    createdAt: now,
    updatedAt: now,
  })
  if (!stored) return
  const withStatuses = applyPendingStatuses(deps, stored)
  const row = deps.hooks?.messageStored?.(channel, withStatuses, events) ?? withStatuses

  if (echo.reaction) {
    // The business reacted from the phone: shown on the customer's message as a reaction
    // sent from Parley is.
    const target = store.messageByProviderId(channel.id, echo.reaction.targetProviderId)
    if (target) {
      const reactions = { ...(target.reactions ?? {}) }
      if (echo.reaction.emoji) reactions[BUSINESS_REACTOR] = echo.reaction.emoji
      else delete reactions[BUSINESS_REACTOR]
      const updated = store.updateMessage(target.id, { reactions, updatedAt: now })
      events.emit(ws, 'message.updated', { message: toMessageDTO(updated) })
    }
  }

  const conversation = recordMessage(store, conv, row, now, { view: { contact, channelKind: 'whatsapp' } })
  events.emit(ws, 'message.created', { message: toMessageDTO(row), conversation })
}

/**
 * Statuses that arrived before their message (kept in pending_statuses): applied, in
 * Meta's order, once the message is stored. Returns the message as they left it.
 */
function applyPendingStatuses(deps: IngestDeps, row: MessageRow): MessageRow {
  if (row.providerMessageId === null) return row
  const where = and(eq(pendingStatuses.channelId, row.channelId), eq(pendingStatuses.providerMessageId, row.providerMessageId))
  const pending = deps.db.select().from(pendingStatuses).where(where).orderBy(asc(pendingStatuses.timestamp)).all()
  if (pending.length === 0) return row
  let current = row
  for (const p of pending) {
    const error = statusErrorOf(p.raw)
    const patch = applyStatus(current, {
      status: p.status as WaStatusName,
      timestamp: p.timestamp,
      error: error ? { ...error, detail: plainReason(error.code, error.detail) } : null,
    })
    if (patch) current = deps.store.updateMessage(current.id, { ...patch, updatedAt: deps.now() })
  }
  deps.db.delete(pendingStatuses).where(where).run()
  return current
}

/**
 * A customer stopped or resumed marketing messages inside WhatsApp. The contact is
 * created when Parley has not met them (named from the webhook's `contacts[]`); what
 * the preference does to campaigns is the campaigns' hook (opt-out.ts).
 */
function ingestPreference(deps: IngestDeps, events: EventBatch, channel: ChannelRow, pref: WaPreference, name: string | null): void {
  const contact = deps.store.upsertContact(
    channel.workspaceId,
    'whatsapp',
    pref.waId,
    name,
    /^\d+$/.test(pref.waId) ? pref.waId : null,
    deps.now(),
  )
  deps.hooks?.marketingPreference?.(channel, contact, pref, events)
}

function ingestStatus(deps: IngestDeps, events: EventBatch, channel: ChannelRow, st: WaStatus): void {
  const target = deps.store.messageByProviderId(channel.id, st.providerId) ?? deps.hooks?.reconcileStatus?.(channel, st, events)
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
  const patch = applyStatus(target, st.error ? { ...st, error: { ...st.error, detail: plainReason(st.error.code, st.error.detail) } } : st)
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
