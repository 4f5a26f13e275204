// The inbox layout: the list beside the open conversation (one or the other on a
// phone), global keys, notifications and the page title. The top bar is the shell's (Root).
import { useEffect } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { ConversationList } from './ConversationList.tsx'
import { ConversationView } from './ConversationView.tsx'
import { chime, showNotification, unlockAudio } from '../lib/notify.ts'
import { contactLabel } from '../lib/format.ts'
import { previewText } from './message-text.ts'
import { concernsMe } from '../state/team.ts'

// Issue 4: sandbox mode says so in the UI too (the app asks the server once it is signed in).
// Root shows it across the page, above the top bar (issue 11).
export function SandboxBanner() {
  const app = useApp()
  if (!app.sandbox.value) return null
  return (
    <p class="sandbox-banner" role="note">
      Sandbox mode: nothing reaches Meta.{' '}
      <a href="/sandbox" target="_blank" rel="noopener">
        Play a customer
      </a>
    </p>
  )
}

export function Inbox() {
  const app = useApp()
  const s = app.state
  const selectedId = s.selectedId.value

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // Not while the page waits under the sign-in form (its Esc is the form's).
      if (app.view.value !== 'inbox' || app.reauth.value !== null) return
      if (e.key === 'Escape') {
        if (app.replyTo.value) app.replyTo.value = null
        // Issue 15: out of the search, back to the list (cleared).
        else if (s.search.value) s.search.value = ''
        else if (s.selectedId.value !== null) {
          app.closeConversation()
          document.querySelector<HTMLElement>('#conversation-list')?.focus()
        }
      } else if (
        (e.key === '/' && !(e.target as Element).closest('input,textarea,select,[contenteditable]')) ||
        (e.key === 'k' && (e.ctrlKey || e.metaKey))
      ) {
        // Issue 15: the search box, from anywhere but a field being typed in.
        e.preventDefault()
        document.getElementById('search')?.focus()
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
      // Only what concerns me (issue 13): mine and the unassigned, not a teammate's.
      if (!concernsMe(c, s.me.value)) return
      const away = document.visibilityState !== 'visible' || s.selectedId.value !== m.conversationId || app.view.value !== 'inbox'
      if (!away) return
      chime()
      showNotification(contactLabel(c.contact), previewText(m), `parley-msg-${m.id}`, () => void app.openConversation(m.conversationId))
    })
    // Being assigned something (by someone else: taking one oneself is no news).
    const offAssigned = s.onAssigned((c, by) => {
      if (by !== null && by.id === s.me.value) return
      const what = `${by ? `${by.name} assigned you` : 'Assigned to you'}: ${contactLabel(c.contact)}`
      // Every tab says so on the page; the leader alone rings and notifies.
      app.flash(what)
      if (!app.isLeader()) return
      chime()
      showNotification(what, c.lastMessagePreview ?? '', `parley-assigned-${c.id}`, () => void app.openConversation(c.id))
    })
    return () => {
      document.removeEventListener('keydown', onKey)
      off()
      offAssigned()
    }
  }, [])

  return (
    <div class={`inbox${selectedId !== null ? ' has-selection' : ''}`}>
      <aside class="sidebar" aria-label="Conversations">
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
