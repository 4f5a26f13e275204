// The one top bar of every signed-in page (Inbox, Contacts, Campaigns, Settings; issue
// 11 points 7 and 10): the Live indicator, the navigation, Settings for admins and Sign
// out. Always one line: the connection text shrinks with an ellipsis, and below the
// breakpoints in styles.css the buttons keep their icon and lose their visible label
// (each keeps it as aria-label and title), so nothing is pushed off a 320 px screen.
import { useApp } from '../state/context.ts'
import { ConnectionIndicator } from './ConnectionIndicator.tsx'
import { askPermission, muted, permission, toggleMute } from '../lib/notify.ts'
import { navigate as go } from '../lib/nav.ts'
import { Bell, Inbox, LogOut, Megaphone, Settings, Volume2, VolumeX } from 'lucide'
import { Icon } from './Icon.tsx'
import { AVAILABILITIES, type Availability } from '../state/team.ts'
import { PickMenu } from './PickMenu.tsx'
import { MentionsButton } from './MentionsButton.tsx'

export type Section = 'inbox' | 'campaigns' | 'settings' | 'reports' | 'health'

/**
 * Follows a link inside the app without a reload. The inbox reads the URL on popstate
 * (its view and open conversation), so it is told about every move, including the
 * ones into contacts and campaigns: leaving the settings must leave its view too.
 */
function follow(to: string, e: Event) {
  go(to, e)
  if (e.defaultPrevented) dispatchEvent(new PopStateEvent('popstate'))
}

export function TopBar({ current, title }: { current: Section; title?: string }) {
  const app = useApp()
  const user = app.user.value
  const here = (s: Section) => (current === s ? 'page' : undefined)
  return (
    <header class="topbar" data-topbar>
      <a class="brand" href="/" onClick={(e) => follow('/', e)}>
        Parley
      </a>
      {/* The page's name for assistive technology; the bar shows where one is by the highlighted link. */}
      {title && <h1 class="sr-only">{title}</h1>}
      <ConnectionIndicator />
      <span class="spacer" />
      <nav class="topnav" aria-label="Main">
        <a class="tb-btn" href="/" aria-current={here('inbox')} aria-label="Inbox" title="Inbox" onClick={(e) => follow('/', e)}>
          <Icon icon={Inbox} />
          <span class="tb-label">Inbox</span>
        </a>
        <a
          class="tb-btn keep-label"
          href="/campaigns"
          aria-current={here('campaigns')}
          aria-label="Contacts and campaigns"
          title="Contacts and campaigns"
          onClick={(e) => follow('/campaigns', e)}
        >
          <Icon icon={Megaphone} />
          <span class="tb-label">Contacts &amp; campaigns</span>
        </a>
        {user?.role === 'admin' && (
          <a class="tb-btn keep-label" href="/reports" aria-current={here('reports')} onClick={(e) => follow('/reports', e)}>
            <span class="tb-label">Reports</span>
          </a>
        )}
      </nav>
      <MentionsButton />
      <AvailabilitySwitch />
      {permission.value === 'default' && (
        <button
          type="button"
          class="tb-btn"
          onClick={() => void askPermission()}
          aria-label="Turn on notifications"
          title="Turn on notifications"
        >
          <Icon icon={Bell} />
        </button>
      )}
      <button
        type="button"
        class="tb-btn"
        onClick={toggleMute}
        aria-pressed={muted.value}
        aria-label={muted.value ? 'Unmute sound' : 'Mute sound'}
        title={muted.value ? 'Unmute sound' : 'Mute sound'}
      >
        <Icon icon={muted.value ? VolumeX : Volume2} />
      </button>
      {user && (
        <a
          class="tb-btn"
          href="/settings"
          aria-current={here('settings')}
          aria-label="Settings"
          title={user.role === 'admin' ? 'Settings (profile, team, channels)' : 'Settings (your profile)'}
          onClick={(e) => {
            // A new tab or window: let the browser do it.
            if (e.ctrlKey || e.metaKey || e.shiftKey) return
            e.preventDefault()
            app.navigate('settings')
          }}
        >
          <Icon icon={Settings} />
          <span class="tb-label">Settings</span>
        </a>
      )}
      <button
        type="button"
        class="tb-btn"
        onClick={() => void app.logout()}
        aria-label="Sign out"
        title={user ? `Sign out (${user.email})` : 'Sign out'}
      >
        <Icon icon={LogOut} />
        <span class="tb-label">Sign out</span>
      </button>
    </header>
  )
}

const AVAILABILITY_LABELS: Record<Availability, string> = { online: 'Online', busy: 'Busy', away: 'Away' }

/**
 * Online, busy (no automatic assignment) or away (issue 13): set here by the person,
 * never by a backgrounded tab. Shows what the server last said, else "Online".
 */
function AvailabilitySwitch() {
  const app = useApp()
  const current = app.availability.value
  return (
    <PickMenu
      class={`availability av-${current}`}
      label={`Your availability: ${AVAILABILITY_LABELS[current]}`}
      title="Your availability: busy and away get no automatic assignments"
      attrs={{ 'data-availability': current }}
      items={AVAILABILITIES.map((a) => ({
        key: a,
        label: AVAILABILITY_LABELS[a],
        checked: a === current,
        onPick: () => void app.setAvailability(a),
      }))}
    >
      <span class="av-dot" aria-hidden="true" />
      <span class="tb-label">{AVAILABILITY_LABELS[current]}</span>
    </PickMenu>
  )
}
