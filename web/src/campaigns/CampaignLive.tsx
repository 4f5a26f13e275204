// A campaign, live: counters, progress and send rate, failures by reason, why it waits
// or paused, pause / resume / cancel, the per-recipient table, CSV export and follow-ups.
// Counters come from `campaign.updated` on the stream; the table is read in keyset pages
// and then follows the message events its rows are made of (recipients-live.ts).
// Agents (readOnly, issue 13) see all of it but none of the controls: the server would
// answer 403 to edit, pause, resume, cancel, send again and follow up.
import { useEffect, useState } from 'preact/hooks'
import { navigate } from '../lib/nav.ts'
import { useApp } from '../state/context.ts'
import {
  controlCampaign,
  followCampaign,
  followUp,
  loadRecipients,
  recipientsCsvUrl,
  retryUnconfirmed,
  setRecipientFilter,
} from './actions.ts'
import { createCampaignLiveState } from './state.ts'
import { Progress, StatusBadge, fmtTime, followUpSizes, funnel, pct } from './parts.tsx'

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

export function CampaignLive({ id, readOnly = false }: { id: number; readOnly?: boolean }) {
  const app = useApp()
  // One state per campaign shown (the screen is keyed by the id).
  const [s] = useState(() => createCampaignLiveState(id))
  const { campaign: c, error, busy, rows, next, filter } = s

  useEffect(() => followCampaign(s, app.resumed), [])

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
        {readOnly && (
          <span class="muted small" data-read-only>
            Read only: admins edit, pause and cancel campaigns.
          </span>
        )}
        {!readOnly && x.status === 'running' && (
          <button type="button" disabled={busy.value} onClick={() => void controlCampaign(s, 'pause')}>
            Pause
          </button>
        )}
        {!readOnly && x.status === 'paused' && (
          <button type="button" class="primary" disabled={busy.value} onClick={() => void controlCampaign(s, 'resume')}>
            Resume
          </button>
        )}
        {!readOnly && (x.status === 'draft' || x.status === 'scheduled') && (
          <button type="button" onClick={() => navigate(`/campaigns/${id}/edit`)}>
            Edit
          </button>
        )}
        {!readOnly && ['draft', 'scheduled', 'running', 'paused'].includes(x.status) && (
          <button
            type="button"
            class="danger"
            disabled={busy.value}
            onClick={() => {
              if (confirm(`Cancel “${x.name}”? ${waiting.toLocaleString()} recipients who have not been sent it yet will not get it.`)) {
                void controlCampaign(s, 'cancel')
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
          Parley never resends these by itself.
          {readOnly ? (
            ' An admin can send them again.'
          ) : (
            <>
              {' '}
              <button
                type="button"
                class="link"
                onClick={() => {
                  if (
                    confirm(
                      'Send again to the unconfirmed recipients? If WhatsApp did receive some of them and its confirmation is only late, those customers get the message twice.',
                    )
                  ) {
                    void retryUnconfirmed(s)
                  }
                }}
              >
                Send again…
              </button>
            </>
          )}
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

      {!readOnly && (x.status === 'completed' || x.status === 'cancelled') && (
        <div class="actions">
          <span class="muted">Follow up with a new campaign for those who</span>
          {fu.failed > 0 && (
            <button type="button" onClick={() => void followUp(s, 'failed')}>
              failed ({fu.failed})
            </button>
          )}
          {fu.unread > 0 && (
            <button type="button" onClick={() => void followUp(s, 'unread')}>
              did not read ({fu.unread})
            </button>
          )}
          {fu.noReply > 0 && (
            <button type="button" onClick={() => void followUp(s, 'no_reply')}>
              did not reply ({fu.noReply})
            </button>
          )}
        </div>
      )}

      <div class="table-head">
        <h2>Recipients</h2>
        <select value={filter.value} aria-label="Show" onChange={(e) => setRecipientFilter(s, e.currentTarget.value)}>
          {FILTERS.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
        <button type="button" class="link" onClick={() => void loadRecipients(s, true)}>
          Refresh
        </button>
        <span class="spacer" />
        <a class="link" href={recipientsCsvUrl(s)} download>
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
        <button type="button" class="link" onClick={() => void loadRecipients(s, false)}>
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
