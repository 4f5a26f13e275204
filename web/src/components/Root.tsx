import { useApp } from '../state/context.ts'
import { isInvitePath, isResetPasswordPath } from '../lib/auth-paths.ts'
import { lazy, LazyView } from '../lib/lazy.tsx'
import { SessionNotice } from './SessionNotice.tsx'
import { Inbox, SandboxBanner } from './Inbox.tsx'
import { TopBar } from './TopBar.tsx'
import { isCampaignsPath, isHealthPath, isReportsPath } from '../lib/nav.ts'

// Screens loaded on first use, out of the inbox's initial JavaScript: sign-in, first run,
// one-time links and signing in again (never needed by a signed-in inbox); the settings
// (for admins, a few times a year); contacts and campaigns (issue 7; where they are and
// how one moves there is lib/nav.ts, which the screens import instead of this file).
const auth = lazy(() => import('./AuthScreens.tsx'))
const settingsScreen = lazy(() => import('../settings/SettingsScreen.tsx'))
const campaignsApp = lazy(() => import('../campaigns/CampaignsApp.tsx'))
const reportsScreen = lazy(() => import('../reports/ReportsScreen.tsx'))
const healthScreen = lazy(() => import('../health/HealthScreen.tsx'))

export function Root() {
  const app = useApp()
  if (isResetPasswordPath())
    return (
      <LazyView of={auth} what="page">
        {(m) => <m.ResetPasswordScreen />}
      </LazyView>
    )
  if (isInvitePath())
    return (
      <LazyView of={auth} what="page">
        {(m) => <m.InviteScreen />}
      </LazyView>
    )
  switch (app.phase.value) {
    case 'boot':
      return (
        <div class="splash" role="status">
          Loading Parley…
        </div>
      )
    case 'setup':
      return (
        <LazyView of={auth} what="page">
          {(m) => <m.SetupScreen />}
        </LazyView>
      )
    case 'login':
      return (
        <LazyView of={auth} what="sign-in page">
          {(m) => <m.LoginScreen />}
        </LazyView>
      )
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
      // Contacts and campaigns (issue 7) cover it the same way.
      const reports = !settings && isReportsPath()
      const health = !settings && isHealthPath()
      const area = !settings && !reports && isCampaignsPath()
      const signingIn = app.reauth.value !== null
      // One top bar for every page (issue 11): it stays put while the pages change under it.
      return (
        <>
          <div class="frame" inert={signingIn}>
            <SandboxBanner />
            {/* Contacts and campaigns name themselves in their own headings; the settings page had its title in its bar. */}
            <TopBar
              current={settings ? 'settings' : reports ? 'reports' : health ? 'health' : area ? 'campaigns' : 'inbox'}
              title={settings ? 'Settings' : undefined}
            />
            <SessionNotice />
            <div class="frame-page">
              {settings && (
                <LazyView of={settingsScreen} what="settings">
                  {(m) => <m.SettingsScreen />}
                </LazyView>
              )}
              {area && (
                <LazyView of={campaignsApp} what="page">
                  {(m) => <m.CampaignsApp />}
                </LazyView>
              )}
              {reports && (
                <LazyView of={reportsScreen} what="reports">
                  {(m) => <m.ReportsScreen />}
                </LazyView>
              )}
              {health && (
                <LazyView of={healthScreen} what="health page">
                  {(m) => <m.HealthScreen />}
                </LazyView>
              )}
              <div class="shell" hidden={settings || area || reports || health}>
                <Inbox />
              </div>
            </div>
          </div>
          {/* An ended session: sign in over the page, which keeps its state underneath. */}
          {signingIn && (
            <LazyView of={auth} what="sign-in form">
              {(m) => <m.SignInAgain />}
            </LazyView>
          )}
        </>
      )
    }
  }
}
