// The doorway to contacts and campaigns (issue 7), small enough for the inbox's initial
// bundle: the current path as a signal, navigation without a reload (the top bar's links
// use it, components/TopBar.tsx), and a loader that fetches the screens only when they are opened.
import { signal } from '@preact/signals'
import { useEffect, useState } from 'preact/hooks'
import type { ComponentType } from 'preact'

export const path = signal(typeof location === 'undefined' ? '/' : location.pathname)

if (typeof window !== 'undefined') addEventListener('popstate', () => (path.value = location.pathname))

export const isCampaignsPath = (p = path.value) => /^\/(campaigns|contacts)(\/|$)/.test(p)

export function navigate(to: string, e?: Event) {
  if (e) {
    const m = e as MouseEvent
    // New tab / window: let the browser do it.
    if (m.ctrlKey || m.metaKey || m.shiftKey || m.button === 1) return
    e.preventDefault()
  }
  if (location.pathname + location.search === to) return
  history.pushState(null, '', to)
  path.value = location.pathname
  // The inbox follows the URL on popstate (its open conversation); tell it too.
  if (!isCampaignsPath()) dispatchEvent(new PopStateEvent('popstate'))
}

let loaded: ComponentType | null = null

/** Loads the screens on first use (a separate chunk: the inbox's budget is untouched). */
export function CampaignsRoute() {
  // An initializer: a component passed as is would be called by useState as one.
  const [C, setC] = useState<ComponentType | null>(() => loaded)
  const [failed, setFailed] = useState(false)
  useEffect(() => {
    if (C) return
    import('./CampaignsApp.tsx').then((m) => setC(() => (loaded = m.CampaignsApp))).catch(() => setFailed(true))
  }, [])
  if (failed) {
    return (
      <div class="splash" role="alert">
        <p>Could not load this page.</p>
        <button type="button" onClick={() => location.reload()}>
          Try again
        </button>
      </div>
    )
  }
  return C ? (
    <C />
  ) : (
    <div class="splash" role="status">
      Loading…
    </div>
  )
}
