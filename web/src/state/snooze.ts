// Snooze and pending in the browser (issue 14), pure: the timeline's words for the new
// lines, the snooze time as a label in the agent's own time, and the menu's presets —
// computed by the same function the server's tests check (9:00 on the workspace's wall
// clock, src/domain/team/snooze-presets.ts), labelled in the agent's local time.
import { snoozePresets } from '../../../src/domain/team/snooze-presets.ts'
import { dayKey, timeOf } from '../lib/format.ts'

const DAY_MS = 86_400_000
const weekdayTime = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
})

/** "15:42" today, "Tomorrow 09:00", "Mon 09:00" within a week, "Mon 14 Dec, 09:00" after. */
export function snoozeTimeLabel(at: number, now: number): string {
  if (dayKey(at) === dayKey(now)) return timeOf(at)
  if (dayKey(at) === dayKey(now + DAY_MS)) return `Tomorrow ${timeOf(at)}`
  if (at - now < 6 * DAY_MS) return weekdayTime.format(at)
  return dateTime.format(at)
}

/** A system line's data as the browser reads it (any field may be missing in an old line). */
interface SnoozeLine {
  action?: string
  actor?: { name?: string } | null
  until?: number
  reason?: string
}

/** "Ana marked this pending", "Ana snoozed this until Mon 09:00" (from the line's own time), "Snooze ended"; null for other lines. */
export function snoozeWords(d: SnoozeLine | null, from: number): string | null {
  const who = typeof d?.actor?.name === 'string' ? d.actor.name : null
  switch (d?.action) {
    case 'pending':
      return who && `${who} marked this pending`
    case 'snoozed':
      return who && `${who} snoozed this${typeof d.until === 'number' ? ` until ${snoozeTimeLabel(d.until, from)}` : ''}`
    case 'unsnoozed':
      if (who) return `${who} unsnoozed this`
      return d.reason === 'customer' ? 'Snooze ended: the customer wrote' : 'Snooze ended'
    default:
      return null
  }
}

export interface SnoozeChoice {
  key: 'hour' | 'tomorrow' | 'monday'
  label: string
  until: number
}

/** The menu's presets; 9:00 is the workspace's (its timezone), the label says when that is here. */
export function snoozeChoices(now: number, timeZone: string): SnoozeChoice[] {
  const p = snoozePresets(now, timeZone)
  return [
    { key: 'hour', label: '1 hour', until: p.oneHour },
    { key: 'tomorrow', label: 'Tomorrow 9:00', until: p.tomorrow9 },
    { key: 'monday', label: 'Next Monday 9:00', until: p.nextMonday9 },
  ]
}

/** The browser's own timezone: the presets' until the workspace's is known. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

/** A datetime-local input's value for an instant, in the agent's local time ("2026-12-07T09:00"). */
export function localInputValue(at: number): string {
  const d = new Date(at)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

/** A datetime-local input's value (the agent's local time) as an instant; NaN when empty or malformed. */
export function fromLocalInput(value: string): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) ? new Date(value).getTime() : Number.NaN
}
