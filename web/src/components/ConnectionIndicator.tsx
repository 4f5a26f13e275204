// live / reconnecting… / offline, with when the inbox last heard from the server.
import { useApp } from '../state/context.ts'
import { clock } from '../lib/clock.ts'
import { agoLabel } from '../lib/format.ts'

const LABEL = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' } as const

export function ConnectionIndicator() {
  const app = useApp()
  const s = app.state.connection.value
  const synced = app.state.lastSyncedAt.value
  const ago = agoLabel(synced, clock.value)
  return (
    <span class={`conn conn-${s}`} role="status" aria-live="polite" data-connection={s} title={`Last synced ${ago}`}>
      <span class="dot" aria-hidden="true" />
      {LABEL[s]}
      {s !== 'live' && synced !== null && <span class="synced"> · synced {ago}</span>}
      {s !== 'live' && app.isLeader() && (
        <button type="button" class="link" onClick={() => app.reconnectNow()}>
          Retry now
        </button>
      )}
    </span>
  )
}
