// The settings screen is for admins, a few times a year: it loads on demand, so the
// inbox's initial JavaScript stays within its budget (test/web-budget.test.ts).
import type { ComponentType } from 'preact'
import { useEffect, useState } from 'preact/hooks'

let loaded: ComponentType | null = null
const load = () => import('./SettingsScreen.tsx').then((m) => (loaded = m.SettingsScreen))

export function SettingsRoute() {
  const [Screen, setScreen] = useState<ComponentType | null>(() => loaded)
  const [failed, setFailed] = useState(false)
  useEffect(() => {
    if (Screen) return
    let live = true
    load().then(
      (c) => live && setScreen(() => c),
      () => live && setFailed(true),
    )
    return () => void (live = false)
  }, [failed])
  if (Screen) return <Screen />
  return (
    <div class="splash" role={failed ? 'alert' : 'status'}>
      {failed ? (
        <p>
          The settings could not be loaded.{' '}
          <button type="button" class="link" onClick={() => setFailed(false)}>
            Try again
          </button>
        </p>
      ) : (
        'Loading settings…'
      )}
    </div>
  )
}
