// live / reconnecting… / offline, with when the inbox last heard from the server. It
// lives in the one-line top bar: its text shrinks with an ellipsis (the whole of it
// stays in the title), and "Retry now" is an icon with its label hidden on narrow
// screens (issue 11, point 7: it used to wrap onto four lines and push Sign out away).
import { useApp } from '../state/context.ts'
import { clock } from '../lib/clock.ts'
import { agoLabel } from '../lib/format.ts'
import { RefreshCw } from 'lucide'
import { Icon } from './Icon.tsx'

const LABEL = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' } as const

export function ConnectionIndicator() {
  const app = useApp()
  const s = app.state.connection.value
  const synced = app.state.lastSyncedAt.value
  const ago = agoLabel(synced, clock.value)
  const retry = s !== 'live' && app.isLeader()
  return (
    <span class="conn-wrap">
      <span class={`conn conn-${s}`} role="status" aria-live="polite" data-connection={s} title={`${LABEL[s]} · last synced ${ago}`}>
        <span class="dot" aria-hidden="true" />
        <span class="conn-text">
          {LABEL[s]}
          {s !== 'live' && synced !== null && <span class="synced"> · synced {ago}</span>}
        </span>
      </span>
      {retry && (
        <button type="button" class="tb-btn conn-retry" onClick={() => app.reconnectNow()} aria-label="Retry now" title="Retry now">
          <Icon icon={RefreshCw} size={16} />
          <span class="tb-label">Retry now</span>
        </button>
      )}
    </span>
  )
}
