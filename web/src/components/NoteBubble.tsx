// An internal note in the timeline (issue 14): an amber card across the middle, neither
// the customer's side nor ours, with a "Note" badge and its author — never mistaken for
// a message the customer saw. Its author can delete it (asked twice, on the card itself).
// The text is rendered as text; `@Name` of a teammate is marked.
import { useState } from 'preact/hooks'
import type { MessageDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { notesOf } from '../state/notes.ts'
import { timeOf } from '../lib/format.ts'
import './notes.css'

/** The note's text with teammates' `@Name` marked (text nodes only). */
function withMentions(text: string, names: string[]) {
  if (names.length === 0) return [text]
  const escaped = [...names].sort((a, b) => b.length - a.length).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const re = new RegExp(`(^|[^\\p{L}\\p{N}_])(@(?:${escaped.join('|')}))(?![\\p{L}\\p{N}_])`, 'giu')
  const out: Array<string | preact.JSX.Element> = []
  let last = 0
  for (const m of text.matchAll(re)) {
    const start = m.index + m[1]!.length
    out.push(text.slice(last, start))
    out.push(
      <span key={start} class="mention">
        {m[2]}
      </span>,
    )
    last = start + m[2]!.length
  }
  out.push(text.slice(last))
  return out
}

export function NoteBubble({ m }: { m: MessageDTO }) {
  const app = useApp()
  const notes = notesOf(app)
  const [confirming, setConfirming] = useState(false)
  const me = app.user.value
  const mine = me !== null && m.senderUserId === me.id
  const team = notes.team.value
  if (team === null) void notes.loadTeam()
  const author = mine
    ? me.name
    : ((m.senderUserId !== null && (team?.find((p) => p.id === m.senderUserId)?.name ?? app.state.knownNames.get(m.senderUserId))) ??
      'A teammate')
  const f = notes.focus.value
  const focused = f !== null && f.messageId === m.id
  return (
    <div
      class={`note-bubble${focused ? ' note-focus' : ''}`}
      role="note"
      aria-label={`Internal note by ${author}`}
      data-message-id={m.id}
      data-note-id={m.id}
    >
      <div class="note-head">
        <span class="note-badge">Note</span>
        <span class="note-author">{author}</span>
        <time dateTime={new Date(m.timestamp).toISOString()}>{timeOf(m.timestamp)}</time>
        {mine &&
          (confirming ? (
            <span class="note-confirm">
              Delete this note?{' '}
              <button type="button" class="link danger" onClick={() => void notes.remove(m.conversationId, m.id)}>
                Delete
              </button>{' '}
              <button type="button" class="link" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </span>
          ) : (
            <button type="button" class="link note-delete" aria-label="Delete note" onClick={() => setConfirming(true)}>
              Delete
            </button>
          ))}
      </div>
      <p class="note-text">
        {withMentions(
          m.text ?? '',
          (team ?? []).map((p) => p.name),
        )}
      </p>
    </div>
  )
}
