// Snooze and pending in the browser (issue 14), pure: the timeline's words for the new
// lines and the snooze time as a label in the agent's own time. The menu's presets are
// snooze-choices.ts (loaded with the menu).
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
