// Small pieces the campaign screens share: the status badge, the progress bar, the funnel.
import type { CampaignDTO } from '../../../src/events/types.ts'

const STATUS_LABEL: Record<CampaignDTO['status'], string> = {
  draft: 'Draft',
  scheduled: 'Scheduled',
  running: 'Sending',
  paused: 'Paused',
  completed: 'Completed',
  cancelled: 'Cancelled',
}

export function StatusBadge({ c }: { c: CampaignDTO }) {
  return <span class={`status status-${c.status}`}>{STATUS_LABEL[c.status]}</span>
}

/** Cumulative: a read message was also sent and delivered. */
export function funnel(c: CampaignDTO) {
  const k = c.counts
  return { sent: k.sent + k.delivered + k.read, delivered: k.delivered + k.read, read: k.read }
}

export const pct = (n: number, of: number) => (of > 0 ? `${Math.round((n / of) * 100)}%` : '–')

/**
 * Who each follow-up would reach, counted as the server selects them (campaigns.ts,
 * audienceWhere 'followup'): not read = still sent or delivered; no reply = reached
 * (sent, delivered or read) without an attributed reply.
 */
export function followUpSizes(c: CampaignDTO): { failed: number; unread: number; noReply: number } {
  const k = c.counts
  return { failed: k.failed, unread: k.sent + k.delivered, noReply: Math.max(0, funnel(c).sent - k.replied) }
}

export function Progress({ c }: { c: CampaignDTO }) {
  const k = c.counts
  const total = Math.max(1, k.total)
  const part = (n: number) => `${(n / total) * 100}%`
  const label = `${Math.round(c.progress * 100)}% done: ${(k.total - k.queued - k.sending).toLocaleString()} of ${k.total.toLocaleString()}`
  return (
    <div
      class="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(c.progress * 100)}
      aria-label={label}
      title={label}
    >
      <span class="seg seg-read" style={{ width: part(k.read) }} />
      <span class="seg seg-delivered" style={{ width: part(k.delivered) }} />
      <span class="seg seg-sent" style={{ width: part(k.sent + k.unknown) }} />
      <span class="seg seg-failed" style={{ width: part(k.failed) }} />
      <span class="seg seg-skipped" style={{ width: part(k.skipped) }} />
    </div>
  )
}

export function fmtTime(ms: number | null): string {
  return ms === null
    ? ''
    : new Date(ms).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}
