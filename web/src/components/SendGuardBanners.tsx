// The send guard's banners above the composer (issue 14), loaded when one is first
// needed (SendGuard.tsx decides): a reply the server held, and why. "Ben replied 20 s ago"
// with the messages that came since, "Send anyway" and "Edit" (409 CONVERSATION_CHANGED);
// or, on a channel where only the assignee replies, who can and "Assign to me" (403
// ASSIGNEE_ONLY, also shown before sending when this person is not the assignee).
// The held reply's words are back in the composer (state/send-guard.ts).
import { useEffect, useState } from 'preact/hooks'
import type { ConversationDTO, MessageDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import type { Hold } from '../state/send-guard-types.ts'
import { assignToMe, changedBy, dismiss, secondsAgo, sendAnyway } from '../state/send-guard-actions.ts'
import { previewText } from './message-text.ts'
import './send-guard.css'

export function Banner({ conv, hold }: { conv: ConversationDTO; hold: Hold | undefined }) {
  const app = useApp()
  if (hold?.code === 'CONVERSATION_CHANGED') return <Changed hold={hold} />
  const assignee = conv.assignee
  const why =
    hold?.message ??
    (assignee
      ? `Only ${assignee.name}, who is assigned, can reply in this conversation.`
      : 'Assign this conversation to yourself to reply.')
  return (
    <div class="send-guard" role={hold ? 'alert' : 'note'} data-send-guard="assignee-only">
      <p>{why}</p>
      <div class="send-guard-actions">
        <button type="button" class="primary" onClick={() => void assignToMe(app.guard, conv.id)}>
          Assign to me
        </button>
        {hold && (
          <button type="button" class="chip" onClick={() => dismiss(app.guard, conv.id)}>
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
        <button type="button" class="primary" onClick={() => sendAnyway(app.guard, hold.conversationId)}>
          Send anyway
        </button>
        <button type="button" class="chip" onClick={() => dismiss(app.guard, hold.conversationId)}>
          Edit
        </button>
      </div>
    </div>
  )
}
