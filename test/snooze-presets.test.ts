// Snooze presets (issue 14) are 9:00 on the workspace's wall clock: a calendar day ahead
// across a daylight-saving change (23 or 25 hours), the weekday and date of the
// timezone (not UTC's) even far from UTC, half-hour offsets, month and year ends.
// Pure functions, no server: the browser runs the same code.
import t from 'tap'
import { snoozePresets, wallClock, zonedTime } from '../src/domain/team/snooze-presets.ts'

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number) => new Date(ms).toISOString()
const presets = (now: number, tz: string) => {
  const p = snoozePresets(now, tz)
  return { oneHour: iso(p.oneHour), tomorrow9: iso(p.tomorrow9), nextMonday9: iso(p.nextMonday9) }
}

t.test('UTC on an ordinary Thursday at the end of a year', async (t) => {
  t.same(presets(at('2026-12-31T12:00:00Z'), 'UTC'), {
    oneHour: '2026-12-31T13:00:00.000Z',
    tomorrow9: '2027-01-01T09:00:00.000Z',
    nextMonday9: '2027-01-04T09:00:00.000Z',
  })
})

t.test('spring forward (Europe/Berlin, 29 March 2026): tomorrow 9:00 is 20 hours after Saturday noon, not 21', async (t) => {
  const now = at('2026-03-28T11:00:00Z') // Saturday 12:00 CET (+1)
  const p = presets(now, 'Europe/Berlin')
  t.same(p, {
    oneHour: '2026-03-28T12:00:00.000Z',
    tomorrow9: '2026-03-29T07:00:00.000Z', // Sunday 09:00 CEST (+2)
    nextMonday9: '2026-03-30T07:00:00.000Z',
  })
  t.equal(snoozePresets(now, 'Europe/Berlin').tomorrow9 - now, 20 * 3600_000)
  t.same(wallClock(snoozePresets(now, 'Europe/Berlin').tomorrow9, 'Europe/Berlin').hour, 9)
})

t.test('fall back (America/New_York, 1 November 2026): still 9:00 on the wall clock', async (t) => {
  const now = at('2026-10-31T14:00:00Z') // Saturday 10:00 EDT (-4)
  t.same(presets(now, 'America/New_York'), {
    oneHour: '2026-10-31T15:00:00.000Z',
    tomorrow9: '2026-11-01T14:00:00.000Z', // Sunday 09:00 EST (-5)
    nextMonday9: '2026-11-02T14:00:00.000Z',
  })
  // The week of the change: from Friday, next Monday 9:00 is 72 h + 1 h away on the wall clock.
  const friday = at('2026-10-30T13:00:00Z') // Friday 09:00 EDT
  t.equal(snoozePresets(friday, 'America/New_York').nextMonday9 - friday, 73 * 3600_000)
})

t.test('far from UTC: the timezone’s date and weekday decide', async (t) => {
  // Sunday 20:00 UTC is already Monday 10:00 in Kiritimati (+14): next Monday is a week on.
  t.same(presets(at('2026-12-06T20:00:00Z'), 'Pacific/Kiritimati'), {
    oneHour: '2026-12-06T21:00:00.000Z',
    tomorrow9: '2026-12-07T19:00:00.000Z', // Tuesday 09:00 +14
    nextMonday9: '2026-12-13T19:00:00.000Z',
  })
  // Monday 08:00 UTC is still Sunday 21:00 in Pago Pago (-11): tomorrow is Monday.
  t.same(presets(at('2026-12-07T08:00:00Z'), 'Pacific/Pago_Pago'), {
    oneHour: '2026-12-07T09:00:00.000Z',
    tomorrow9: '2026-12-07T20:00:00.000Z',
    nextMonday9: '2026-12-07T20:00:00.000Z',
  })
})

t.test('a half-hour offset (Asia/Kolkata, +5:30)', async (t) => {
  t.same(presets(at('2026-12-07T00:00:00Z'), 'Asia/Kolkata'), {
    oneHour: '2026-12-07T01:00:00.000Z',
    tomorrow9: '2026-12-08T03:30:00.000Z',
    nextMonday9: '2026-12-14T03:30:00.000Z',
  })
})

t.test('on a Monday before 9:00, next Monday is next week’s', async (t) => {
  const p = snoozePresets(at('2026-12-07T06:00:00Z'), 'UTC')
  t.equal(iso(p.nextMonday9), '2026-12-14T09:00:00.000Z')
  t.equal(iso(p.tomorrow9), '2026-12-08T09:00:00.000Z')
})

t.test('zonedTime: a wall clock time the clocks skip lands just after the change', async (t) => {
  t.equal(iso(zonedTime('Europe/Berlin', 2026, 3, 29, 2, 30)), '2026-03-29T01:30:00.000Z') // 03:30 CEST
  t.equal(iso(zonedTime('Europe/Berlin', 2026, 3, 29, 9)), '2026-03-29T07:00:00.000Z')
  t.equal(iso(zonedTime('Europe/Berlin', 2026, 12, 32, 9)), '2027-01-01T08:00:00.000Z', 'day 32 is the 1st of the next month')
})

t.test('the browser’s words for the lines, and the picker’s local time round trip', async (t) => {
  const { snoozeWords } = await import('../web/src/state/snooze.ts')
  const { localInputValue, fromLocalInput, snoozeChoices } = await import('../web/src/state/snooze-choices.ts')
  const ana = { userId: 1, name: 'Ana' }
  t.equal(snoozeWords({ action: 'pending', actor: ana }, 0), 'Ana marked this pending')
  t.match(
    snoozeWords({ action: 'snoozed', actor: ana, until: at('2026-12-07T09:00:00Z') }, at('2026-12-01T09:00:00Z')),
    /^Ana snoozed this until /,
  )
  t.equal(snoozeWords({ action: 'unsnoozed', actor: ana }, 0), 'Ana unsnoozed this')
  t.equal(snoozeWords({ action: 'unsnoozed', actor: null, reason: 'due' }, 0), 'Snooze ended')
  t.equal(snoozeWords({ action: 'unsnoozed', actor: null, reason: 'customer' }, 0), 'Snooze ended: the customer wrote')
  t.equal(snoozeWords({ action: 'resolved', actor: ana }, 0), null, 'not a snooze line: the other words apply')
  const minute = at('2026-12-07T09:41:00Z')
  t.equal(fromLocalInput(localInputValue(minute)), minute)
  t.ok(Number.isNaN(fromLocalInput('')))
  t.same(
    snoozeChoices(at('2026-12-31T12:00:00Z'), 'UTC').map((c) => [c.key, c.label, iso(c.until)]),
    [
      ['hour', '1 hour', '2026-12-31T13:00:00.000Z'],
      ['tomorrow', 'Tomorrow 9:00', '2027-01-01T09:00:00.000Z'],
      ['monday', 'Next Monday 9:00', '2027-01-04T09:00:00.000Z'],
    ],
  )
})
