// The campaigns list: status, progress and the funnel of each, updated live. Agents
// (readOnly, issue 13) read it without "New campaign"; a draft opens read-only for them.
import { useEffect, useState } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { navigate } from '../lib/nav.ts'
import { followCampaignList, loadMoreCampaigns } from './actions.ts'
import { createCampaignListState } from './state.ts'
import { Progress, StatusBadge, funnel } from './parts.tsx'

export function CampaignList({ readOnly = false }: { readOnly?: boolean }) {
  const app = useApp()
  const [s] = useState(createCampaignListState)
  const { items, next, error, loading } = s

  useEffect(() => followCampaignList(s, app.resumed), [])

  return (
    <section class="page">
      <div class="page-head">
        <h1>Campaigns</h1>
        <span class="spacer" />
        {readOnly ? (
          <span class="muted small" data-read-only>
            Read only: admins create and send campaigns.
          </span>
        ) : (
          <button type="button" class="primary" onClick={() => navigate('/campaigns/new')}>
            New campaign
          </button>
        )}
      </div>
      {error.value && (
        <p class="form-error" role="alert">
          {error.value}
        </p>
      )}
      {!loading.value && items.value.length === 0 && !error.value && (
        <p class="pane-note">
          {readOnly
            ? 'No campaigns yet.'
            : 'No campaigns yet. Import contacts first (Contacts → Import CSV), then send them an approved template.'}
        </p>
      )}
      <ul class="cards">
        {items.value.map((c) => {
          const f = funnel(c)
          return (
            <li key={c.id}>
              <a
                class="card"
                href={`/campaigns/${c.id}`}
                onClick={(e) => navigate(c.status === 'draft' && !readOnly ? `/campaigns/${c.id}/edit` : `/campaigns/${c.id}`, e)}
              >
                <div class="card-line">
                  <strong class="card-title">{c.name}</strong>
                  <StatusBadge c={c} />
                </div>
                <div class="muted small">
                  {c.template.name} ({c.template.language}) · {c.counts.total.toLocaleString()} recipients
                  {c.scheduledAt && c.status === 'scheduled' ? ` · starts ${new Date(c.scheduledAt).toLocaleString()}` : ''}
                </div>
                {c.status !== 'draft' && c.status !== 'scheduled' && (
                  <>
                    <Progress c={c} />
                    <div class="funnel-mini small">
                      <span>Sent {f.sent}</span>
                      <span>Delivered {f.delivered}</span>
                      <span>Read {f.read}</span>
                      <span>Replied {c.counts.replied}</span>
                      <span class={c.counts.failed ? 'bad' : ''}>Failed {c.counts.failed}</span>
                      <span>Skipped {c.counts.skipped}</span>
                    </div>
                  </>
                )}
              </a>
            </li>
          )
        })}
      </ul>
      {next.value && (
        <button type="button" class="link" onClick={() => void loadMoreCampaigns(s)}>
          Load more
        </button>
      )}
    </section>
  )
}
