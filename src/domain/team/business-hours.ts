// Business hours (issue 13): is the workspace open at a given instant? Pure — the wall
// clock of the workspace's IANA timezone comes from Intl, so daylight-saving changes are
// the platform's tz database's business, never an offset Parley keeps. Hours are wall
// clock times ("09:00"–"17:30") per weekday; a holiday (a local date) is closed all day;
// no hours at all (null) means always open.

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]

/** One opening of a day, wall clock "HH:MM"; `to` may be "24:00" (until midnight). */
export interface OpenRange {
  from: string
  to: string
}

export interface BusinessHours {
  /** A missing or empty day is closed all day. */
  weekly: Partial<Record<Weekday, OpenRange[]>>
  /** Local dates (YYYY-MM-DD) closed all day. */
  holidays: string[]
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** Minutes since local midnight of "HH:MM" (24:00 → 1440); NaN when malformed. */
export function minutesOf(time: string): number {
  if (!TIME.test(time)) return Number.NaN
  const [h, m] = time.split(':').map(Number) as [number, number]
  return h * 60 + m
}

/** Whether Intl knows the timezone (an IANA name such as "Europe/Lisbon"). */
export function isValidTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** Why these hours cannot be saved, or null when they can. */
export function hoursProblem(hours: BusinessHours): string | null {
  for (const day of WEEKDAYS) {
    const ranges = hours.weekly[day] ?? []
    const sorted = ranges.map((r) => ({ from: minutesOf(r.from), to: minutesOf(r.to), r })).sort((a, b) => a.from - b.from)
    for (const [i, x] of sorted.entries()) {
      if (Number.isNaN(x.from) || Number.isNaN(x.to)) return `${day}: times are HH:MM, from 00:00 to 24:00`
      if (x.from >= x.to) return `${day}: ${x.r.from}–${x.r.to} ends before it starts (split a night shift over two days)`
      const prev = sorted[i - 1]
      if (prev && x.from < prev.to) return `${day}: ${prev.r.from}–${prev.r.to} and ${x.r.from}–${x.r.to} overlap`
    }
  }
  for (const d of hours.holidays) if (!isRealDate(d)) return `${d} is not a date (YYYY-MM-DD)`
  return null
}

function isRealDate(d: string): boolean {
  const m = DATE.exec(d)
  if (!m) return false
  const [y, mo, da] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const t = new Date(Date.UTC(y, mo - 1, da))
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === da
}

/** The wall clock of an instant in a timezone: its local date, weekday and minute of the day. */
export interface LocalTime {
  date: string
  weekday: Weekday
  minutes: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()
const WEEKDAY_OF: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' }

export function localTime(timezone: string, at: number): LocalTime {
  let f = formatters.get(timezone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    formatters.set(timezone, f)
  }
  const p: Record<string, string> = {}
  for (const part of f.formatToParts(at)) p[part.type] = part.value
  return {
    date: `${p.year}-${p.month}-${p.day}`,
    weekday: WEEKDAY_OF[p.weekday!]!,
    // Some engines write midnight as "24" even with h23.
    minutes: (Number(p.hour) % 24) * 60 + Number(p.minute),
  }
}

/** Whether the workspace is open at `at` (Unix ms). No hours: always open. */
export function isOpen(hours: BusinessHours | null, timezone: string, at: number): boolean {
  if (!hours) return true
  const local = localTime(timezone, at)
  if (hours.holidays.includes(local.date)) return false
  return (hours.weekly[local.weekday] ?? []).some((r) => {
    const from = minutesOf(r.from)
    const to = minutesOf(r.to)
    return local.minutes >= from && local.minutes < to
  })
}
