// The top bar's "Mentions" (issue 14): a badge with the unread count, and a list of the
// notes that named this person, newest first, unread marked. Choosing one opens its
// conversation, scrolls to the note and highlights it, and marks that mention read.
import { useEffect, useRef } from 'preact/hooks'
import { AtSign } from 'lucide'
import { useApp } from '../state/context.ts'
import { notesOf } from '../state/notes.ts'
import { contactLabel, timeOf } from '../lib/format.ts'
import { Icon } from './Icon.tsx'
import './notes.css'

export function MentionsButton() {
  const app = useApp()
  const notes = notesOf(app)
  const n = notes.unread.value
  const open = notes.panelOpen.value
  const box = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (!open) return
    const onDown = (e: PointerEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) notes.panelOpen.value = false
    }
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation()
        notes.panelOpen.value = false
      }
    }
    document.addEventListener('pointerdown', onDown)
    document.addEventListener('keydown', onKey, true)
    return () => {
      document.removeEventListener('pointerdown', onDown)
      document.removeEventListener('keydown', onKey, true)
    }
  }, [open])

  const label = n > 0 ? `Mentions, ${n} unread` : 'Mentions'
  return (
    <div class="mentions-wrap" ref={box}>
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
      {open && <MentionsPanel />}
    </div>
  )
}

function MentionsPanel() {
  const notes = notesOf(useApp())
  const list = notes.mentions.value
  return (
    <div class="mentions-panel" role="dialog" aria-label="Mentions">
      <div class="mentions-head">
        <strong>Mentions</strong>
        {notes.unread.value > 0 && (
          <button type="button" class="link" onClick={() => void notes.readMentions()}>
            Mark all read
          </button>
        )}
      </div>
      {list.length === 0 ? (
        <p class="mentions-empty">{notes.loaded.value ? 'Nobody has mentioned you in a note yet.' : 'Loading…'}</p>
      ) : (
        <ul class="mentions-list" aria-label="Mentions, newest first">
          {list.map((m) => (
            <li key={m.id}>
              <button
                type="button"
                class={`mention-row${m.readAt === null ? ' unread' : ''}`}
                data-mention-id={m.id}
                data-unread={m.readAt === null ? 'true' : undefined}
                onClick={() => notes.jump(m)}
              >
                <span class="mr-top">
                  {m.readAt === null && <span class="mr-dot" aria-label="Unread" />}
                  <span class="mr-who">{m.author?.name ?? 'A teammate'}</span> in{' '}
                  <span class="mr-contact">{contactLabel({ ...m.contact, externalId: '' })}</span>
                  <time dateTime={new Date(m.createdAt).toISOString()}>{timeOf(m.createdAt)}</time>
                </span>
                <span class="mr-text">{m.text}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {notes.nextCursor.value && (
        <button type="button" class="link mentions-more" onClick={() => void notes.loadMentions(true)}>
          Show older mentions
        </button>
      )}
    </div>
  )
}
