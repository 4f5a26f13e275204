// Dates, times and the 24-hour window, in the agent's locale.

const DAY_MS = 86_400_000

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })
const shortDayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' })

export const timeOf = (ms: number) => timeFmt.format(ms)

/** Local calendar day, as a key and for separators. */
export function dayKey(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`
}

export function dayLabel(ms: number, now: number): string {
  const k = dayKey(ms)
  if (k === dayKey(now)) return 'Today'
  if (k === dayKey(now - DAY_MS)) return 'Yesterday'
  return dayFmt.format(ms)
}

/** The list's compact time: a time today, a weekday this week, a date before. */
export function listTime(ms: number, now: number): string {
  if (dayKey(ms) === dayKey(now)) return timeOf(ms)
  if (dayKey(ms) === dayKey(now - DAY_MS)) return 'Yesterday'
  return shortDayFmt.format(ms)
}

/** The customer-service window: free text allowed until it closes, templates only after. */
export function windowState(expiresAt: number | null, now: number): { open: boolean; label: string } {
  if (expiresAt === null || expiresAt <= now) return { open: false, label: 'Template only' }
  const mins = Math.floor((expiresAt - now) / 60_000)
  if (mins < 60) return { open: true, label: `${mins} min left` }
  return { open: true, label: `${Math.floor(mins / 60)} h left` }
}

export function agoLabel(ms: number | null, now: number): string {
  if (ms === null) return 'never'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 10) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return timeOf(ms)
}

/** A contact's display name: the name, else the number with a plus. */
export function contactLabel(c: { name: string | null; phone: string | null; externalId: string }): string {
  return c.name?.trim() || (c.phone ? `+${c.phone}` : c.externalId)
}

/**
 * An avatar's letters: the first and last words' first characters, from words with a
 * letter in them only, so "Customer 184" is "C" (not "C1") and "Ana Lopez" is "AL".
 * A label without any (a phone number) gets "#".
 */
export function initials(label: string): string {
  const words = label
    .replace(/[^\p{L}\p{N}\s]/gu, '')
    .split(/\s+/)
    .filter((w) => /\p{L}/u.test(w))
  // By code point: a letter outside the BMP is two UTF-16 units.
  const first = (w: string | undefined) => (w ? [...w][0]! : '')
  const s = first(words[0]) + (words.length > 1 ? first(words[words.length - 1]) : '')
  return s.toUpperCase() || '#'
}

/**
 * The time a list row shows: its preview's, the last message's own time. The list is
 * ordered by when Parley last heard of the conversation (lastActivityAt), which is not
 * the preview's time when a message arrives late or a campaign sends without moving
 * the conversation up: a row said 01:35 beside a 01:37 preview (issue 11).
 */
export function rowTime(c: { lastMessageAt: number | null; lastActivityAt: number }): number {
  return c.lastMessageAt ?? c.lastActivityAt
}

/**
 * How long the customer has waited for a reply (issue 13): "waiting 12 min", then hours
 * and minutes, then days. Under a minute reads "waiting 1 min": a wait has begun.
 */
export function waitingLabel(since: number, now: number): string {
  const mins = Math.max(1, Math.floor((now - since) / 60_000))
  if (mins < 60) return `waiting ${mins} min`
  const hours = Math.floor(mins / 60)
  if (hours < 24) return mins % 60 ? `waiting ${hours} h ${mins % 60} min` : `waiting ${hours} h`
  return `waiting ${Math.floor(hours / 24)} d`
}
