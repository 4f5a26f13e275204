// The snooze menu's presets (issue 14), pure: computed by the same function the server's
// tests check (9:00 on the workspace's wall clock, src/domain/team/snooze-presets.ts),
// labelled in the agent's local time. Loaded with the menu, not with the inbox.
import { snoozePresets } from '../../../src/domain/team/snooze-presets.ts'

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
