// Snooze presets (issue 14): in 1 hour, tomorrow 9:00 and next Monday 9:00 — 9:00 on the
// workspace's wall clock, not the browser's or UTC's. Pure and Intl-based, so the browser
// computes them (the menu shows them before anything is sent) and a unit test checks them
// across a daylight-saving change: "tomorrow 9:00" is a calendar day ahead on the wall
// clock, which is 23 or 25 hours away on the night the clocks move.

export interface SnoozePresets {
  oneHour: number
  tomorrow9: number
  nextMonday9: number
}

/** The hour the day presets wake at, on the workspace's wall clock. */
export const SNOOZE_PRESET_HOUR = 9

interface Wall {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  /** 0 = Sunday … 6 = Saturday, as Date#getUTCDay. */
  weekday: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/** The wall clock of an instant in a timezone. */
export function wallClock(at: number, timeZone: string): Wall {
  const parts: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  const year = parts.year!
  const month = parts.month!
  const day = parts.day!
  return {
    year,
    month,
    day,
    hour: parts.hour! % 24,
    minute: parts.minute!,
    second: parts.second!,
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
  }
}

/** How far the timezone's wall clock is ahead of UTC at this instant (ms; whole seconds). */
function offsetAt(at: number, timeZone: string): number {
  const w = wallClock(at, timeZone)
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(at / 1000) * 1000
}

/**
 * The instant a wall clock time happens in a timezone. The month and day may overflow
 * (day 32 is the 1st of the next month). A time the clocks skip (02:30 on a spring-forward
 * night) is read with the offset before the change, so it lands just after it.
 */
export function zonedTime(timeZone: string, year: number, month: number, day: number, hour: number, minute = 0): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute)
  // Two passes: the offset at the first guess may be the other side of a change.
  const first = asUtc - offsetAt(asUtc, timeZone)
  const second = asUtc - offsetAt(first, timeZone)
  return second
}

/** The three presets from `now`, on the wall clock of `timeZone` (an IANA name). */
export function snoozePresets(now: number, timeZone: string): SnoozePresets {
  const w = wallClock(now, timeZone)
  // Next Monday: never today, even on a Monday before 9:00 (that is "tomorrow"'s job or an hour's).
  const toMonday = (1 - w.weekday + 7) % 7 || 7
  return {
    oneHour: now + 3600_000,
    tomorrow9: zonedTime(timeZone, w.year, w.month, w.day + 1, SNOOZE_PRESET_HOUR),
    nextMonday9: zonedTime(timeZone, w.year, w.month, w.day + toMonday, SNOOZE_PRESET_HOUR),
  }
}
