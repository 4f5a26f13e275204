// WhatsApp Cloud API webhook → normalized records. Pure: no database, no Fastify.
// Every entry[]/changes[]/messages[]/statuses[] is visited (libraries that read only
// [0] lose batched events); anything not understood is returned as `unhandled` so the
// caller keeps it instead of dropping it. Besides `messages`, two fields a real account
// sends are understood (issue 11): `smb_message_echoes` (what the business sent from the
// WhatsApp Business app on its phone, Meta's "coexistence") and `user_preferences` (a
// customer stopping or resuming marketing messages inside WhatsApp).

export interface WaContact {
  waId: string
  name: string | null
}

export interface WaInbound {
  providerId: string
  from: string
  /** ms */
  timestamp: number
  /** Meta's type; unknown types keep their name and are shown as unsupported. */
  type: string
  supported: boolean
  text: string | null
  media: Record<string, unknown> | null
  data: unknown
  context: Record<string, unknown> | null
  /** wamid this message replies to / was sent from a button of. */
  replyToProviderId: string | null
  reaction: { targetProviderId: string; emoji: string | null } | null
  errors: unknown[] | null
  raw: Record<string, unknown>
}

export type WaStatusName = 'sent' | 'delivered' | 'read' | 'played' | 'failed'

export interface WaStatus {
  providerId: string
  status: WaStatusName
  /** ms */
  timestamp: number
  recipientId: string | null
  bizOpaqueCallbackData: string | null
  error: { code: number | null; title: string | null; detail: string | null } | null
  raw: Record<string, unknown>
}

/**
 * A message the business sent from the WhatsApp Business app (or a linked device):
 * its content parsed as an inbound message's is, addressed `to` a customer.
 */
export interface WaEcho extends Omit<WaInbound, 'from'> {
  /** The customer's wa_id: Meta's `to` in digits (it may carry a "+"), or the BSUID. */
  to: string
}

/** A customer turned marketing messages off (`stop`) or on again (`resume`) inside WhatsApp. */
export interface WaPreference {
  waId: string
  value: 'stop' | 'resume'
  /** ms */
  timestamp: number
  raw: Record<string, unknown>
}

export interface WaChange {
  phoneNumberId: string
  displayPhoneNumber: string | null
  contacts: WaContact[]
  messages: WaInbound[]
  statuses: WaStatus[]
  echoes: WaEcho[]
  preferences: WaPreference[]
}

export interface WaUnhandled {
  reason: string
  value: unknown
}

export interface WaParsed {
  changes: WaChange[]
  unhandled: WaUnhandled[]
}

const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'document', 'sticker'])
const KNOWN_TYPES = new Set([
  'text',
  ...MEDIA_TYPES,
  'location',
  'contacts',
  'interactive',
  'button',
  'reaction',
  'order',
  'system',
  'request_welcome',
])
const STATUSES = new Set<WaStatusName>(['sent', 'delivered', 'read', 'played', 'failed'])
// The webhook fields Parley stores; any other field (history, account_alerts, …) is kept raw.
const FIELDS = new Set(['messages', 'smb_message_echoes', 'user_preferences'])
// Echoes that change an earlier message rather than add one: kept raw until modelled.
const ECHO_CHANGES = new Set(['edit', 'revoke'])

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null)

/** Meta sends Unix seconds as a string. */
function ms(v: unknown, fallback: number): number {
  const n = Number(v)
  return Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : fallback
}

export function parseWhatsApp(body: unknown, now: number): WaParsed {
  const out: WaParsed = { changes: [], unhandled: [] }
  if (!isObj(body) || body.object !== 'whatsapp_business_account' || !Array.isArray(body.entry)) {
    out.unhandled.push({ reason: 'not_whatsapp_business_account', value: body })
    return out
  }
  for (const entry of body.entry) {
    if (!isObj(entry) || !Array.isArray(entry.changes)) {
      out.unhandled.push({ reason: 'malformed_entry', value: entry })
      continue
    }
    for (const change of entry.changes) {
      const value = isObj(change) ? change.value : undefined
      const meta = isObj(value) ? value.metadata : undefined
      if (!isObj(change) || !FIELDS.has(String(change.field)) || !isObj(value) || !isObj(meta)) {
        out.unhandled.push({ reason: `field:${isObj(change) ? String(change.field) : 'malformed'}`, value: change })
        continue
      }
      const phoneNumberId = str(meta.phone_number_id)
      if (!phoneNumberId) {
        out.unhandled.push({ reason: 'no_phone_number_id', value: change })
        continue
      }
      const parsed: WaChange = {
        phoneNumberId,
        displayPhoneNumber: str(meta.display_phone_number),
        contacts: [],
        messages: [],
        statuses: [],
        echoes: [],
        preferences: [],
      }
      for (const c of arr(value.contacts)) {
        if (!isObj(c)) continue
        const waId = str(c.wa_id) ?? str(c.user_id)
        if (waId) parsed.contacts.push({ waId, name: isObj(c.profile) ? str(c.profile.name) : null })
      }
      for (const m of arr(value.messages)) {
        const msg = isObj(m) ? parseMessage(m, now) : null
        if (msg) parsed.messages.push(msg)
        else out.unhandled.push({ reason: 'malformed_message', value: m })
      }
      for (const s of arr(value.statuses)) {
        const st = isObj(s) ? parseStatus(s, now) : null
        if (st) parsed.statuses.push(st)
        else out.unhandled.push({ reason: 'unknown_status', value: s })
      }
      for (const m of arr(value.message_echoes)) {
        const type = isObj(m) ? str(m.type) : null
        const echo = isObj(m) && type && !ECHO_CHANGES.has(type) ? parseEcho(m, now) : null
        if (echo) parsed.echoes.push(echo)
        // With the number it was sent from: what a later version needs to apply it.
        else if (type && ECHO_CHANGES.has(type))
          out.unhandled.push({ reason: `smb_message_echoes:${type}`, value: { metadata: meta, echo: m } })
        else out.unhandled.push({ reason: 'malformed_echo', value: m })
      }
      for (const p of arr(value.user_preferences)) {
        const pref = isObj(p) ? parsePreference(p, now) : null
        if (pref) parsed.preferences.push(pref)
        else out.unhandled.push({ reason: 'user_preferences', value: p })
      }
      // System-level errors (value.errors) carry no message; keep them for the operator.
      if (Array.isArray(value.errors) && value.errors.length > 0) {
        out.unhandled.push({ reason: 'value_errors', value: value.errors })
      }
      if (parsed.messages.length || parsed.statuses.length || parsed.contacts.length || parsed.echoes.length || parsed.preferences.length) {
        out.changes.push(parsed)
      } else if (!Array.isArray(value.errors) && !Array.isArray(value.message_echoes) && !Array.isArray(value.user_preferences)) {
        out.unhandled.push({ reason: 'empty_change', value: change })
      }
    }
  }
  return out
}

function parseMessage(m: Obj, now: number): WaInbound | null {
  const from = str(m.from) ?? str(m.from_user_id)
  const content = from ? parseContent(m, now) : null
  return content && { from: from!, ...content }
}

/** `to` is "the same value returned by the API as the input" (Meta's example: +16505551234). */
function parseEcho(m: Obj, now: number): WaEcho | null {
  const phone = str(m.to)?.replace(/\D/g, '')
  const to = phone || str(m.to_user_id)
  const content = to ? parseContent(m, now) : null
  return content && { to: to!, ...content }
}

function parsePreference(p: Obj, now: number): WaPreference | null {
  const waId = str(p.wa_id) ?? str(p.user_id)
  const value = str(p.value)
  // Only marketing messages exist today; another category is kept raw, not guessed at.
  if (!waId || p.category !== 'marketing_messages' || (value !== 'stop' && value !== 'resume')) return null
  // Meta documents this timestamp as an integer (messages carry a string): ms() reads both.
  return { waId, value, timestamp: ms(p.timestamp, now), raw: p }
}

/** A message's content, shared by inbound messages and the business's echoes. */
function parseContent(m: Obj, now: number): Omit<WaInbound, 'from'> | null {
  const providerId = str(m.id)
  const type = str(m.type)
  if (!providerId || !type) return null
  const body = m[type]
  const ctx = isObj(m.context) ? m.context : null
  const msg: Omit<WaInbound, 'from'> = {
    providerId,
    timestamp: ms(m.timestamp, now),
    type,
    supported: KNOWN_TYPES.has(type),
    text: null,
    media: null,
    data: body ?? null,
    context: null,
    replyToProviderId: ctx ? str(ctx.id) : null,
    reaction: null,
    errors: Array.isArray(m.errors) ? m.errors : null,
    raw: m,
  }
  if (ctx || isObj(m.referral)) {
    msg.context = { ...(ctx ?? {}), ...(isObj(m.referral) ? { referral: m.referral } : {}) }
  }
  const b = isObj(body) ? body : {}
  switch (type) {
    case 'text':
      msg.text = str(b.body)
      break
    case 'image':
    case 'video':
    case 'audio':
    case 'document':
    case 'sticker':
      msg.text = str(b.caption)
      msg.media = {
        id: str(b.id),
        mimeType: str(b.mime_type),
        sha256: str(b.sha256),
        filename: str(b.filename),
        voice: b.voice === true,
        animated: b.animated === true,
      }
      break
    case 'location':
      msg.text = [str(b.name), str(b.address)].filter(Boolean).join(', ') || null
      break
    case 'contacts': {
      const names = arr(body)
        .map((c) => (isObj(c) && isObj(c.name) ? str(c.name.formatted_name) : null))
        .filter(Boolean)
      msg.text = names.join(', ') || null
      break
    }
    case 'interactive': {
      const reply = isObj(b.button_reply) ? b.button_reply : isObj(b.list_reply) ? b.list_reply : null
      msg.text = reply ? str(reply.title) : null
      break
    }
    case 'button':
      msg.text = str(b.text)
      break
    case 'reaction': {
      const target = str(b.message_id)
      if (!target) return null
      const emoji = str(b.emoji)
      // Removal arrives as a reaction without `emoji`.
      msg.reaction = { targetProviderId: target, emoji: emoji && emoji.length > 0 ? emoji : null }
      msg.text = msg.reaction.emoji
      break
    }
    case 'system':
      msg.text = str(b.body)
      break
    case 'order':
      msg.text = str(b.text)
      break
    default:
      // 'unsupported' and types not known yet: stored with their data, shown as unsupported.
      msg.supported = false
  }
  if (type === 'unsupported') msg.supported = false
  return msg
}

/**
 * A status's first error (`errors[0]`), from the parsed webhook or from a status kept raw
 * in pending_statuses until its message was stored.
 */
export function statusErrorOf(raw: unknown): WaStatus['error'] {
  if (!isObj(raw)) return null
  const e = arr(raw.errors)[0]
  if (!isObj(e)) return null
  return {
    code: typeof e.code === 'number' ? e.code : Number(e.code) || null,
    title: str(e.title) ?? str(e.message),
    detail: isObj(e.error_data) ? str(e.error_data.details) : null,
  }
}

function parseStatus(s: Obj, now: number): WaStatus | null {
  const providerId = str(s.id)
  const status = str(s.status) as WaStatusName | null
  if (!providerId || !status || !STATUSES.has(status)) return null
  const err = statusErrorOf(s)
  return {
    providerId,
    status,
    timestamp: ms(s.timestamp, now),
    recipientId: str(s.recipient_id) ?? str(s.recipient_user_id),
    bizOpaqueCallbackData: str(s.biz_opaque_callback_data),
    error: err,
    raw: s,
  }
}
