// Turns a parsed WhatsApp webhook into state: contact upsert, conversation find-or-open,
// message insert (idempotent on the wamid), reactions, monotonic statuses, the
// business's own messages sent from the WhatsApp Business app (echoes), customers'
// marketing preferences — and the events for each change, in the caller's transaction.
// Messages and their conversations are written by the inbox writer (writer.ts); what
// other features do with them is the side-effect list (effects.ts, registered in app.ts).
import type { Emitter } from '../../events/event-log.ts'
import { PHONE_APP_SOURCE } from '../../events/types.ts'
import type { WaChange, WaEcho, WaInbound, WaParsed, WaPreference, WaStatus } from '../../channels/whatsapp/parse.ts'
import type { ChannelRow, InboxStore } from '../../store/inbox-store.ts'
import type { Q } from '../../store/unit.ts'
import { rawWebhook } from '../../store/webhook-leftovers.ts'
import type { SideEffects } from '../effects.ts'
import { plainReason } from '../sending/meta-errors.ts'
import { BUSINESS_REACTOR, type InboxWriter } from './writer.ts'

export { SERVICE_WINDOW_MS } from './writer.ts'

export interface IngestDeps {
  /** Repositories only (issue 17): the ingest is a unit of work, on either database. */
  store: Pick<InboxStore, 'channels' | 'contacts' | 'conversations' | 'messages'>
  writer: InboxWriter
  effects: SideEffects
  now: () => number
  /** The app secret that signed this webhook, and the one each channel requires. */
  signedWith?: { secret: string; secretOf(channel: ChannelRow): string }
  /** A payload (or part) was kept raw, with why: the metrics count them (issue 16). */
  keptRaw?: (provider: string, reason: string) => void
}

/** Keeps a payload the ingest cannot place, in its unit, and tells the metrics. */
export function* keepRawUnit(deps: Pick<IngestDeps, 'keptRaw'>, provider: string, reason: string, body: unknown): Q<void> {
  yield* rawWebhook(provider, reason, body)
  deps.keptRaw?.(provider, reason)
}

export function* ingestWhatsApp(deps: IngestDeps, events: Emitter, parsed: WaParsed): Q<void> {
  for (const u of parsed.unhandled) yield* keepRawUnit(deps, 'whatsapp', u.reason, u.value)
  for (const change of parsed.changes) {
    const channel = yield* deps.store.channels.byExternalId('whatsapp', change.phoneNumberId)
    if (!channel || !channel.enabled) {
      // Acknowledged (Meta would retry for a week) but never stored under a wrong channel.
      yield* keepRawUnit(deps, 'whatsapp', `unknown_channel:${change.phoneNumberId}`, change)
      continue
    }
    // A webhook signed by one app cannot speak for a number of another.
    if (deps.signedWith && deps.signedWith.secretOf(channel) !== deps.signedWith.secret) {
      yield* keepRawUnit(deps, 'whatsapp', `secret_mismatch:${change.phoneNumberId}`, change)
      continue
    }
    yield* ingestChange(deps, events, channel, change)
  }
}

function* ingestChange(deps: IngestDeps, events: Emitter, channel: ChannelRow, change: WaChange): Q<void> {
  const names = new Map(change.contacts.map((c) => [c.waId, c.name]))
  for (const msg of change.messages) yield* ingestMessage(deps, events, channel, msg, names.get(msg.from) ?? null)
  // Before the statuses: one that arrives in the same delivery finds its message.
  for (const echo of change.echoes) yield* ingestEcho(deps, events, channel, echo)
  for (const st of change.statuses) yield* ingestStatus(deps, events, channel, st)
  for (const pref of change.preferences) yield* ingestPreference(deps, events, channel, pref, names.get(pref.waId) ?? null)
}

function* ingestMessage(deps: IngestDeps, events: Emitter, channel: ChannelRow, msg: WaInbound, profileName: string | null): Q<void> {
  const now = deps.now()
  const { contact, conv, fields } = yield* place(deps, channel, msg, msg.from, profileName, now)
  // A duplicate delivery stores nothing and emits nothing (the wamid is the key).
  yield* deps.writer.record(
    events,
    conv,
    {
      ...fields,
      direction: 'in',
      context: msg.context,
      status: 'received',
      errorCode: errorCodeOf(msg.errors),
      errorTitle: errorTitleOf(msg.errors),
    },
    {
      by: 'customer',
      now,
      // A reaction is shown on its message; it does not add to the unread count.
      countsAsUnread: !msg.reaction,
      view: { contact, channelKind: 'whatsapp' },
      alongside: function* (stored) {
        const row = yield* deps.effects.messageStored(channel, stored, events)
        yield* react(deps, events, channel, msg, `contact:${contact.id}`, now)
        return row
      },
    },
  )
}

/**
 * A message the business sent from the WhatsApp Business app on its phone (coexistence):
 * shown as an outbound message, once (the wamid is the key, as for every message), and
 * never sent — no outbox row. It moves the conversation's preview and order like any
 * reply; it is not the customer's, so it opens no window and adds nothing unread.
 */
function* ingestEcho(deps: IngestDeps, events: Emitter, channel: ChannelRow, echo: WaEcho): Q<void> {
  const now = deps.now()
  // Already stored: a duplicate delivery (Meta retries), or a message Parley sent itself.
  if (yield* deps.store.messages.messageByProviderId(channel.id, echo.providerId)) return
  const { contact, conv, fields } = yield* place(deps, channel, echo, echo.to, null, now)
  yield* deps.writer.record(
    events,
    conv,
    {
      ...fields,
      direction: 'out',
      context: { ...(echo.context ?? {}), source: PHONE_APP_SOURCE },
      // It left the phone: as far as Parley knows, sent. Statuses move it on from here.
      status: 'sent',
      sentAt: echo.timestamp,
    },
    {
      by: 'echo',
      now,
      view: { contact, channelKind: 'whatsapp' },
      alongside: function* (stored) {
        const row = yield* deps.effects.messageStored(channel, yield* deps.writer.applyPendingStatuses(stored), events)
        // The business reacted from the phone: shown on the customer's message as a
        // reaction sent from Parley is.
        yield* react(deps, events, channel, echo, BUSINESS_REACTOR, now)
        return row
      },
    },
  )
}

/**
 * What a customer's message and the phone app's echo share: the contact (created when
 * Parley has not met them), the conversation, the message it quotes, and the fields of
 * the message itself.
 */
function* place(deps: IngestDeps, channel: ChannelRow, m: WaInbound | WaEcho, waId: string, name: string | null, now: number) {
  const { store } = deps
  const ws = channel.workspaceId
  const contact = yield* store.contacts.upsertContact(ws, 'whatsapp', waId, name, /^\d+$/.test(waId) ? waId : null, now)
  const conv = yield* store.conversations.findOrOpenConversation(ws, channel.id, contact.id, now)
  const replyTo = m.replyToProviderId ? yield* store.messages.messageByProviderId(channel.id, m.replyToProviderId) : undefined
  const fields = {
    // Types Parley does not know yet are kept with their data and shown as unsupported.
    type: m.supported ? m.type : 'unsupported',
    text: m.text,
    media: m.media,
    data: m.supported || m.type === 'unsupported' ? m.data : { type: m.type, [m.type]: m.data },
    replyToMessageId: replyTo?.id ?? null,
    providerMessageId: m.providerId,
    timestamp: m.timestamp,
    raw: m.raw,
    createdAt: now,
    updatedAt: now,
  }
  return { contact, conv, fields }
}

/** A reaction message shows on the message it reacts to (when Parley has it). */
function* react(deps: IngestDeps, events: Emitter, channel: ChannelRow, m: WaInbound | WaEcho, reactor: string, now: number): Q<void> {
  if (!m.reaction) return
  const target = yield* deps.store.messages.messageByProviderId(channel.id, m.reaction.targetProviderId)
  if (target) yield* deps.writer.react(events, target, reactor, m.reaction.emoji || null, now)
}

/**
 * A customer stopped or resumed marketing messages inside WhatsApp. The contact is
 * created when Parley has not met them (named from the webhook's `contacts[]`); what
 * the preference does to campaigns is a side effect (opt-out.ts).
 */
function* ingestPreference(deps: IngestDeps, events: Emitter, channel: ChannelRow, pref: WaPreference, name: string | null): Q<void> {
  const contact = yield* deps.store.contacts.upsertContact(
    channel.workspaceId,
    'whatsapp',
    pref.waId,
    name,
    /^\d+$/.test(pref.waId) ? pref.waId : null,
    deps.now(),
  )
  yield* deps.effects.marketingPreference(channel, contact, pref, events)
}

function* ingestStatus(deps: IngestDeps, events: Emitter, channel: ChannelRow, st: WaStatus): Q<void> {
  // Locked (PostgreSQL): a duplicate of this status applied at the same time in another group
  // waits, then finds it applied — one event per change, never the same change twice.
  const target =
    (yield* deps.store.messages.lockByProviderId(channel.id, st.providerId)) ?? (yield* deps.effects.unknownStatus(channel, st, events))
  if (!target) {
    // A status for a message Parley has not stored (yet): keep it; applied when the id appears.
    yield* deps.writer.keepPendingStatus({
      channelId: channel.id,
      providerMessageId: st.providerId,
      status: st.status,
      timestamp: st.timestamp,
      raw: st.raw,
    })
    return
  }
  // A failure reported by webhook reads like one reported by the send call: the
  // plain-language reason for Meta's code (Meta's own text when the code is unknown).
  yield* deps.writer.applyStatus(
    events,
    target,
    st.error ? { ...st, error: { ...st.error, detail: plainReason(st.error.code, st.error.detail) } } : st,
    {
      updatedAt: deps.now(),
    },
  )
}

function errorCodeOf(errors: unknown[] | null): number | null {
  const e = errors?.[0] as { code?: unknown } | undefined
  return typeof e?.code === 'number' ? e.code : null
}
function errorTitleOf(errors: unknown[] | null): string | null {
  const e = errors?.[0] as { title?: unknown } | undefined
  return typeof e?.title === 'string' ? e.title : null
}
