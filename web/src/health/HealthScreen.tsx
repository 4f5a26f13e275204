// Health (issue 16), for admins, at /health: per channel the last webhook, signature
// failures with their likely cause, token errors, the send queue, pauses; then the disk,
// backups and the event log. Red items say what to do. Asks GET /api/admin/health every
// few seconds while the page is open and visible, so it is live without a reload.
// Loaded on first use (Root.tsx), out of the inbox's initial JavaScript.
import { useEffect, useState } from 'preact/hooks'
import { describeError, request } from '../api/client.ts'
import { useApp } from '../state/context.ts'
import './health.css'

type ItemStatus = 'ok' | 'red' | 'info'
interface Item {
  key: string
  label: string
  status: ItemStatus
  text: string
  fix?: string
}
interface ChannelHealth {
  id: number | null
  kind: 'whatsapp' | 'messenger'
  name: string
  externalId: string | null
  enabled: boolean
  status: ItemStatus
  items: Item[]
}
interface Report {
  status: 'ok' | 'attention'
  checkedAt: number
  channels: ChannelHealth[]
  system: { items: Item[] }
}

/** How often the page asks again while it is open. */
export const REFRESH_MS = 3000

export function HealthScreen() {
  const admin = useApp().user.value?.role === 'admin'
  const [data, setData] = useState<Report | null>(null)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    if (!admin) return
    let live = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = () => {
      clearTimeout(timer)
      request<Report>('GET', '/api/admin/health').then(
        (r) => {
          if (!live) return
          setData(r)
          setError(null)
        },
        (e) => live && setError(describeError(e)),
      )
      // A hidden tab asks again when it is shown (below), not in the background.
      timer = setTimeout(() => document.visibilityState === 'visible' && load(), REFRESH_MS)
    }
    const shown = () => document.visibilityState === 'visible' && load()
    load()
    document.addEventListener('visibilitychange', shown)
    return () => {
      live = false
      clearTimeout(timer)
      document.removeEventListener('visibilitychange', shown)
    }
  }, [admin])

  if (!admin) {
    return (
      <main class="health">
        <h1>Health</h1>
        <p>The health page is for admins: ask one of them if something seems wrong.</p>
      </main>
    )
  }
  return (
    <main class="health" aria-busy={data === null && error === null}>
      <h1>Health</h1>
      {error && (
        <p class="health-error" role="alert">
          {error}
        </p>
      )}
      {data && (
        <>
          <p class={`health-summary is-${data.status}`} data-status={data.status}>
            {data.status === 'ok' ? 'Everything looks fine.' : 'Something needs attention: the red items say what to do.'}{' '}
            <span class="health-checked">Checked {new Date(data.checkedAt).toLocaleTimeString()}.</span>
          </p>
          {data.channels.map((c) => (
            <section class="health-card" key={`${c.kind}:${c.id ?? '?'}`} data-channel={c.id ?? 'unknown'} aria-label={c.name}>
              <h2>
                {c.name}{' '}
                <span class="health-sub">
                  {c.kind === 'whatsapp' ? 'WhatsApp' : 'Messenger'}
                  {c.externalId ? ` · ${c.externalId}` : ''}
                  {c.id !== null && !c.enabled ? ' · disabled' : ''}
                </span>
              </h2>
              <Items items={c.items} />
            </section>
          ))}
          <section class="health-card" data-channel="system" aria-label="Server">
            <h2>Server</h2>
            <Items items={data.system.items} />
          </section>
        </>
      )}
    </main>
  )
}

const WORD: Record<ItemStatus, string> = { ok: 'OK', red: 'Needs attention', info: 'Note' }

function Items({ items }: { items: Item[] }) {
  return (
    <ul class="health-items">
      {items.map((i) => (
        <li key={i.key} class={`health-item is-${i.status}`} data-key={i.key} data-status={i.status}>
          <span class="health-dot" role="img" aria-label={WORD[i.status]} />
          <div>
            <strong>{i.label}</strong> <span class="health-text">{i.text}</span>
            {i.fix && (
              <p class="health-fix">
                <strong>What to do:</strong> {i.fix}
              </p>
            )}
          </div>
        </li>
      ))}
    </ul>
  )
}
