// The inbox layout: the list beside the open conversation (one or the other on a
// phone), the top bar, global keys, notifications and the page title.
import { useEffect, useState } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { ConversationList } from './ConversationList.tsx'
import { ConversationView } from './ConversationView.tsx'
import { ConnectionIndicator } from './ConnectionIndicator.tsx'
import { askPermission, chime, muted, permission, showNotification, toggleMute, unlockAudio } from '../lib/notify.ts'
import { contactLabel } from '../lib/format.ts'
import { previewText } from './message-text.ts'
import { NavLinks } from '../campaigns/route.tsx'
import { Bell, Settings, Volume2, VolumeX } from 'lucide'
import { Icon } from './Icon.tsx'

// Issue 4: sandbox mode says so in the UI too. The info route exists only in sandbox mode.
function SandboxBanner() {
  const [on, setOn] = useState(false)
  useEffect(() => {
    fetch('/api/sandbox/info')
      .then((r) => setOn(r.ok))
      .catch(() => setOn(false))
  }, [])
  if (!on) return null
  return (
    <p class="sandbox-banner" role="note">
      Sandbox mode: nothing reaches Meta. <a href="/sandbox" target="_blank" rel="noopener">Play a customer</a>
    </p>
  )
}

export function Inbox() {
  const app = useApp()
  const s = app.state
  const selectedId = s.selectedId.value

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (app.view.value !== 'inbox') return
      if (e.key === 'Escape') {
        if (app.replyTo.value) app.replyTo.value = null
        else if (s.selectedId.value !== null) {
          app.closeConversation()
          document.querySelector<HTMLElement>('#conversation-list')?.focus()
        }
      } else if (e.altKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
        e.preventDefault()
        app.step(e.key === 'ArrowDown' ? 1 : -1)
      }
    }
    // Sound needs a user gesture first (autoplay policy): the first click or key unlocks it.
    const unlock = () => unlockAudio()
    document.addEventListener('keydown', onKey)
    document.addEventListener('pointerdown', unlock, { once: true })
    document.addEventListener('keydown', unlock, { once: true })
    const off = s.onMessage((m, c) => {
      // One tab speaks for the browser: the leader (every tab sees every event).
      if (!app.isLeader() || m.direction !== 'in' || m.type === 'reaction') return
      const away = document.visibilityState !== 'visible' || s.selectedId.value !== m.conversationId || app.view.value !== 'inbox'
      if (!away) return
      chime()
      showNotification(contactLabel(c.contact), previewText(m), `parley-msg-${m.id}`, () =>
        void app.openConversation(m.conversationId),
      )
    })
    return () => {
      document.removeEventListener('keydown', onKey)
      off()
    }
  }, [])

  return (
    <div class={`inbox${selectedId !== null ? ' has-selection' : ''}`}>
      <aside class="sidebar" aria-label="Conversations">
        <SandboxBanner />
        <header class="topbar">
          <span class="brand">Parley</span>
          <ConnectionIndicator />
          <span class="spacer" />
          <NavLinks />
          {permission.value === 'default' && (
            <button type="button" class="icon" onClick={() => void askPermission()} aria-label="Turn on notifications" title="Turn on notifications">
              <Icon icon={Bell} />
            </button>
          )}
          <button
            type="button"
            class="icon"
            onClick={toggleMute}
            aria-pressed={muted.value}
            aria-label={muted.value ? 'Unmute sound' : 'Mute sound'}
            title={muted.value ? 'Unmute sound' : 'Mute sound'}
          >
            <Icon icon={muted.value ? VolumeX : Volume2} />
          </button>
          {app.user.value?.role === 'admin' && (
            <button type="button" class="icon" onClick={() => app.navigate('settings')} aria-label="Settings" title="Settings (channels)">
              <Icon icon={Settings} />
            </button>
          )}
          <button type="button" class="link" onClick={() => void app.logout()} title={app.user.value?.email}>
            Sign out
          </button>
        </header>
        <ConversationList />
      </aside>
      <main class="pane">
        {selectedId !== null ? (
          <ConversationView key={selectedId} id={selectedId} />
        ) : (
          <div class="empty-pane">
            <p>Select a conversation.</p>
            <p class="hint">↑ ↓ move through the list · Alt+↑ ↓ from anywhere · Esc closes</p>
          </div>
        )}
      </main>
      {app.toast.value && (
        <div class="toast" role="status">
          {app.toast.value}
        </div>
      )}
    </div>
  )
}
