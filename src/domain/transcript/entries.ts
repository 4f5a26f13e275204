// One message of a transcript in words: who said it and what it was, for the text and
// HTML renderers alike (text.ts, html.ts), so the two exports never disagree. Pure: the
// names and earlier messages it needs come through TranscriptLookups.
import { failureReason, sentFromPhoneApp, type MessageDTO, type SystemLineData } from '../../events/types.ts'
import { previewOf } from '../../events/preview.ts'
import { localTime } from '../team/business-hours.ts'

/** Who an entry is from: the renderers style each one. */
export type Speaker = 'customer' | 'agent' | 'phone' | 'campaign' | 'automatic' | 'note' | 'system'

export interface TranscriptEntry {
  id: number
  at: number
  speaker: Speaker
  /** "Maria", "Ana Lima", "Phone app", "Campaign Spring sale", "Parley"; a note: "Note (internal) · Ana". */
  who: string
  /** What it was when not plain text: "[Image: the receipt]", "[Template: order_update]"; null for text. */
  kind: string | null
  /** The words (a message's text, a note, a caption after a document's name); null when the kind says it all. */
  text: string | null
  /** The earlier message it answers, shortened. */
  replyTo: string | null
  /** "Not delivered: …", "Delivery not confirmed", "Deleted". */
  marks: string[]
}

export interface TranscriptLookups {
  /** The contact's name as the header shows it. */
  customer: string
  /** The workspace's IANA timezone: snooze times are worded in it. */
  timeZone: string
  userName(userId: number): string | null
  /** A one-line text of an earlier message of this conversation (a quote's target). */
  messageText(messageId: number): string | null
  /** The same, by the provider's id (a reaction's target). */
  providerMessageText(providerMessageId: string): string | null
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : null)

/** A quote or reaction target, cut so one line stays one line. */
const QUOTE_MAX = 80
export const shorten = (s: string): string => {
  const one = s.replace(/\s+/g, ' ').trim()
  return one.length > QUOTE_MAX ? `${one.slice(0, QUOTE_MAX - 1)}…` : one
}

/** "2026-12-06" and "09:41" of an instant in the workspace's timezone. */
export function wallClock(timeZone: string, at: number): { date: string; time: string; weekday: string } {
  const t = localTime(timeZone, at)
  const hh = String(Math.floor(t.minutes / 60)).padStart(2, '0')
  const mm = String(t.minutes % 60).padStart(2, '0')
  return { date: t.date, time: `${hh}:${mm}`, weekday: WEEKDAY_NAMES[t.weekday] ?? t.weekday }
}
const WEEKDAY_NAMES: Record<string, string> = {
  mon: 'Monday',
  tue: 'Tuesday',
  wed: 'Wednesday',
  thu: 'Thursday',
  fri: 'Friday',
  sat: 'Saturday',
  sun: 'Sunday',
}

/** A team activity line in words: "Resolved by Ana", "Assigned to Ben by Ana", "Snooze ended: the customer wrote". */
export function activityWords(m: MessageDTO, timeZone: string): string {
  const d = m.data as Partial<SystemLineData> | null
  const actor = typeof d?.actor?.name === 'string' ? d.actor.name : null
  const by = actor ? ` by ${actor}` : d?.actor === null ? ' by Parley' : ''
  switch (d?.action) {
    case 'resolved':
      return `Resolved${by}`
    case 'reopened':
      return `Reopened${by}`
    case 'pending':
      return `Marked pending${by}`
    case 'assigned': {
      const target = typeof d.target?.name === 'string' ? d.target.name : null
      if (target && d.target?.userId !== undefined && d.target.userId === d.actor?.userId) return `Taken by ${target}`
      return target ? `Assigned to ${target}${by}` : `Assigned${by}`
    }
    case 'unassigned':
      return `Unassigned${by}`
    case 'snoozed': {
      const until = typeof d.until === 'number' ? wallClock(timeZone, d.until) : null
      return `Snoozed${until ? ` until ${until.date} ${until.time}` : ''}${by}`
    }
    case 'unsnoozed':
      if (actor) return `Unsnoozed${by}`
      return d.reason === 'customer' ? 'Snooze ended: the customer wrote' : 'Snooze ended'
    default:
      return m.text ?? 'Activity'
  }
}

/** The provider's id of the message a reaction is to (transcript.ts reads it ahead of rendering). */
export const reactionTarget = (m: Pick<MessageDTO, 'data'>): string | null => str(obj(m.data).message_id)

/** What a message was, for anything that is not plain text. */
function kindOf(m: MessageDTO, look: TranscriptLookups): { kind: string | null; text: string | null } {
  const media = m.media ?? {}
  const data = obj(m.data)
  const caption = m.text
  const labelled = (label: string, detail: string | null) => `[${label}${detail ? `: ${detail}` : ''}]`
  switch (m.type) {
    case 'text':
    case 'system':
      return { kind: null, text: m.text ?? '' }
    case 'image':
      return { kind: labelled('Image', caption), text: null }
    case 'video':
      return { kind: labelled('Video', caption), text: null }
    case 'sticker':
      return { kind: '[Sticker]', text: null }
    case 'audio':
      return { kind: media.voice ? '[Voice message]' : '[Audio]', text: null }
    case 'document':
      return { kind: labelled('Document', str(media.filename) ?? 'file'), text: caption }
    case 'location': {
      const place = [str(data.name), str(data.address)].filter(Boolean).join(', ') || caption
      const lat = Number(data.latitude)
      const lon = Number(data.longitude)
      const at = Number.isFinite(lat) && Number.isFinite(lon) && data.latitude != null ? `${lat.toFixed(5)}, ${lon.toFixed(5)}` : null
      return { kind: labelled('Location', [place, at && `(${at})`].filter(Boolean).join(' ') || null), text: null }
    }
    case 'template': {
      const name = str(obj(data.template).name)
      return { kind: labelled('Template', name), text: m.text }
    }
    case 'reaction': {
      const target = reactionTarget(m)
      const to = target ? look.providerMessageText(target) : null
      const about = to ? ` to “${shorten(to)}”` : ''
      return { kind: m.text ? `[Reaction: ${m.text}${about}]` : `[Reaction removed${about}]`, text: null }
    }
    case 'contacts': {
      const cards = Array.isArray(m.data) ? m.data : []
      const names = cards.map((c) => {
        const card = obj(c)
        const phones = (Array.isArray(card.phones) ? card.phones : []).map((p) => str(obj(p).phone)).filter(Boolean)
        return [str(obj(card.name).formatted_name) ?? 'Contact', ...phones].join(' ')
      })
      return { kind: labelled('Contact', names.join('; ') || caption), text: null }
    }
    case 'interactive':
    case 'button':
    case 'postback':
      return { kind: labelled('Button', caption), text: null }
    case 'order':
      return { kind: labelled('Order', caption), text: null }
    case 'link':
      return { kind: labelled('Link', caption), text: null }
    case 'deleted':
      return { kind: '[Deleted message]', text: null }
    default:
      return { kind: labelled('Unsupported message', m.type === 'unsupported' ? str(data.type) : m.type), text: caption }
  }
}

function speakerOf(m: MessageDTO, look: TranscriptLookups): { speaker: Speaker; who: string } {
  if (m.direction === 'in') return { speaker: 'customer', who: look.customer }
  if (m.direction === 'system') {
    if (m.type === 'note') {
      const author = m.senderUserId !== null ? look.userName(m.senderUserId) : null
      return { speaker: 'note', who: `Note (internal) · ${author ?? 'a former teammate'}` }
    }
    return { speaker: 'system', who: 'Parley' }
  }
  if (sentFromPhoneApp(m)) return { speaker: 'phone', who: 'Phone app' }
  const campaign = str(obj(m.context?.campaign).name)
  if (campaign) return { speaker: 'campaign', who: `Campaign ${campaign}` }
  if (m.context?.automatic === 'away' || m.context?.automatic === 'greeting') return { speaker: 'automatic', who: 'Parley' }
  const agent = m.senderUserId !== null ? look.userName(m.senderUserId) : null
  return agent ? { speaker: 'agent', who: agent } : { speaker: 'automatic', who: 'Parley' }
}

export function entryOf(m: MessageDTO, look: TranscriptLookups): TranscriptEntry {
  const { speaker, who } = speakerOf(m, look)
  const { kind, text } =
    m.direction === 'system' && m.type !== 'note'
      ? { kind: null, text: activityWords(m, look.timeZone) }
      : m.type === 'note'
        ? { kind: null, text: m.text ?? '' }
        : kindOf(m, look)
  const marks: string[] = []
  if (m.status === 'failed') marks.push(`Not delivered: ${failureReason(m.status, m.error)}`)
  else if (m.direction === 'out' && m.status === 'unknown') marks.push('Delivery not confirmed')
  if (m.type === 'deleted' || m.context?.deleted === true) marks.push('Deleted')
  const quoted = m.replyToMessageId !== null && m.type !== 'reaction' ? look.messageText(m.replyToMessageId) : null
  return { id: m.id, at: m.timestamp, speaker, who, kind, text, replyTo: quoted === null ? null : shorten(quoted), marks }
}

/** A message's one-line text for quotes (the list's preview wording). */
export const quoteText = (m: Pick<MessageDTO, 'type' | 'text' | 'media'>): string => previewOf(m)
