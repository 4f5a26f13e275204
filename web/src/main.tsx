import { render } from 'preact'
import { createApp } from './state/app.ts'
import { AppContext } from './state/context.ts'
import { Root } from './components/Root.tsx'
import './styles.css'

const app = createApp()
render(
  <AppContext.Provider value={app}>
    <Root />
  </AppContext.Provider>,
  document.getElementById('app')!,
)
void app.boot()
