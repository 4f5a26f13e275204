import { useApp } from '../state/context.ts'
import { LoginScreen, SetupScreen } from './AuthScreens.tsx'
import { Inbox } from './Inbox.tsx'
import { SettingsRoute } from '../settings/lazy.tsx'

export function Root() {
  const app = useApp()
  switch (app.phase.value) {
    case 'boot':
      return (
        <div class="splash" role="status">
          Loading Parley…
        </div>
      )
    case 'setup':
      return <SetupScreen />
    case 'login':
      return <LoginScreen />
    case 'error':
      return (
        <div class="splash" role="alert">
          <p>Parley could not start: {app.bootError.value}</p>
          <button type="button" onClick={() => location.reload()}>
            Try again
          </button>
        </div>
      )
    case 'inbox': {
      // The inbox stays mounted under the settings: notifications, sounds and its scroll
      // positions carry on while an admin edits channels.
      const settings = app.view.value === 'settings'
      return (
        <>
          {settings && <SettingsRoute />}
          <div class="shell" hidden={settings}>
            <Inbox />
          </div>
        </>
      )
    }
  }
}
