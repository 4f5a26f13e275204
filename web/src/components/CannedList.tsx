// Canned replies in the composer (issue 14): `/` at the very start opens a list of the
// shared replies and one's own, filtered by shortcut and text as one types. The keyboard
// is enough: ↑/↓ move, Enter or Tab choose, Esc closes (until the `/` is gone). Choosing
// renders the reply for this conversation on the server and puts the text in the
// composer to edit — nothing is sent until the agent sends it. A variable with no value
// (and no fallback) rendered empty: the composer says which, so the gap is not missed.
// The text goes in as the textarea's value: a contact's name is never read as HTML.
// Loaded on the first `/` (CannedPicker.tsx), so the inbox's first load stays small.
import type { RefObject } from 'preact'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { cannedError, loadCannedReplies, renderCannedReply, type CannedReplyDTO } from '../state/canned-actions.ts'
import { filterCanned, pickerQuery } from '../state/canned.ts'
import './canned.css'

const LIST_ID = 'canned-list'
const optionId = (id: number) => `canned-${id}`

export interface CannedListProps {
  conv: ConversationDTO
  text: string
  setText: (v: string) => void
  input: RefObject<HTMLTextAreaElement | null>
  /** Where the composer finds this list's key handler: true when the key was the list's. */
  keys: RefObject<((e: KeyboardEvent) => boolean) | null>
}

export function CannedList({ conv, text, setText, input, keys }: CannedListProps) {
  const [replies, setReplies] = useState<CannedReplyDTO[] | null>(null)
  // The highlighted match, kept in a ref so keys pressed faster than renders (or an
  // effect flushed late) never act on a stale index; a new query starts at the top.
  const active = useRef(0)
  const [, redraw] = useState(0)
  const lastQuery = useRef<string | null>(null)
  const [closed, setClosed] = useState(false)
  const [missing, setMissing] = useState<string[]>([])
  const [error, setError] = useState<string | null>(null)
  const busy = useRef(false)
  const query = pickerQuery(text)
  const open = query !== null && !closed
  const matches = open && replies ? filterCanned(replies, query) : []
  if (lastQuery.current !== query) {
    lastQuery.current = query
    active.current = 0
  }
  const current = matches[Math.min(active.current, matches.length - 1)]

  // Esc closes the list until the `/` is gone; clearing the composer clears the warnings.
  useEffect(() => {
    if (query === null) setClosed(false)
  }, [query === null])
  useEffect(() => {
    if (text === '') {
      setMissing([])
      setError(null)
    }
  }, [text === ''])
  // Read fresh each time the list opens: a colleague may have added a shared one.
  useEffect(() => {
    if (!open) return
    let live = true
    loadCannedReplies().then(
      (list) => live && setReplies(list),
      (e) => live && setError(cannedError(e)),
    )
    return () => void (live = false)
  }, [open])
  // The textarea announces the list (the combobox pattern) while it is open; in the same
  // commit as the list, so a screen reader never hears an option that is gone.
  useLayoutEffect(() => {
    const el = input.current
    if (!el) return
    const shown = open && matches.length > 0
    el.setAttribute('aria-autocomplete', 'list')
    el.setAttribute('aria-expanded', String(shown))
    if (shown) el.setAttribute('aria-controls', LIST_ID)
    else el.removeAttribute('aria-controls')
    if (shown && current) el.setAttribute('aria-activedescendant', optionId(current.id))
    else el.removeAttribute('aria-activedescendant')
  })

  const choose = async (r: CannedReplyDTO) => {
    if (busy.current) return
    busy.current = true
    setError(null)
    try {
      const out = await renderCannedReply(r.id, conv.id)
      setText(out.text)
      setMissing(out.missing)
      setClosed(true)
      const el = input.current
      if (el) {
        el.focus()
        // After the render has put the value in: the caret at the end, ready to edit.
        requestAnimationFrame(() => el.setSelectionRange(el.value.length, el.value.length))
      }
    } catch (e) {
      setError(cannedError(e))
    } finally {
      busy.current = false
    }
  }

  const onKeyDown = (e: KeyboardEvent): boolean => {
    if (!open || e.isComposing) return false
    if (e.key === 'Escape') {
      // Esc closes the list, not the conversation under it (Inbox.tsx listens on the document).
      e.preventDefault()
      e.stopPropagation()
      setClosed(true)
      return true
    }
    // No match: Enter sends what is typed (a message may start with a slash).
    if (matches.length === 0) return false
    const step = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : 0
    if (step !== 0) {
      e.preventDefault()
      active.current = (Math.min(active.current, matches.length - 1) + step + matches.length) % matches.length
      redraw((n) => n + 1)
      return true
    }
    const chosen = matches[Math.min(active.current, matches.length - 1)]
    if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && chosen) {
      e.preventDefault()
      void choose(chosen)
      return true
    }
    return false
  }

  keys.current = onKeyDown
  return open || missing.length > 0 || error ? (
    <div class="canned">
      {open && (
        <div id={LIST_ID} class="canned-list" role="listbox" aria-label="Canned replies">
          {replies === null ? (
            <div class="canned-empty">Loading canned replies…</div>
          ) : matches.length === 0 ? (
            <div class="canned-empty">
              {replies.length === 0 ? 'No canned replies yet: add some in Settings → Canned replies.' : 'No canned reply matches.'}
            </div>
          ) : (
            matches.map((r) => (
              <div
                key={r.id}
                id={optionId(r.id)}
                role="option"
                aria-selected={r === current}
                class={r === current ? 'canned-option active' : 'canned-option'}
                data-shortcut={r.shortcut}
                // Keep the focus in the textarea; a click chooses like Enter.
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => void choose(r)}
              >
                <span class="canned-shortcut">/{r.shortcut}</span>
                {r.shared && <span class="canned-shared">shared</span>}
                <span class="canned-text">{r.text}</span>
              </div>
            ))
          )}
        </div>
      )}
      {error && (
        <p class="canned-error" role="alert">
          {error}
        </p>
      )}
      {missing.length > 0 && (
        <p class="canned-missing" role="status" data-canned-missing>
          {missing.map((m) => `No value for ${m}`).join(' · ')}: fill it in before sending.
        </p>
      )}
    </div>
  ) : null
}
