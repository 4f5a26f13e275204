import { useApp } from '../state/context.ts'
import { LoginScreen, SetupScreen } from './AuthScreens.tsx'
import { Inbox } from './Inbox.tsx'

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
    case 'inbox':
      return <Inbox />
  }
}
