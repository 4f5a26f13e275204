// Settings → Business hours (issue 13, admins): the workspace's timezone, its weekly
// hours and holidays, the away message sent outside them (once per conversation per
// 12 hours), the greeting for a brand-new conversation, and the cap of open
// conversations automatic assignment gives one person. Empty texts turn a reply off.
import { useEffect, useState } from 'preact/hooks'
import type { OpenRange, Weekday, WorkspaceSettings } from '../api/settings.ts'
import { useApp } from '../state/context.ts'
import { browserTimeZone, knownTimeZones, loadWorkspaceSettings, saveWorkspaceSettings, settingsError } from './business-hours-actions.ts'
import './business-hours.css'

const DAYS: Array<[Weekday, string]> = [
  ['mon', 'Monday'],
  ['tue', 'Tuesday'],
  ['wed', 'Wednesday'],
  ['thu', 'Thursday'],
  ['fri', 'Friday'],
  ['sat', 'Saturday'],
  ['sun', 'Sunday'],
]
const MAX_TEXT = 1024
const DEFAULT_RANGE: OpenRange = { from: '09:00', to: '17:00' }

type Weekly = Record<Weekday, OpenRange[]>

interface Draft {
  timezone: string
  alwaysOpen: boolean
  weekly: Weekly
  holidays: string[]
  away: string
  greeting: string
  cap: string
}

// A time input cannot show 24:00: midnight at the end of a day is shown as 00:00.
const shown = (t: string) => (t === '24:00' ? '00:00' : t)
const stored = (r: OpenRange): OpenRange => ({ from: r.from, to: r.to === '00:00' ? '24:00' : r.to })

function draftOf(s: WorkspaceSettings): Draft {
  const weekly = Object.fromEntries(DAYS.map(([d]) => [d, (s.businessHours?.weekly[d] ?? []).map((r) => ({ ...r }))])) as Weekly
  return {
    timezone: s.timezone,
    // Never set: offer Monday to Friday, 9 to 5, once the admin unticks "always open".
    alwaysOpen: s.businessHours === null,
    weekly: s.businessHours
      ? weekly
      : (Object.fromEntries(DAYS.map(([d]) => [d, d === 'sat' || d === 'sun' ? [] : [{ ...DEFAULT_RANGE }]])) as Weekly),
    holidays: s.businessHours?.holidays ?? [],
    away: s.awayMessage ?? '',
    greeting: s.greetingMessage ?? '',
    cap: String(s.assignmentCap),
  }
}

function patchOf(d: Draft): Partial<WorkspaceSettings> {
  return {
    timezone: d.timezone.trim(),
    businessHours: d.alwaysOpen
      ? null
      : {
          weekly: Object.fromEntries(DAYS.map(([day]) => [day, d.weekly[day].map(stored)])) as Weekly,
          holidays: d.holidays,
        },
    awayMessage: d.away.trim() ? d.away : null,
    greetingMessage: d.greeting.trim() ? d.greeting : null,
    assignmentCap: Number(d.cap),
  }
}

export function BusinessHoursSection() {
  const app = useApp()
  const admin = app.user.value?.role === 'admin'
  const [draft, setDraft] = useState<Draft | null>(null)
  const [loadError, setLoadError] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const [busy, setBusy] = useState(false)
  const [holiday, setHoliday] = useState('')

  useEffect(() => {
    if (!admin) return
    let live = true
    loadWorkspaceSettings().then(
      (s) => live && setDraft(draftOf(s)),
      (e) => live && setLoadError(settingsError(e)),
    )
    return () => void (live = false)
  }, [admin])

  if (!admin) return null
  const change = (patch: Partial<Draft>) => {
    setSaved(false)
    setDraft((d) => (d ? { ...d, ...patch } : d))
  }
  const setDay = (day: Weekday, ranges: OpenRange[]) => draft && change({ weekly: { ...draft.weekly, [day]: ranges } })

  const problem = (d: Draft): string | null => {
    const cap = Number(d.cap)
    if (!Number.isInteger(cap) || cap < 1 || cap > 1000) return 'The cap is a whole number from 1 to 1000.'
    if (!d.timezone.trim()) return 'Choose a timezone, for example Europe/Lisbon.'
    if (d.away.length > MAX_TEXT || d.greeting.length > MAX_TEXT) return `An automatic reply can hold at most ${MAX_TEXT} characters.`
    return null
  }
  const save = async () => {
    if (!draft) return
    const why = problem(draft)
    if (why) return setError(why)
    setBusy(true)
    setError(null)
    try {
      setDraft(draftOf(await saveWorkspaceSettings(patchOf(draft))))
      setSaved(true)
    } catch (e) {
      setError(settingsError(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="hours-heading" class="business-hours">
      <h2 id="hours-heading">Business hours and automatic replies</h2>
      <p class="hint">
        When a customer writes outside these hours, Parley answers with the away message (at most once per conversation every 12 hours). A
        brand-new conversation gets the greeting. Both go out like an agent's reply, marked “Automatic” in the timeline. Leave a text empty
        to turn that reply off.
      </p>
      {loadError && (
        <p class="form-error" role="alert">
          {loadError}
        </p>
      )}
      {!draft && !loadError && <p class="hint">Loading…</p>}
      {draft && (
        <form
          class="hours-form"
          onSubmit={(e) => {
            e.preventDefault()
            void save()
          }}
        >
          <label class="field">
            <span>Timezone</span>
            <span class="row">
              <input
                id="hours-timezone"
                list="hours-timezones"
                value={draft.timezone}
                maxLength={64}
                spellcheck={false}
                autocomplete="off"
                onInput={(e) => change({ timezone: e.currentTarget.value })}
              />
              <button type="button" class="chip" onClick={() => change({ timezone: browserTimeZone() })}>
                Use this browser's ({browserTimeZone()})
              </button>
            </span>
            <datalist id="hours-timezones">
              {knownTimeZones().map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
          </label>

          <label class="check">
            <input type="checkbox" checked={draft.alwaysOpen} onChange={(e) => change({ alwaysOpen: e.currentTarget.checked })} />
            Always open (no away message is ever sent)
          </label>

          {!draft.alwaysOpen && (
            <>
              <fieldset class="week">
                <legend>Weekly hours</legend>
                {DAYS.map(([day, name]) => (
                  <DayRow key={day} day={day} name={name} ranges={draft.weekly[day]} onChange={(r) => setDay(day, r)} />
                ))}
              </fieldset>
              <fieldset class="holidays">
                <legend>Holidays (closed all day)</legend>
                <ul aria-label="Holidays">
                  {draft.holidays.map((h) => (
                    <li key={h}>
                      <time dateTime={h}>{h}</time>{' '}
                      <button
                        type="button"
                        class="chip"
                        aria-label={`Remove holiday ${h}`}
                        onClick={() => change({ holidays: draft.holidays.filter((x) => x !== h) })}
                      >
                        Remove
                      </button>
                    </li>
                  ))}
                  {draft.holidays.length === 0 && <li class="hint">No holidays.</li>}
                </ul>
                <span class="row">
                  <input type="date" aria-label="Holiday date" value={holiday} onInput={(e) => setHoliday(e.currentTarget.value)} />
                  <button
                    type="button"
                    class="chip"
                    disabled={!holiday}
                    onClick={() => {
                      if (holiday && !draft.holidays.includes(holiday)) change({ holidays: [...draft.holidays, holiday].sort() })
                      setHoliday('')
                    }}
                  >
                    Add holiday
                  </button>
                </span>
              </fieldset>
            </>
          )}

          <label class="field">
            <span>Away message (outside business hours)</span>
            <textarea
              rows={3}
              maxLength={MAX_TEXT}
              value={draft.away}
              placeholder="Off"
              onInput={(e) => change({ away: e.currentTarget.value })}
            />
          </label>
          <label class="field">
            <span>Greeting (a customer's first message)</span>
            <textarea
              rows={3}
              maxLength={MAX_TEXT}
              value={draft.greeting}
              placeholder="Off"
              onInput={(e) => change({ greeting: e.currentTarget.value })}
            />
          </label>
          <label class="field">
            <span>Automatic assignment: at most this many open conversations per person</span>
            <input type="number" min={1} max={1000} step={1} value={draft.cap} onInput={(e) => change({ cap: e.currentTarget.value })} />
          </label>

          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          <div class="settings-actions">
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Saving…' : 'Save business hours'}
            </button>
            {saved && (
              <span class="saved" role="status">
                Saved
              </span>
            )}
          </div>
        </form>
      )}
    </section>
  )
}

function DayRow({ day, name, ranges, onChange }: { day: Weekday; name: string; ranges: OpenRange[]; onChange: (r: OpenRange[]) => void }) {
  const open = ranges.length > 0
  const set = (i: number, patch: Partial<OpenRange>) => onChange(ranges.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  return (
    <div class="day" data-day={day}>
      <label class="check day-name">
        <input type="checkbox" checked={open} onChange={(e) => onChange(e.currentTarget.checked ? [{ ...DEFAULT_RANGE }] : [])} />
        {name}
      </label>
      <div class="ranges">
        {!open && <span class="hint">Closed</span>}
        {ranges.map((r, i) => (
          <span class="range" key={i}>
            <input
              type="time"
              aria-label={`${name} opens`}
              value={shown(r.from)}
              onInput={(e) => set(i, { from: e.currentTarget.value })}
            />
            <span aria-hidden="true">–</span>
            <input type="time" aria-label={`${name} closes`} value={shown(r.to)} onInput={(e) => set(i, { to: e.currentTarget.value })} />
            {ranges.length > 1 && (
              <button
                type="button"
                class="chip"
                aria-label={`Remove ${name} ${r.from}–${r.to}`}
                onClick={() => onChange(ranges.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            )}
          </span>
        ))}
        {open && (
          <button
            type="button"
            class="chip"
            aria-label={`Add hours on ${name}`}
            onClick={() => onChange([...ranges, { from: ranges[ranges.length - 1]?.to ?? '09:00', to: '24:00' }])}
          >
            Add hours
          </button>
        )}
      </div>
    </div>
  )
}
