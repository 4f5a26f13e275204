// The campaigns list: status, progress and the funnel of each, updated live.
import { useSignal } from '@preact/signals'
import { useEffect } from 'preact/hooks'
import type { CampaignDTO } from '../../../src/events/types.ts'
import { campaignsApi, describeError } from './api.ts'
import { FALLBACK_REFRESH_MS, hasRelay, onStreamEvent, seqOf } from './live.ts'
import { navigate } from './route.tsx'
import { Progress, StatusBadge, funnel } from './parts.tsx'

export function CampaignList() {
  const items = useSignal<CampaignDTO[]>([])
  const next = useSignal<string | null>(null)
  const error = useSignal<string | null>(null)
  const loading = useSignal(true)

  useEffect(() => {
    let asOf = 0
    const seen = new Map<number, number>()
    const load = async () => {
      try {
        const page = await campaignsApi.campaigns()
        asOf = seqOf(page.eventId)
        items.value = page.campaigns
        next.value = page.nextCursor
        error.value = null
      } catch (e) {
        error.value = describeError(e)
      } finally {
        loading.value = false
      }
    }
    void load()
    const off = onStreamEvent((ev) => {
      if (ev.type === 'reset') return void load()
      if (ev.type !== 'campaign.updated') return
      const n = seqOf(ev.id)
      const c = (ev.data as { campaign: CampaignDTO }).campaign
      // Only news: older than the page, or than an update already applied, is dropped.
      if (n <= asOf || n <= (seen.get(c.id) ?? 0)) return
      seen.set(c.id, n)
      const i = items.value.findIndex((x) => x.id === c.id)
      items.value = i >= 0 ? items.value.map((x) => (x.id === c.id ? c : x)) : [c, ...items.value]
    })
    const timer = hasRelay ? undefined : setInterval(() => void load(), FALLBACK_REFRESH_MS)
    return () => {
      off()
      clearInterval(timer)
    }
  }, [])

  const more = async () => {
    if (!next.value) return
    try {
      const page = await campaignsApi.campaigns(next.value)
      const have = new Set(items.value.map((c) => c.id))
      items.value = [...items.value, ...page.campaigns.filter((c) => !have.has(c.id))]
      next.value = page.nextCursor
    } catch (e) {
      error.value = describeError(e)
    }
  }

  return (
    <section class="page">
      <div class="page-head">
        <h1>Campaigns</h1>
        <span class="spacer" />
        <button type="button" class="primary" onClick={() => navigate('/campaigns/new')}>
          New campaign
        </button>
      </div>
      {error.value && (
        <p class="form-error" role="alert">
          {error.value}
        </p>
      )}
      {!loading.value && items.value.length === 0 && !error.value && (
        <p class="pane-note">No campaigns yet. Import contacts first (Contacts → Import CSV), then send them an approved template.</p>
      )}
      <ul class="cards">
        {items.value.map((c) => {
          const f = funnel(c)
          return (
            <li key={c.id}>
              <a
                class="card"
                href={`/campaigns/${c.id}`}
                onClick={(e) => navigate(c.status === 'draft' ? `/campaigns/${c.id}/edit` : `/campaigns/${c.id}`, e)}
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
        <button type="button" class="link" onClick={() => void more()}>
          Load more
        </button>
      )}
    </section>
  )
}
