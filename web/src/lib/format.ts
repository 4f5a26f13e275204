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

export function initials(label: string): string {
  const parts = label.replace(/[^\p{L}\p{N} ]/gu, '').trim().split(/\s+/)
  const s = (parts[0]?.[0] ?? '') + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '')
  return s.toUpperCase() || '#'
}
