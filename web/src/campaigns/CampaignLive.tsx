// A campaign, live: counters, progress and send rate, failures by reason, why it waits
// or paused, pause / resume / cancel, the per-recipient table, CSV export and follow-ups.
// Counters come from `campaign.updated` on the stream; the table is read in keyset pages
// and then follows the message events its rows are made of (recipients-live.ts).
import { useSignal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'
import type { CampaignDTO, CampaignRecipientDTO, FollowUpFilter } from '../../../src/events/types.ts'
import { campaignsApi, describeError } from './api.ts'
import { FALLBACK_REFRESH_MS, hasRelay, onStreamEvent, seqOf } from './live.ts'
import { applyRecipientEvent, type RowSeqs } from './recipients-live.ts'
import type { StreamEvent } from '../state/inbox.ts'
import { navigate } from './route.tsx'
import { Progress, StatusBadge, fmtTime, followUpSizes, funnel, pct } from './parts.tsx'

const PAGE = 100
const FILTERS: [string, string][] = [
  ['', 'Everyone'],
  ['queued', 'Waiting'],
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['read', 'Read'],
  ['replied', 'Replied'],
  ['failed', 'Failed'],
  ['skipped', 'Skipped'],
  ['unknown', 'Unconfirmed'],
]
const STATUS_TEXT: Record<string, string> = {
  queued: 'Waiting',
  sending: 'Sending',
  unknown: 'Unconfirmed',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Failed',
  skipped: 'Skipped',
}

export function CampaignLive({ id }: { id: number }) {
  const c = useSignal<CampaignDTO | null>(null)
  const error = useSignal<string | null>(null)
  const busy = useSignal(false)
  const rows = useSignal<CampaignRecipientDTO[]>([])
  const next = useSignal<string | null>(null)
  const filter = useSignal('')
  // The stream position each row is current to, and the message events that arrive
  // while a page is being read (applied to it once it is there, if newer).
  const seqs = useRef<RowSeqs>(new Map())
  const inflight = useRef<StreamEvent[] | null>(null)
  const reads = useRef(0)

  function applyEvent(ev: StreamEvent) {
    const changed = applyRecipientEvent(rows.value, ev, id, seqs.current)
    if (changed) rows.value = changed
  }

  async function loadTable(reset: boolean) {
    const buffer: StreamEvent[] = []
    inflight.current = buffer
    const read = ++reads.current
    try {
      const page = await campaignsApi.recipients(id, { status: filter.value || undefined, cursor: reset ? null : next.value, limit: PAGE })
      // A later read (another filter, a re-read) supersedes this one.
      if (read !== reads.current) return
      if (reset) seqs.current.clear()
      const asOf = seqOf(page.eventId)
      for (const r of page.recipients) seqs.current.set(r.id, asOf)
      rows.value = reset ? page.recipients : [...rows.value, ...page.recipients]
      next.value = page.nextCursor
      for (const ev of buffer) applyEvent(ev)
    } catch (e) {
      error.value = describeError(e)
    } finally {
      if (inflight.current === buffer) inflight.current = null
    }
  }

  useEffect(() => {
    let asOf = 0
    const load = async () => {
      try {
        const r = await campaignsApi.campaign(id)
        asOf = seqOf(r.eventId)
        c.value = r.campaign
      } catch (e) {
        error.value = describeError(e)
      }
    }
    void load()
    void loadTable(true)
    const off = onStreamEvent((ev) => {
      if (ev.type === 'reset') {
        void load()
        return void loadTable(true)
      }
      if (ev.type === 'message.created' || ev.type === 'message.updated') {
        inflight.current?.push(ev)
        return applyEvent(ev)
      }
      if (ev.type !== 'campaign.updated') return
      const dto = (ev.data as { campaign: CampaignDTO }).campaign
      const n = seqOf(ev.id)
      if (dto.id !== id || n <= asOf) return
      asOf = n
      const before = c.value
      c.value = dto
      // Rows change without a message event only when recipients are taken (a start),
      // skipped (a missing value, a cancel) or the campaign ends: then re-read the page.
      const reshaped =
        !before || before.status !== dto.status || before.counts.total !== dto.counts.total || before.counts.skipped !== dto.counts.skipped
      if (reshaped && rows.value.length <= PAGE) void loadTable(true)
    })
    const timer = hasRelay
      ? undefined
      : setInterval(() => {
          void load()
          if (rows.value.length <= PAGE) void loadTable(true)
        }, FALLBACK_REFRESH_MS)
    return () => {
      off()
      clearInterval(timer)
    }
  }, [id])

  async function act(fn: () => Promise<{ campaign: CampaignDTO }>) {
    busy.value = true
    error.value = null
    try {
      c.value = (await fn()).campaign
    } catch (e) {
      error.value = describeError(e)
    } finally {
      busy.value = false
    }
  }

  async function followUp(f: FollowUpFilter) {
    try {
      const r = await campaignsApi.followUp(id, f)
      navigate(`/campaigns/${r.campaign.id}/edit`)
    } catch (e) {
      error.value = describeError(e)
    }
  }

  const x = c.value
  if (!x) {
    return <section class="page">{error.value ? <p class="form-error">{error.value}</p> : <p class="muted">Loading…</p>}</section>
  }
  const k = x.counts
  const f = funnel(x)
  const fu = followUpSizes(x)
  const waiting = k.queued + k.sending
  const eta = x.status === 'running' && x.rate > 0 ? Math.ceil(waiting / x.rate) : null
  return (
    <section class="page live">
      <div class="page-head">
        <a class="link" href="/campaigns" onClick={(e) => navigate('/campaigns', e)}>
          ← Campaigns
        </a>
      </div>
      <div class="page-head">
        <h1>{x.name}</h1>
        <StatusBadge c={x} />
        <span class="spacer" />
        {x.status === 'running' && (
          <button type="button" disabled={busy.value} onClick={() => void act(() => campaignsApi.act(id, 'pause'))}>
            Pause
          </button>
        )}
        {x.status === 'paused' && (
          <button type="button" class="primary" disabled={busy.value} onClick={() => void act(() => campaignsApi.act(id, 'resume'))}>
            Resume
          </button>
        )}
        {(x.status === 'draft' || x.status === 'scheduled') && (
          <button type="button" onClick={() => navigate(`/campaigns/${id}/edit`)}>
            Edit
          </button>
        )}
        {['draft', 'scheduled', 'running', 'paused'].includes(x.status) && (
          <button
            type="button"
            class="danger"
            disabled={busy.value}
            onClick={() => {
              if (confirm(`Cancel “${x.name}”? ${waiting.toLocaleString()} recipients who have not been sent it yet will not get it.`)) {
                void act(() => campaignsApi.act(id, 'cancel'))
              }
            }}
          >
            Cancel campaign
          </button>
        )}
      </div>
      <p class="muted small">
        Template {x.template.name} ({x.template.language}) · {k.total.toLocaleString()} recipients
        {x.startedAt ? ` · started ${fmtTime(x.startedAt)}` : ''}
        {x.completedAt ? ` · finished ${fmtTime(x.completedAt)}` : ''}
        {x.status === 'scheduled' && x.scheduledAt ? ` · starts ${fmtTime(x.scheduledAt)}` : ''}
      </p>
      {x.pause && x.status === 'paused' && (
        <p class={`notice ${x.pause.code === 'manual' ? '' : 'notice-bad'}`} role="alert">
          Paused{x.pause.code === 'manual' ? '' : ' by Parley'}: {x.pause.reason}
        </p>
      )}
      {x.note && (
        <p class="notice" role="status">
          {x.note}
        </p>
      )}
      {error.value && (
        <p class="form-error" role="alert">
          {error.value}
        </p>
      )}

      <Progress c={x} />
      <p class="small" aria-live="polite">
        {Math.round(x.progress * 100)}% · {(k.total - waiting).toLocaleString()} of {k.total.toLocaleString()} done
        {x.status === 'running' ? ` · ${x.rate.toFixed(1)} messages/s` : ''}
        {eta !== null ? ` · about ${eta < 120 ? `${eta} s` : `${Math.ceil(eta / 60)} min`} left` : ''}
      </p>

      {/* Each share names its base: a funnel step is a share of the step before it. */}
      <dl class="counters">
        <Counter label="Waiting" n={waiting} />
        <Counter label="Sent" n={f.sent} of={k.total} base="of all" />
        <Counter label="Delivered" n={f.delivered} of={f.sent} base="of sent" />
        <Counter label="Read" n={f.read} of={f.delivered} base="of delivered" />
        <Counter label="Replied" n={k.replied} of={f.delivered} base="of delivered" />
        <Counter label="Failed" n={k.failed} of={k.total} base="of all" bad />
        <Counter label="Skipped" n={k.skipped} of={k.total} base="of all" />
        {k.unknown > 0 && <Counter label="Unconfirmed" n={k.unknown} bad />}
      </dl>

      {k.unknown > 0 && (x.status === 'running' || x.status === 'completed') && (
        <p class="notice">
          {k.unknown.toLocaleString()} sends were interrupted (a restart or a dropped connection) and WhatsApp has not confirmed them.
          Parley never resends these by itself.{' '}
          <button
            type="button"
            class="link"
            onClick={() => {
              if (
                confirm(
                  'Send again to the unconfirmed recipients? If WhatsApp did receive some of them and its confirmation is only late, those customers get the message twice.',
                )
              ) {
                void act(() => campaignsApi.retryUnconfirmed(id))
              }
            }}
          >
            Send again…
          </button>
        </p>
      )}

      <div class="two-col">
        {x.failures.length > 0 && (
          <table class="reasons">
            <caption>Failed, by reason</caption>
            <thead>
              <tr>
                <th>Code</th>
                <th>Reason</th>
                <th class="num">Recipients</th>
              </tr>
            </thead>
            <tbody>
              {x.failures.map((r) => (
                <tr key={String(r.code)}>
                  <td>{r.code ?? '–'}</td>
                  <td>{r.reason}</td>
                  <td class="num">{r.count.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {x.skips.length > 0 && (
          <table class="reasons">
            <caption>Skipped, by reason</caption>
            <tbody>
              {x.skips.map((r) => (
                <tr key={r.reason}>
                  <td>{r.label}</td>
                  <td class="num">{r.count.toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>

      {(x.status === 'completed' || x.status === 'cancelled') && (
        <div class="actions">
          <span class="muted">Follow up with a new campaign for those who</span>
          {fu.failed > 0 && (
            <button type="button" onClick={() => void followUp('failed')}>
              failed ({fu.failed})
            </button>
          )}
          {fu.unread > 0 && (
            <button type="button" onClick={() => void followUp('unread')}>
              did not read ({fu.unread})
            </button>
          )}
          {fu.noReply > 0 && (
            <button type="button" onClick={() => void followUp('no_reply')}>
              did not reply ({fu.noReply})
            </button>
          )}
        </div>
      )}

      <div class="table-head">
        <h2>Recipients</h2>
        <select
          value={filter.value}
          aria-label="Show"
          onChange={(e) => {
            filter.value = e.currentTarget.value
            void loadTable(true)
          }}
        >
          {FILTERS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        <button type="button" class="link" onClick={() => void loadTable(true)}>
          Refresh
        </button>
        <span class="spacer" />
        <a class="link" href={campaignsApi.exportUrl(id)} download>
          Export CSV
        </a>
      </div>
      <div class="table-wrap">
        <table class="recipients">
          <thead>
            <tr>
              <th>Contact</th>
              <th>Status</th>
              <th>Sent</th>
              <th>Delivered</th>
              <th>Read</th>
              <th>Replied</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {rows.value.map((r) => (
              <tr key={r.id}>
                <td>
                  {r.conversationId ? (
                    <a href={`/c/${r.conversationId}`} onClick={(e) => navigate(`/c/${r.conversationId}`, e)}>
                      {r.contact.name ?? `+${r.contact.phone}`}
                    </a>
                  ) : (
                    (r.contact.name ?? `+${r.contact.phone}`)
                  )}
                  <div class="muted small">+{r.contact.phone}</div>
                </td>
                <td>
                  <span class={`rstatus r-${r.status}`}>{STATUS_TEXT[r.status] ?? r.status}</span>
                </td>
                <td>{fmtTime(r.sentAt)}</td>
                <td>{fmtTime(r.deliveredAt)}</td>
                <td>{fmtTime(r.readAt)}</td>
                <td>{fmtTime(r.repliedAt)}</td>
                <td class="why">
                  {r.error ? `${r.error.code ?? ''} ${r.error.reason}`.trim() : r.skip ? (r.skip.detail ?? r.skip.label) : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {rows.value.length === 0 && <p class="muted">Nobody here.</p>}
      {next.value && (
        <button type="button" class="link" onClick={() => void loadTable(false)}>
          Load more
        </button>
      )}
    </section>
  )
}

function Counter(props: { label: string; n: number; of?: number; base?: string; bad?: boolean }) {
  return (
    <div class={`counter${props.bad && props.n > 0 ? ' bad' : ''}`}>
      <dt>{props.label}</dt>
      <dd>
        {props.n.toLocaleString()}
        {props.of !== undefined && (
          <span class="muted small share">
            {' '}
            {pct(props.n, props.of)} {props.base}
          </span>
        )}
      </dd>
    </div>
  )
}
