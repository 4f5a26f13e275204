// The Mentions list (issue 14), loaded when first opened (a chunk of its own). See MentionsButton.tsx.
import { useEffect } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { notesOf } from '../state/notes.ts'
import { contactLabel, timeOf } from '../lib/format.ts'

export function MentionsPanel() {
  const notes = notesOf(useApp())
  const list = notes.mentions.value
  // A click outside the button and the list, or Esc, closes it.
  useEffect(() => {
    const close = () => void (notes.panelOpen.value = false)
    const onDown = (e: PointerEvent) => !(e.target as Element | null)?.closest?.('.mentions-wrap') && close()
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return
      e.stopPropagation()
      close()
    }
    document.addEventListener('pointerdown', onDown)
    document.addEventListener('keydown', onKey, true)
    return () => {
      document.removeEventListener('pointerdown', onDown)
      document.removeEventListener('keydown', onKey, true)
    }
  }, [])
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
                  <span class="mr-contact">{contactLabel({ ...m.contact, externalId: '' }) || 'a customer'}</span>
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
