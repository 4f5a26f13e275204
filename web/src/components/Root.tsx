import { useApp } from '../state/context.ts'
import {
  InviteScreen,
  LoginScreen,
  ResetPasswordScreen,
  SessionNotice,
  SetupScreen,
  SignInAgain,
  isInvitePath,
  isResetPasswordPath,
} from './AuthScreens.tsx'
import { Inbox, SandboxBanner } from './Inbox.tsx'
import { TopBar } from './TopBar.tsx'
import { SettingsRoute } from '../settings/lazy.tsx'
import { CampaignsRoute } from '../campaigns/route.tsx'
import { isCampaignsPath } from '../lib/nav.ts'

export function Root() {
  const app = useApp()
  if (isResetPasswordPath()) return <ResetPasswordScreen />
  if (isInvitePath()) return <InviteScreen />
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
      // Contacts and campaigns (issue 7) cover it the same way.
      const area = !settings && isCampaignsPath()
      const signingIn = app.reauth.value !== null
      // One top bar for every page (issue 11): it stays put while the pages change under it.
      return (
        <>
          <div class="frame" inert={signingIn}>
            <SandboxBanner />
            {/* Contacts and campaigns name themselves in their own headings; the settings page had its title in its bar. */}
            <TopBar current={settings ? 'settings' : area ? 'campaigns' : 'inbox'} title={settings ? 'Settings' : undefined} />
            <SessionNotice />
            <div class="frame-page">
              {settings && <SettingsRoute />}
              {area && <CampaignsRoute />}
              <div class="shell" hidden={settings || area}>
                <Inbox />
              </div>
            </div>
          </div>
          {/* An ended session: sign in over the page, which keeps its state underneath. */}
          {signingIn && <SignInAgain />}
        </>
      )
    }
  }
}
