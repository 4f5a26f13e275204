// Business hours are wall-clock hours in the workspace's timezone: the same UTC instant
// is open or closed depending on daylight saving, holidays are local dates, and no hours
// at all means always open. Pure functions, no server.
import t from 'tap'
import { hoursProblem, isOpen, isValidTimeZone, localTime, type BusinessHours } from '../src/domain/team/business-hours.ts'

const nineToFive = [{ from: '09:00', to: '17:30' }]
const weekdays: BusinessHours = {
  weekly: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
  holidays: ['2026-12-25'],
}
const at = (iso: string) => Date.parse(iso)

t.test('no hours: always open', async (t) => {
  t.ok(isOpen(null, 'UTC', at('2026-12-25T03:00:00Z')))
  t.ok(isOpen(null, 'Pacific/Kiritimati', at('2026-06-07T23:59:00Z')))
})

t.test('weekly hours in UTC: inclusive start, exclusive end, weekends closed', async (t) => {
  t.notOk(isOpen(weekdays, 'UTC', at('2026-12-07T08:59:59Z')), 'Monday 08:59 closed')
  t.ok(isOpen(weekdays, 'UTC', at('2026-12-07T09:00:00Z')), 'Monday 09:00 open')
  t.ok(isOpen(weekdays, 'UTC', at('2026-12-07T17:29:00Z')), 'Monday 17:29 open')
  t.notOk(isOpen(weekdays, 'UTC', at('2026-12-07T17:30:00Z')), 'Monday 17:30 closed')
  t.notOk(isOpen(weekdays, 'UTC', at('2026-12-05T12:00:00Z')), 'Saturday closed')
  t.notOk(isOpen(weekdays, 'UTC', at('2026-12-06T12:00:00Z')), 'Sunday closed')
})

t.test('the weekday and the date are the timezone’s, not UTC’s', async (t) => {
  // Monday 2026-12-07 01:00 UTC is still Sunday evening in New York.
  t.same(localTime('America/New_York', at('2026-12-07T01:00:00Z')), { date: '2026-12-06', weekday: 'sun', minutes: 20 * 60 })
  // Friday 23:30 UTC is Saturday morning in Auckland.
  t.equal(localTime('Pacific/Auckland', at('2026-12-04T23:30:00Z')).weekday, 'sat')
  t.notOk(isOpen(weekdays, 'Pacific/Auckland', at('2026-12-04T23:30:00Z')))
})

t.test('daylight saving: the same UTC time is open after the change, closed before it', async (t) => {
  // New York moves to EDT on Sunday 2026-03-08: 13:30 UTC is 08:30 EST on Friday 6th, 09:30 EDT on Monday 9th.
  t.notOk(isOpen(weekdays, 'America/New_York', at('2026-03-06T13:30:00Z')), 'Friday before: 08:30 EST, closed')
  t.ok(isOpen(weekdays, 'America/New_York', at('2026-03-09T13:30:00Z')), 'Monday after: 09:30 EDT, open')
  // And back: EST again from Sunday 2026-11-01. 21:45 UTC is 17:45 EDT on Friday Oct 30th, 16:45 EST on Monday Nov 2nd.
  t.notOk(isOpen(weekdays, 'America/New_York', at('2026-10-30T21:45:00Z')), 'Friday before: 17:45 EDT, closed')
  t.ok(isOpen(weekdays, 'America/New_York', at('2026-11-02T21:45:00Z')), 'Monday after: 16:45 EST, open')
  // Europe/Berlin changes on Sunday 2026-03-29 at 02:00 → 03:00: a Sunday shift 01:00–04:00.
  const sunday: BusinessHours = { weekly: { sun: [{ from: '01:00', to: '04:00' }] }, holidays: [] }
  t.ok(isOpen(sunday, 'Europe/Berlin', at('2026-03-29T00:30:00Z')), '01:30 CET open')
  t.ok(isOpen(sunday, 'Europe/Berlin', at('2026-03-29T01:30:00Z')), '03:30 CEST open (02:00–03:00 never happened)')
  t.notOk(isOpen(sunday, 'Europe/Berlin', at('2026-03-29T02:00:00Z')), '04:00 CEST closed')
})

t.test('holidays are local dates, closed all day', async (t) => {
  t.notOk(isOpen(weekdays, 'UTC', at('2026-12-25T12:00:00Z')), 'Christmas (a Friday) closed')
  t.ok(isOpen(weekdays, 'UTC', at('2026-12-24T12:00:00Z')), 'the day before open')
  // 2026-12-25 14:00 UTC is still the 25th in Honolulu (04:00) — closed; 2026-12-26 03:00 UTC is the 25th there (17:00): closed too.
  const h: BusinessHours = { ...weekdays, weekly: { ...weekdays.weekly, sat: nineToFive } }
  t.notOk(isOpen(h, 'Pacific/Honolulu', at('2026-12-26T03:00:00Z')), 'Friday the 25th in Honolulu, already the 26th in UTC')
  t.ok(isOpen(h, 'Pacific/Honolulu', at('2026-12-26T20:00:00Z')), 'Saturday the 26th in Honolulu: open')
})

t.test('until midnight and split days', async (t) => {
  const late: BusinessHours = {
    weekly: {
      mon: [
        { from: '08:00', to: '12:00' },
        { from: '13:00', to: '24:00' },
      ],
    },
    holidays: [],
  }
  t.ok(isOpen(late, 'UTC', at('2026-12-07T23:59:00Z')))
  t.notOk(isOpen(late, 'UTC', at('2026-12-07T12:30:00Z')), 'lunch break closed')
  t.notOk(isOpen(late, 'UTC', at('2026-12-08T00:00:00Z')), 'Tuesday 00:00 closed')
})

t.test('validation', async (t) => {
  t.ok(isValidTimeZone('Europe/Lisbon'))
  t.ok(isValidTimeZone('UTC'))
  t.notOk(isValidTimeZone('Mars/Olympus_Mons'))
  t.notOk(isValidTimeZone(''))
  t.equal(hoursProblem(weekdays), null)
  t.match(hoursProblem({ weekly: { mon: [{ from: '18:00', to: '09:00' }] }, holidays: [] }), /ends before it starts/)
  t.match(
    hoursProblem({
      weekly: {
        tue: [
          { from: '09:00', to: '12:00' },
          { from: '11:00', to: '14:00' },
        ],
      },
      holidays: [],
    }),
    /overlap/,
  )
  t.match(hoursProblem({ weekly: { wed: [{ from: '9:00', to: '12:00' }] }, holidays: [] }), /HH:MM/)
  t.match(hoursProblem({ weekly: {}, holidays: ['2026-02-30'] }), /not a date/)
})
