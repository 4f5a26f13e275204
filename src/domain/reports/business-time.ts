// Business time (issue 15): how much of a stretch of time the workspace was open, for
// reports "in business hours". Pure: the opening hours of each local day become instants
// (the workspace's IANA timezone through Intl, daylight-saving included), summed once with
// prefix sums, so each question afterwards is two binary searches.
import { type BusinessHours, localTime, minutesOf, WEEKDAYS } from '../team/business-hours.ts'

const DAY_MS = 86400_000
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** The local date `days` after `date` (YYYY-MM-DD). */
export function addDays(date: string, days: number): string {
  const m = DATE.exec(date)!
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days)).toISOString().slice(0, 10)
}

/** Monday = 0 … Sunday = 6 of a local date. */
export function weekdayIndex(date: string): number {
  const m = DATE.exec(date)!
  return (new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay() + 6) % 7
}

/** The instant (Unix ms) of a wall-clock time (minutes since midnight) on a local date in `timezone`. */
export function instantOf(timezone: string, date: string, minutes = 0): number {
  const m = DATE.exec(date)!
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + minutes * 60_000
  let guess = wall
  // Two rounds settle the offset, also next to a daylight-saving change.
  for (let i = 0; i < 2; i++) {
    const local = localTime(timezone, guess)
    const seen = Date.UTC(...ymd(local.date)) + local.minutes * 60_000
    guess += wall - seen
  }
  return guess
}

function ymd(date: string): [number, number, number] {
  const m = DATE.exec(date)!
  return [Number(m[1]), Number(m[2]) - 1, Number(m[3])]
}

/** The timezone's offset from UTC at an instant (ms; e.g. -3 h for America/Sao_Paulo). */
export function utcOffset(timezone: string, at: number): number {
  const local = localTime(timezone, at)
  return Date.UTC(...ymd(local.date)) + local.minutes * 60_000 - (at - (((at % 60_000) + 60_000) % 60_000))
}

/**
 * The timezone's offsets over [from, to): `offsets[i]` holds before `changes[i]`, the last
 * one after every change (daylight saving). Sampled daily (no zone changes twice in a
 * day), each change found to the minute by bisection.
 */
export function offsetSegments(timezone: string, from: number, to: number): { changes: number[]; offsets: number[] } {
  const changes: number[] = []
  const offsets = [utcOffset(timezone, from)]
  let prev = from
  for (let t = Math.min(from + DAY_MS, to); prev < to; prev = t, t = Math.min(t + DAY_MS, to)) {
    const off = utcOffset(timezone, t)
    if (off === offsets[offsets.length - 1]) continue
    // The first minute of the new offset, in (prev, t].
    let lo = Math.floor(prev / 60_000)
    let hi = Math.ceil(t / 60_000)
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if (utcOffset(timezone, mid * 60_000) === off) hi = mid
      else lo = mid
    }
    changes.push(hi * 60_000)
    offsets.push(off)
  }
  return { changes, offsets }
}

/** The date (YYYY-MM-DD) of a day number (days since 1970-01-01). */
export const dateOfDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10)

/** The open stretches [from, to) of the local days from `fromDate` to `toDate`, in order. */
export function openIntervals(hours: BusinessHours, timezone: string, fromDate: string, toDate: string): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let date = fromDate; date <= toDate; date = addDays(date, 1)) {
    if (hours.holidays.includes(date)) continue
    const ranges = [...(hours.weekly[WEEKDAYS[weekdayIndex(date)]!] ?? [])].sort((a, b) => minutesOf(a.from) - minutesOf(b.from))
    for (const r of ranges) {
      const start = instantOf(timezone, date, minutesOf(r.from))
      const end = minutesOf(r.to) >= 1440 ? instantOf(timezone, addDays(date, 1)) : instantOf(timezone, date, minutesOf(r.to))
      if (end <= start) continue
      const last = out[out.length - 1]
      // "… to 24:00" then "00:00 to …": one stretch over midnight.
      if (last && last[1] >= start) last[1] = Math.max(last[1], end)
      else out.push([start, end])
    }
  }
  return out
}

/**
 * Milliseconds between two instants that count: all of them with no business hours (or
 * for "all hours"), else only those when the workspace was open. Built for a window of
 * instants [lo, hi]; instants outside it are clamped to it.
 */
export class BusinessClock {
  private readonly starts: number[] = []
  private readonly ends: number[] = []
  /** Open ms before each stretch. */
  private readonly before: number[] = []

  constructor(
    private readonly hours: BusinessHours | null,
    timezone: string,
    lo: number,
    hi: number,
  ) {
    if (!hours) return
    const from = addDays(localTime(timezone, lo).date, -1)
    const to = addDays(localTime(timezone, Math.max(lo, hi)).date, 1)
    let sum = 0
    for (const [s, e] of openIntervals(hours, timezone, from, to)) {
      this.starts.push(s)
      this.ends.push(e)
      this.before.push(sum)
      sum += e - s
    }
  }

  /** Open ms from the first stretch up to `t`. */
  private openUpTo(t: number): number {
    // The last stretch starting at or before t.
    let lo = 0
    let hi = this.starts.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (this.starts[mid]! <= t) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (found < 0) return 0
    return this.before[found]! + Math.min(t, this.ends[found]!) - this.starts[found]!
  }

  /** Counted ms from `a` to `b` (0 when b is not after a). */
  between(a: number, b: number): number {
    if (b <= a) return 0
    if (!this.hours) return b - a
    return this.openUpTo(b) - this.openUpTo(a)
  }
}

/** Seconds of business time between two instants (a one-off; reports build one BusinessClock). */
export function businessSecondsBetween(hours: BusinessHours | null, timezone: string, a: number, b: number): number {
  return Math.round(new BusinessClock(hours, timezone, a, b).between(a, b) / 1000)
}

export { DAY_MS }
