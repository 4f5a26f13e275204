// Above the composer (issue 14): a reply the server held, and why. "Ben replied 20 s ago"
// with the messages that came since, "Send anyway" and "Edit" (409 CONVERSATION_CHANGED);
// or, on a channel where only the assignee replies, who can and "Assign to me" (403
// ASSIGNEE_ONLY, also shown before sending when this person is not the assignee).
// The held reply's words are back in the composer (state/send-guard.ts).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { ConversationDTO, MessageDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { changedBy, secondsAgo, type Hold } from '../state/send-guard.ts'
import { assigneeOf } from '../state/team.ts'
import { previewText } from './message-text.ts'
import './send-guard.css'

/**
 * The composer's side of the guard: what was on screen when its words began is what they
 * answer, and its text follows a held reply's words going back into its draft (or leaving it).
 */
export function useSendGuard(conversationId: number, text: string, set: (text: string) => void) {
  const app = useApp()
  const hasText = text.trim() !== ''
  // In the commit of the keystroke's render, not after paint: a message arriving right after
  // the first key is one the agent did not have on screen when they began.
  useLayoutEffect(() => app.guard.drafting(conversationId, hasText), [conversationId, hasText])
  const n = app.guard.restored.value
  const seen = useRef(n)
  useEffect(() => {
    if (n === seen.current) return
    seen.current = n
    set(app.drafts.get(conversationId) ?? '')
  }, [n])
}

export function SendGuardBanner({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const hold = app.guard.holds.value.get(conv.id)
  const me = app.user.value
  const assignee = assigneeOf(conv)
  const notMine = !!me && assignee?.id !== me.id
  if (hold?.code === 'CONVERSATION_CHANGED') return <Changed hold={hold} />
  const assigneeOnly = app.channels.value.find((c) => c.id === conv.channelId)?.assigneeOnly === true
  if (!notMine || !(assigneeOnly || hold?.code === 'ASSIGNEE_ONLY')) return null
  const why =
    hold?.message ??
    (assignee
      ? `Only ${assignee.name}, who is assigned, can reply in this conversation.`
      : 'Assign this conversation to yourself to reply.')
  return (
    <div class="send-guard" role={hold ? 'alert' : 'note'} data-send-guard="assignee-only">
      <p>{why}</p>
      <div class="send-guard-actions">
        <button type="button" class="primary" onClick={() => void app.guard.assignToMe(conv.id)}>
          Assign to me
        </button>
        {hold && (
          <button type="button" class="chip" onClick={() => app.guard.dismiss(conv.id)}>
            Dismiss
          </button>
        )}
      </div>
    </div>
  )
}

function Changed({ hold }: { hold: Hold }) {
  const app = useApp()
  const [now, setNow] = useState(Date.now())
  // "20 s ago" counts live while the banner shows.
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [])
  const newest = hold.newer.at(-1)
  const who = (m: MessageDTO) =>
    m.direction === 'in' ? 'Customer' : m.senderUserId !== null ? (hold.senders[m.senderUserId] ?? 'A colleague') : 'Outside Parley'
  return (
    <div class="send-guard" role="alert" data-send-guard="changed">
      <p>
        <strong data-changed-by>
          {newest ? `${changedBy(newest, hold.senders)} ${secondsAgo(newest.timestamp, now)}` : 'The conversation changed'}
        </strong>
        {' · your reply was not sent.'}
      </p>
      <ul class="send-guard-newer" aria-label="New since you looked">
        {hold.newer.map((m) => (
          <li key={m.id} data-message-id={m.id} class={m.direction === 'system' ? 'note' : m.direction}>
            <span class="who">{who(m)}:</span> {previewText(m)}
          </li>
        ))}
      </ul>
      <div class="send-guard-actions">
        <button type="button" class="primary" onClick={() => app.guard.sendAnyway(hold.conversationId)}>
          Send anyway
        </button>
        <button type="button" class="chip" onClick={() => app.guard.dismiss(hold.conversationId)}>
          Edit
        </button>
      </div>
    </div>
  )
}
