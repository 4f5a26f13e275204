// Messenger Platform webhook → normalized events. Pure: no database, no Fastify.
// `entry` and `messaging` are arrays and may hold several events; every one is visited,
// and anything not understood is returned as `unhandled` so the caller keeps it.

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null)
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

export interface MsAttachment {
  type: string
  url: string | null
  title: string | null
  payload: unknown
}

interface Base {
  pageId: string
  /** The customer's page-scoped id. */
  psid: string
  /** ms */
  timestamp: number
  raw: Obj
}

export type MsEvent =
  | (Base & {
      kind: 'message'
      mid: string
      text: string | null
      attachments: MsAttachment[]
      quickReplyPayload: string | null
      replyToMid: string | null
    })
  | (Base & {
      kind: 'echo'
      mid: string
      text: string | null
      attachments: MsAttachment[]
      metadata: string | null
      appId: string | null
    })
  | (Base & { kind: 'reaction'; targetMid: string; emoji: string | null })
  | (Base & { kind: 'postback'; mid: string | null; title: string | null; payload: string | null })
  | (Base & { kind: 'delivery'; watermark: number; mids: string[] })
  | (Base & { kind: 'read'; watermark: number })

export interface MsParsed {
  events: MsEvent[]
  unhandled: Array<{ reason: string; value: unknown }>
}

function attachments(v: unknown): MsAttachment[] {
  if (!Array.isArray(v)) return []
  return v.filter(isObj).map((a) => {
    const p = isObj(a.payload) ? a.payload : {}
    return { type: str(a.type) ?? 'unknown', url: str(p.url), title: str(a.title) ?? str(p.title), payload: a.payload ?? null }
  })
}

export function parseMessenger(body: unknown, now: number): MsParsed {
  const out: MsParsed = { events: [], unhandled: [] }
  if (!isObj(body) || body.object !== 'page' || !Array.isArray(body.entry)) {
    out.unhandled.push({ reason: 'not_page', value: body })
    return out
  }
  for (const entry of body.entry) {
    const pageId = isObj(entry) ? str(entry.id) : null
    if (!isObj(entry) || !pageId) {
      out.unhandled.push({ reason: 'malformed_entry', value: entry })
      continue
    }
    // `standby` carries events for another app under handover; kept, not acted on.
    if (Array.isArray(entry.standby)) out.unhandled.push({ reason: 'standby', value: entry.standby })
    if (!Array.isArray(entry.messaging)) {
      if (!Array.isArray(entry.standby)) out.unhandled.push({ reason: 'no_messaging', value: entry })
      continue
    }
    for (const item of entry.messaging) {
      const ev = isObj(item) ? parseItem(pageId, item, num(entry.time) ?? now) : null
      if (ev) out.events.push(ev)
      else out.unhandled.push({ reason: 'unknown_messaging_event', value: item })
    }
  }
  return out
}

function parseItem(pageId: string, item: Obj, fallbackTime: number): MsEvent | null {
  const sender = isObj(item.sender) ? str(item.sender.id) : null
  const recipient = isObj(item.recipient) ? str(item.recipient.id) : null
  const timestamp = num(item.timestamp) ?? fallbackTime
  const m = isObj(item.message) ? item.message : null
  if (m && m.is_echo === true) {
    // Sent by the Page (from Parley or elsewhere): the customer is the recipient.
    const mid = str(m.mid)
    if (!mid || !recipient) return null
    return {
      kind: 'echo',
      pageId,
      psid: recipient,
      timestamp,
      raw: item,
      mid,
      text: str(m.text),
      attachments: attachments(m.attachments),
      metadata: str(m.metadata),
      appId: str(m.app_id),
    }
  }
  if (!sender) return null
  const base = { pageId, psid: sender, timestamp, raw: item }
  if (m) {
    const mid = str(m.mid)
    if (!mid) return null
    return {
      ...base,
      kind: 'message',
      mid,
      text: str(m.text),
      attachments: attachments(m.attachments),
      quickReplyPayload: isObj(m.quick_reply) ? str(m.quick_reply.payload) : null,
      replyToMid: isObj(m.reply_to) ? str(m.reply_to.mid) : null,
    }
  }
  if (isObj(item.reaction)) {
    const r = item.reaction
    const targetMid = str(r.mid)
    if (!targetMid) return null
    const emoji = r.action === 'unreact' ? null : (str(r.emoji) ?? str(r.reaction))
    return { ...base, kind: 'reaction', targetMid, emoji }
  }
  if (isObj(item.postback)) {
    const p = item.postback
    return { ...base, kind: 'postback', mid: str(p.mid), title: str(p.title), payload: str(p.payload) }
  }
  if (isObj(item.delivery)) {
    const watermark = num(item.delivery.watermark)
    if (watermark === null) return null
    const mids = Array.isArray(item.delivery.mids) ? item.delivery.mids.map(str).filter((x): x is string => !!x) : []
    return { ...base, kind: 'delivery', watermark, mids }
  }
  if (isObj(item.read)) {
    const watermark = num(item.read.watermark)
    if (watermark === null) return null
    return { ...base, kind: 'read', watermark }
  }
  return null
}

const ATTACHMENT_TYPE: Record<string, string> = {
  image: 'image',
  audio: 'audio',
  video: 'video',
  file: 'document',
  fallback: 'link',
}

/** Parley's message type for a Messenger message: its first attachment's, else text. */
export function messageTypeOf(text: string | null, atts: MsAttachment[]): string {
  const first = atts[0]
  if (!first) return 'text'
  return ATTACHMENT_TYPE[first.type] ?? 'unsupported'
}
