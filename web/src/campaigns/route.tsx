// The doorway to contacts and campaigns (issue 7), small enough for the inbox's initial
// bundle: a loader that fetches the screens only when they are opened. Where they are
// (the path) and how one moves there is lib/nav.ts, which the screens import instead of this file.
import { useEffect, useState } from 'preact/hooks'
import type { ComponentType } from 'preact'

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
