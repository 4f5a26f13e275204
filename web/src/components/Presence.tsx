// Who else has a conversation open or is typing in it (issue 14): the header's line,
// the list row's marker, and the composer's typing signal. Others only, never yourself.
import { useEffect } from 'preact/hooks'
import { Eye, PenLine } from 'lucide'
import { useApp } from '../state/context.ts'
import type { PresenceMode, PresencePerson } from '../state/presence.ts'
import { Icon } from './Icon.tsx'

/** "Ana is viewing", "Ana is typing…", "Ana is writing a note…". */
export function presenceText(p: PresencePerson): string {
  if (p.state === 'viewing') return `${p.name} is viewing`
  return p.mode === 'note' ? `${p.name} is writing a note…` : `${p.name} is typing…`
}

/**
 * In the open conversation's header: tells the server this person is viewing it (now,
 * every 5 s while the tab is visible, idle on leaving or hiding) and shows who else is.
 */
export function ConversationPresence({ id }: { id: number }) {
  const app = useApp()
  useEffect(() => app.presence.view(id), [id])
  const people = app.presence.of(id)
  return (
    <span class="presence-line" role="status" aria-live="polite" data-presence-for={id}>
      {people.map((p, i) => (
        <span key={p.id} class={`presence ${p.state}${p.mode === 'note' ? ' note' : ''}`} data-presence-user={p.id}>
          {i > 0 ? ' · ' : ''}
          {presenceText(p)}
        </span>
      ))}
    </span>
  )
}

/** The list row's small marker: a pen when someone else is typing there, an eye when someone views it. */
export function PresenceMarker({ id }: { id: number }) {
  const app = useApp()
  const people = app.presence.of(id)
  if (people.length === 0) return null
  const typing = people.some((p) => p.state === 'typing')
  const label = people.map(presenceText).join(', ')
  return (
    <span class={`presence-marker ${typing ? 'typing' : 'viewing'}`} role="img" aria-label={label} title={label}>
      <Icon icon={typing ? PenLine : Eye} size={14} />
    </span>
  )
}

/**
 * The composer's typing signal: call it with the text on every input (at most one
 * signal per 3 s reaches the server; an emptied composer stops "typing" at once).
 */
export function useTypingSignal(conversationId: number): (text: string, mode?: PresenceMode) => void {
  const app = useApp()
  return (text, mode) => app.presence.typed(conversationId, text, mode)
}
