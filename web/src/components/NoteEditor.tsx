// The note composer itself (issue 14), loaded on first use of Note mode (a chunk of its
// own: the inbox's initial JavaScript stays within its budget). See NoteComposer.tsx.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import type { Teammate } from '../api/notes.ts'
import { useApp } from '../state/context.ts'
import { notesOf } from '../state/notes.ts'
import { useTypingSignal } from './Presence.tsx'

const MAX_ROWS = 6
const NOTE_MAX_CHARS = 10_000
// The picker shows at most this many names; typing narrows them.
const PICKER_MAX = 8
// Past this many characters after `@` the agent is not picking a name.
const QUERY_MAX = 40

/** The `@query` being typed at the caret, if any: where it starts and what it says. */
function atQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret)
  const at = before.lastIndexOf('@')
  if (at < 0 || caret - at - 1 > QUERY_MAX) return null
  if (at > 0 && /[\p{L}\p{N}_]/u.test(before[at - 1]!)) return null
  const query = before.slice(at + 1)
  if (query.includes('\n')) return null
  return { start: at, query }
}

/** Names starting with the query, or with a word that does (`@li` finds Ana Lima). */
function matches(people: Teammate[], query: string): Teammate[] {
  const q = query.toLowerCase()
  return people
    .filter((p) => {
      const n = p.name.toLowerCase()
      return n.startsWith(q) || n.split(/\s+/).some((w) => w.startsWith(q))
    })
    .slice(0, PICKER_MAX)
}

export function NoteEditor({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const notes = notesOf(app)
  const [text, setText] = useState(() => notes.drafts.get(conv.id) ?? '')
  const [picked, setPicked] = useState<Teammate[]>([])
  const [at, setAt] = useState<{ start: number; query: string } | null>(null)
  const [active, setActive] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const [sending, setSending] = useState(false)
  const input = useRef<HTMLTextAreaElement>(null)

  useEffect(() => {
    void notes.loadTeam()
    input.current?.focus()
  }, [conv.id])

  const options = at ? matches(notes.mentionable(conv.id), at.query) : []
  const open = at !== null && options.length > 0

  // "… is typing a note" for the others (presence, issue 14).
  const typing = useTypingSignal(conv.id)
  const update = (v: string, caret: number) => {
    setText(v)
    typing(v, 'note')
    setError(null)
    if (v) notes.drafts.set(conv.id, v)
    else notes.drafts.delete(conv.id)
    const q = atQuery(v, caret)
    setAt(q)
    if (q?.query !== at?.query) setActive(0)
  }

  const choose = (p: Teammate) => {
    if (!at) return
    const caret = input.current?.selectionStart ?? text.length
    const inserted = `@${p.name} `
    const v = text.slice(0, at.start) + inserted + text.slice(caret)
    const end = at.start + inserted.length
    setPicked((list) => (list.some((x) => x.id === p.id) ? list : [...list, p]))
    // The field and its caret change now, in this key's handler: set after the next frame,
    // the caret moved back over a key typed in between (seen on a busy CI machine:
    // "@Bea lease call her. p").
    const el = input.current
    if (el) {
      el.value = v
      el.setSelectionRange(end, end)
      el.focus()
    }
    update(v, end)
    setAt(null)
  }

  const send = async () => {
    const v = text.trim()
    if (!v || sending) return
    setSending(true)
    const failed = await notes.send(conv.id, v, picked)
    setSending(false)
    if (failed) {
      setError(failed)
      return
    }
    setPicked([])
    update('', 0)
    input.current?.focus()
  }

  return (
    <form
      class="composer note-composer"
      aria-label="Internal note"
      onSubmit={(e) => {
        e.preventDefault()
        void send()
      }}
    >
      <p class="note-hint" id="note-hint">
        Internal note: only your team sees it, never the customer. Type @ to mention a teammate.
      </p>
      {error && (
        <p class="note-error" role="alert">
          {error}
        </p>
      )}
      {open && (
        <div class="mention-picker" role="listbox" id="mention-picker" aria-label="Mention a teammate">
          {options.map((p, i) => (
            <div
              key={p.id}
              id={`mention-opt-${p.id}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? 'active' : ''}
              onMouseDown={(e) => {
                // Keep the textarea's focus and caret.
                e.preventDefault()
                choose(p)
              }}
            >
              <span class="mp-name">{p.name}</span>
              {p.role === 'admin' && <span class="mp-role">admin</span>}
            </div>
          ))}
        </div>
      )}
      <div class="compose-row">
        <textarea
          ref={input}
          id="note-input"
          aria-label="Internal note"
          aria-describedby="note-hint"
          aria-autocomplete="list"
          aria-controls={open ? 'mention-picker' : undefined}
          aria-expanded={open}
          aria-activedescendant={open ? `mention-opt-${options[active]?.id}` : undefined}
          placeholder="Write an internal note — only your team sees it"
          rows={Math.min(MAX_ROWS, text.split('\n').length)}
          maxLength={NOTE_MAX_CHARS}
          value={text}
          onInput={(e) => update(e.currentTarget.value, e.currentTarget.selectionStart ?? e.currentTarget.value.length)}
          onClick={(e) => setAt(atQuery(text, e.currentTarget.selectionStart ?? text.length))}
          onKeyDown={(e) => {
            if (open) {
              if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                e.preventDefault()
                const d = e.key === 'ArrowDown' ? 1 : -1
                setActive((i) => (i + d + options.length) % options.length)
                return
              }
              if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.isComposing) {
                e.preventDefault()
                const p = options[active]
                if (p) choose(p)
                return
              }
              if (e.key === 'Escape') {
                // Closes the list only, not the conversation.
                e.preventDefault()
                e.stopPropagation()
                setAt(null)
                return
              }
            }
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault()
              void send()
            }
          }}
        />
        <button
          type="submit"
          class="send note-send"
          aria-label="Add note"
          title="Add note (only your team sees it)"
          disabled={!text.trim() || sending}
        >
          ➤
        </button>
      </div>
    </form>
  )
}
