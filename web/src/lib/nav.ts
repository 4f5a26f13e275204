// Moving between the app's pages without a reload: the current path as a signal and
// `navigate`. The top bar (components/TopBar.tsx), the contacts and campaigns screens
// and Root.tsx, which loads those screens on first use, all use it; it imports none of
// them, so Root and the screens it loads never import each other.
import { signal } from '@preact/signals'

export const path = signal(typeof location === 'undefined' ? '/' : location.pathname)

if (typeof window !== 'undefined') addEventListener('popstate', () => (path.value = location.pathname))

export const isCampaignsPath = (p = path.value) => /^\/(campaigns|contacts)(\/|$)/.test(p)
// Reports (issue 15), for admins.
export const isReportsPath = (p = path.value) => p === '/reports'
// Health (issue 16), for admins.
export const isHealthPath = (p = path.value) => p === '/health'

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
