// The top bar's "Mentions" (issue 14): a badge with the unread count, and a list of the
// notes that named this person, newest first, unread marked. Choosing one opens its
// conversation, scrolls to the note and highlights it, and marks that mention read.
import type { ComponentType } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { AtSign } from 'lucide'
import { useApp } from '../state/context.ts'
import { notesOf } from '../state/notes.ts'
import { Icon } from './Icon.tsx'
import './notes.css'

export function MentionsButton() {
  const app = useApp()
  const notes = notesOf(app)
  const n = notes.unread.value
  const open = notes.panelOpen.value

  const label = n > 0 ? `Mentions, ${n} unread` : 'Mentions'
  return (
    <div class="mentions-wrap">
      <button
        type="button"
        class="tb-btn mentions-btn"
        aria-label={label}
        title={label}
        aria-expanded={open}
        aria-haspopup="dialog"
        data-mentions-unread={n}
        onClick={() => {
          notes.panelOpen.value = !open
          if (!open) void notes.loadMentions()
        }}
      >
        <Icon icon={AtSign} />
        <span class="tb-label">Mentions</span>
        {n > 0 && (
          <span class="mentions-badge" aria-hidden="true">
            {n > 99 ? '99+' : n}
          </span>
        )}
      </button>
      {open && <LazyPanel />}
    </div>
  )
}

let panel: ComponentType | null = null
let loading: Promise<ComponentType> | null = null
const loadPanel = () => (loading ??= import('./MentionsPanel.tsx').then((m) => (panel = m.MentionsPanel)))

/** The list loads on first opening: the inbox's initial JavaScript keeps its budget. */
function LazyPanel() {
  const [P, setP] = useState<ComponentType | null>(() => panel)
  useEffect(() => {
    if (P) return
    let live = true
    loadPanel().then(
      (c) => live && setP(() => c),
      () => void (loading = null),
    )
    return () => void (live = false)
  }, [])
  return P ? (
    <P />
  ) : (
    <div class="mentions-panel" role="dialog" aria-label="Mentions" aria-busy="true">
      <p class="mentions-empty">Loading…</p>
    </div>
  )
}
