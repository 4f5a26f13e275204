// The composer's Note mode (issue 14): "Reply | Note" above the composer, and the note
// composer itself — tinted amber from edge to edge so nobody mistakes it for a reply,
// available whatever the 24-hour window says (a note is never sent). `@` opens a list
// of the conversation's channel members (and admins): arrows move, Enter or Tab
// inserts `@Full Name`, Esc closes it. Enter sends, Shift+Enter is a new line.
import type { ComponentType } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { notesOf } from '../state/notes.ts'
import './notes.css'

type Editor = ComponentType<{ conv: ConversationDTO }>
let editor: Editor | null = null
let loading: Promise<Editor> | null = null
// The editor and its @ picker load on first use: the inbox's initial JavaScript keeps its budget.
const loadEditor = () => (loading ??= import('./NoteEditor.tsx').then((m) => (editor = m.NoteEditor)))

/** Whether this conversation's composer is in Note mode. */
export function useNoteMode(conversationId: number): boolean {
  return notesOf(useApp()).noteMode.value.has(conversationId)
}

/** "Reply | Note": which composer the conversation shows. */
export function ComposerModes({ conv }: { conv: ConversationDTO }) {
  const notes = notesOf(useApp())
  const note = notes.noteMode.value.has(conv.id)
  const pick = (on: boolean) => {
    notes.setNoteMode(conv.id, on)
    // The chosen composer takes the keyboard.
    requestAnimationFrame(() => document.querySelector<HTMLElement>(on ? '#note-input' : '#composer-input')?.focus())
  }
  return (
    <div class={`composer-modes${note ? ' note' : ''}`} role="tablist" aria-label="Composer mode">
      <button type="button" role="tab" aria-selected={!note} class={note ? '' : 'on'} onClick={() => pick(false)}>
        Reply
      </button>
      <button
        type="button"
        role="tab"
        aria-selected={note}
        class={note ? 'on' : ''}
        onClick={() => pick(true)}
        title="An internal note: only your team sees it"
      >
        Note
      </button>
    </div>
  )
}

/** The note composer: amber from the first frame, its editor as soon as it has loaded. */
export function NoteComposer({ conv }: { conv: ConversationDTO }) {
  const [E, setE] = useState<Editor | null>(() => editor)
  const [failed, setFailed] = useState(false)
  useEffect(() => {
    if (E) return
    let live = true
    loadEditor().then(
      (c) => live && setE(() => c),
      () => {
        loading = null
        if (live) setFailed(true)
      },
    )
    return () => void (live = false)
  }, [failed])
  if (E) return <E conv={conv} />
  return (
    <div class="composer note-composer" aria-busy={!failed}>
      <p class="note-hint" role={failed ? 'alert' : 'status'}>
        {failed ? (
          <>
            The note composer could not be loaded.{' '}
            <button type="button" class="link" onClick={() => setFailed(false)}>
              Try again
            </button>
          </>
        ) : (
          'Loading the note composer…'
        )}
      </p>
    </div>
  )
}
