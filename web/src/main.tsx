import { render } from 'preact'
import { createApp } from './state/app.ts'
import { AppContext } from './state/context.ts'
import { Root } from './components/Root.tsx'
import { isResetPasswordPath } from './lib/auth-paths.ts'
import './styles.css'

const app = createApp()
render(
  <AppContext.Provider value={app}>
    <Root />
  </AppContext.Provider>,
  document.getElementById('app')!,
)
// A reset link ends this browser's session too: the inbox must not start under it.
if (!isResetPasswordPath()) void app.boot()
