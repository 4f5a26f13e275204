// The app (state + actions) is created once and provided through context, so
// components never import a global and tests can build as many as they like.
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { App } from './app.ts'

export const AppContext = createContext<App | null>(null)

export function useApp(): App {
  const app = useContext(AppContext)
  if (!app) throw new Error('useApp outside <AppContext.Provider>')
  return app
}
