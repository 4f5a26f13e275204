// Reports (issue 15), for admins, at /reports: a date range (last 7 or 30 days, or chosen),
// grouped by day, week, agent or channel, in all or business hours; the totals, two small
// charts in plain SVG and the table, with its CSV (GET /api/reports/summary and .csv).
// Loaded on first use (Root.tsx), out of the inbox's initial JavaScript.
import { useEffect, useState } from 'preact/hooks'
import { describeError, qs, request } from '../api/client.ts'
import { useApp } from '../state/context.ts'
import './reports.css'

interface Durations {
  count: number
  medianSeconds: number | null
  p90Seconds: number | null
}
interface Figures {
  conversationsOpened: number
  conversationsReopened: number
  conversationsResolved: number
  messagesIn: number
  messagesOut: number
  firstResponse: Durations
  resolution: Durations
  waiting: { count: number; waitingSince: number | null; longestWaitSeconds: number | null }
  campaigns: { delivered: number; replied: number; replyRate: number | null }
}
interface Row extends Figures {
  key: string
  label: string
}
interface Summary {
  from: string
  to: string
  groupBy: string
  hours: string
  timezone: string
  rows: Row[]
  totals: Figures
}

type Preset = '7' | '30' | 'custom'
const GROUPS = [
  ['day', 'Day'],
  ['week', 'Week'],
  ['agent', 'Agent'],
  ['channel', 'Channel'],
] as const

const isoDay = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
const daysAgo = (n: number) => {
  const d = new Date()
  d.setDate(d.getDate() - n)
  return isoDay(d)
}

/** "45 s", "5 min", "1 h 30 min", "2 d 3 h"; "—" for nothing. */
export function duration(s: number | null): string {
  if (s === null) return '—'
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.round(s / 60)} min`
  if (s < 86400) {
    const h = Math.floor(s / 3600)
    const m = Math.round((s % 3600) / 60)
    return m ? `${h} h ${m} min` : `${h} h`
  }
  const d = Math.floor(s / 86400)
  const h = Math.round((s % 86400) / 3600)
  return h ? `${d} d ${h} h` : `${d} d`
}

const percent = (r: number | null) => (r === null ? '—' : `${Math.round(r * 100)}%`)

export function ReportsScreen() {
  const admin = useApp().user.value?.role === 'admin'
  const [preset, setPreset] = useState<Preset>('7')
  const [from, setFrom] = useState(daysAgo(6))
  const [to, setTo] = useState(daysAgo(0))
  const [groupBy, setGroupBy] = useState('day')
  const [hours, setHours] = useState('all')
  const [data, setData] = useState<Summary | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(false)

  const range = preset === 'custom' ? { from, to } : { from: daysAgo(Number(preset) - 1), to: daysAgo(0) }
  const query = qs({ ...range, groupBy, hours })

  useEffect(() => {
    if (!admin) return
    let live = true
    setLoading(true)
    request<Summary>('GET', `/api/reports/summary${query}`).then(
      (s) => {
        if (!live) return
        setData(s)
        setError(null)
        setLoading(false)
      },
      (e) => {
        if (!live) return
        setError(describeError(e))
        setLoading(false)
      },
    )
    return () => void (live = false)
  }, [query, admin])

  if (!admin) {
    return (
      <main class="reports">
        <h1>Reports</h1>
        <p>Reports are for admins: ask one of them for the team’s figures.</p>
      </main>
    )
  }
  const t = data?.totals
  return (
    <main class="reports" aria-busy={loading}>
      <h1>Reports</h1>
      <form class="report-controls" onSubmit={(e) => e.preventDefault()}>
        <label>
          Range{' '}
          <select value={preset} onChange={(e) => setPreset(e.currentTarget.value as Preset)}>
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
            <option value="custom">Custom…</option>
          </select>
        </label>
        {preset === 'custom' && (
          <>
            <label>
              From <input type="date" value={from} max={to} onChange={(e) => e.currentTarget.value && setFrom(e.currentTarget.value)} />
            </label>
            <label>
              To <input type="date" value={to} min={from} onChange={(e) => e.currentTarget.value && setTo(e.currentTarget.value)} />
            </label>
          </>
        )}
        <label>
          Group by{' '}
          <select value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value)}>
            {GROUPS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Hours{' '}
          <select value={hours} onChange={(e) => setHours(e.currentTarget.value)}>
            <option value="all">All hours</option>
            <option value="business">Business hours</option>
          </select>
        </label>
      </form>
      {error && (
        <p class="report-error" role="alert">
          {error}
        </p>
      )}
      {t && data && (
        <>
          <p class="report-range">
            {data.from} to {data.to} ({data.timezone}){data.hours === 'business' ? ', business hours only' : ''}
          </p>
          <dl class="report-totals">
            <Stat name="Opened" value={String(t.conversationsOpened)} />
            <Stat name="Reopened" value={String(t.conversationsReopened)} />
            <Stat name="Resolved" value={String(t.conversationsResolved)} />
            <Stat name="Messages in / out" value={`${t.messagesIn} / ${t.messagesOut}`} />
            <Stat
              name="First response (median / p90)"
              value={`${duration(t.firstResponse.medianSeconds)} / ${duration(t.firstResponse.p90Seconds)}`}
            />
            <Stat
              name="Resolution (median / p90)"
              value={`${duration(t.resolution.medianSeconds)} / ${duration(t.resolution.p90Seconds)}`}
            />
            <Stat
              name="Waiting now"
              value={t.waiting.count ? `${t.waiting.count}, longest ${duration(t.waiting.longestWaitSeconds)}` : 'Nobody'}
            />
            <Stat name="Campaign replies" value={`${percent(t.campaigns.replyRate)} of ${t.campaigns.delivered} delivered`} />
          </dl>
          <div class="report-charts">
            <Bars
              title="Conversations opened and resolved"
              rows={data.rows}
              series={[
                ['Opened', (r) => r.conversationsOpened, 'c1'],
                ['Resolved', (r) => r.conversationsResolved, 'c2'],
              ]}
            />
            <Bars
              title="First response, median (minutes)"
              rows={data.rows}
              series={[['First response', (r) => Math.round((r.firstResponse.medianSeconds ?? 0) / 60), 'c3']]}
            />
          </div>
          <ReportTable rows={data.rows} csvHref={`/api/reports/summary.csv${query}`} />
        </>
      )}
    </main>
  )
}

function Stat({ name, value }: { name: string; value: string }) {
  return (
    <div>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </div>
  )
}

/** A small grouped bar chart in plain SVG, with the values as its text alternative. */
function Bars({ title, rows, series }: { title: string; rows: Row[]; series: Array<[string, (r: Row) => number, string]> }) {
  const W = 320
  const H = 120
  const max = Math.max(1, ...rows.flatMap((r) => series.map(([, f]) => f(r))))
  const band = rows.length ? W / rows.length : W
  const bar = Math.max(1, (band * 0.8) / series.length)
  const summary = rows.map((r) => `${r.label}: ${series.map(([n, f]) => `${n} ${f(r)}`).join(', ')}`).join('; ')
  return (
    <figure class="report-chart">
      <figcaption>
        {title}
        {series.length > 1 && (
          <span class="legend">
            {series.map(([n, , c]) => (
              <span key={n} class={`key ${c}`}>
                {n}
              </span>
            ))}
          </span>
        )}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. ${summary}`} preserveAspectRatio="none">
        <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} class="axis" />
        {rows.map((r, i) =>
          series.map(([n, f, c], j) => {
            const h = (f(r) / max) * (H - 4)
            return (
              <rect key={`${r.key}-${n}`} class={c} x={i * band + band * 0.1 + j * bar} y={H - h} width={bar} height={h}>
                <title>{`${r.label} — ${n}: ${f(r)}`}</title>
              </rect>
            )
          }),
        )}
      </svg>
    </figure>
  )
}

function ReportTable({ rows, csvHref }: { rows: Row[]; csvHref: string }) {
  return (
    <section class="report-table">
      <div class="report-table-head">
        <h2>Table</h2>
        <a class="button" href={csvHref} download>
          Export CSV
        </a>
      </div>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">Opened</th>
              <th scope="col">Reopened</th>
              <th scope="col">Resolved</th>
              <th scope="col">In</th>
              <th scope="col">Out</th>
              <th scope="col">First response median</th>
              <th scope="col">p90</th>
              <th scope="col">Resolution median</th>
              <th scope="col">p90</th>
              <th scope="col">Waiting now</th>
              <th scope="col">Campaign replies</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key} data-key={r.key}>
                <th scope="row">{r.label}</th>
                <td>{r.conversationsOpened}</td>
                <td>{r.conversationsReopened}</td>
                <td>{r.conversationsResolved}</td>
                <td>{r.messagesIn}</td>
                <td>{r.messagesOut}</td>
                <td>{duration(r.firstResponse.medianSeconds)}</td>
                <td>{duration(r.firstResponse.p90Seconds)}</td>
                <td>{duration(r.resolution.medianSeconds)}</td>
                <td>{duration(r.resolution.p90Seconds)}</td>
                <td>{r.waiting.count ? `${r.waiting.count} (${duration(r.waiting.longestWaitSeconds)})` : '—'}</td>
                <td>{percent(r.campaigns.replyRate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
