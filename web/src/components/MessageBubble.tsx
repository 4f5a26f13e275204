// A message bubble for every stored type. Everything from the customer — text, names,
// captions, filenames, contact cards, coordinates — is rendered as text nodes or
// attribute values through Preact, never as HTML; links are http(s) only.
import { useState } from 'preact/hooks'
import { sentFromPhoneApp, type MessageDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import type { PendingMessage, Thread } from '../state/inbox.ts'
import { linkify } from '../lib/linkify.ts'
import { timeOf } from '../lib/format.ts'
import { memo } from '../lib/memo.ts'
import { previewText } from './message-text.ts'
import { Reply, SmilePlus } from 'lucide'
import { Icon } from './Icon.tsx'
import { lazy, LazyInline } from '../lib/lazy.tsx'

const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏']

export function Linkified({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((s, i) =>
        s.kind === 'link' ? (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer nofollow ugc">
            {s.text}
          </a>
        ) : (
          s.text
        ),
      )}
    </>
  )
}

/** `away` or `greeting` on an automatic reply (context.automatic), null otherwise. */
const automaticOf = (m: MessageDTO): string | null => {
  const k = m.context?.automatic
  return k === 'away' || k === 'greeting' ? k : null
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const strOf = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null)

/** The stored file's URL once Parley has downloaded it (issue 4 fills media.url). */
function mediaSrc(m: MessageDTO): string | null {
  const url = strOf(m.media?.url)
  // Only Parley's own media route: a URL from anywhere else is never loaded.
  return url && url.startsWith('/api/media/') ? url : null
}

function Caption({ m }: { m: MessageDTO }) {
  return m.text ? (
    <p class="text">
      <Linkified text={m.text} />
    </p>
  ) : null
}

function Body({ m }: { m: MessageDTO }) {
  const src = mediaSrc(m)
  const data = m.data
  switch (m.type) {
    case 'text':
    case 'template':
      return (
        <p class="text">
          <Linkified text={m.text ?? ''} />
        </p>
      )
    case 'image':
    case 'sticker':
      return (
        <>
          {src ? (
            <a href={src} target="_blank" rel="noopener" class="media-link">
              <img class={m.type} src={src} alt={m.text ?? (m.type === 'sticker' ? 'Sticker' : 'Photo')} loading="lazy" />
            </a>
          ) : (
            <p class="media-wait">{m.type === 'sticker' ? '💟 Sticker' : '📷 Photo'} (loading…)</p>
          )}
          <Caption m={m} />
        </>
      )
    case 'video':
      return (
        <>
          {src ? <video src={src} controls preload="none" class="video" /> : <p class="media-wait">🎥 Video (loading…)</p>}
          <Caption m={m} />
        </>
      )
    case 'audio':
      return src ? (
        <audio src={src} controls preload="none" aria-label={m.media?.voice ? 'Voice message' : 'Audio'} />
      ) : (
        <p class="media-wait">{m.media?.voice ? '🎤 Voice message' : '🎵 Audio'} (loading…)</p>
      )
    case 'document': {
      const name = strOf(m.media?.filename) ?? 'Document'
      return (
        <>
          {src ? (
            <a class="doc" href={src} download={name}>
              <span aria-hidden="true">📄</span> <span class="filename">{name}</span>
            </a>
          ) : (
            <p class="doc">
              <span aria-hidden="true">📄</span> <span class="filename">{name}</span> (loading…)
            </p>
          )}
          <Caption m={m} />
        </>
      )
    }
    case 'location': {
      const d = obj(data)
      const lat = Number(d.latitude)
      const lon = Number(d.longitude)
      const ok = Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180
      const label = [strOf(d.name), strOf(d.address)].filter(Boolean).join(', ')
      return (
        <p class="location">
          <span aria-hidden="true">📍 </span>
          {label || 'Location'}
          {ok && (
            <>
              {' '}
              <a
                href={`https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`}
                target="_blank"
                rel="noopener noreferrer"
              >
                Open map ({lat.toFixed(5)}, {lon.toFixed(5)})
              </a>
            </>
          )}
        </p>
      )
    }
    case 'contacts': {
      const cards = Array.isArray(data) ? data : []
      return (
        <ul class="contacts">
          {cards.map((c, i) => {
            const card = obj(c)
            const name = strOf(obj(card.name).formatted_name) ?? 'Contact'
            const phones = (Array.isArray(card.phones) ? card.phones : []).map((p) => strOf(obj(p).phone)).filter(Boolean)
            return (
              <li key={i}>
                <span aria-hidden="true">👤 </span>
                <strong>{name}</strong>
                {phones.map((p) => (
                  <span key={p} class="phone">
                    {' '}
                    {p}
                  </span>
                ))}
              </li>
            )
          })}
        </ul>
      )
    }
    case 'interactive':
    case 'button':
      return (
        <p class="button-reply">
          <span aria-hidden="true">↩ </span>
          {m.text ?? 'Button reply'}
        </p>
      )
    case 'reaction':
      return <p class="reaction-note">{m.text ? `Reacted ${m.text} to a message` : 'Removed a reaction'}</p>
    case 'system':
      return <p class="system">{m.text ?? ''}</p>
    case 'order':
      return (
        <p class="order">
          🛒 Order{m.text ? ': ' : ''}
          {m.text ?? ''}
        </p>
      )
    default:
      return (
        <p class="unsupported">
          This kind of message ({m.type === 'unsupported' ? (strOf(obj(data).type) ?? 'unknown') : m.type}) cannot be shown here yet.
          {m.text ? ` ${m.text}` : ''}
        </p>
      )
  }
}

const TICK_LABEL: Record<string, string> = {
  pending: 'Sending',
  queued: 'Sending',
  sending: 'Sending',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  played: 'Played',
  failed: 'Not delivered',
  unknown: 'Delivery not confirmed',
}
const TICK_ICON: Record<string, string> = {
  pending: '🕓',
  queued: '🕓',
  sending: '🕓',
  sent: '✓',
  delivered: '✓✓',
  read: '✓✓',
  played: '✓✓',
  failed: '⚠',
  unknown: '?',
}

export function Ticks({ status }: { status: string }) {
  return (
    <span
      class={`ticks t-${status}`}
      data-status={status}
      role="img"
      aria-label={TICK_LABEL[status] ?? status}
      title={TICK_LABEL[status] ?? status}
    >
      {TICK_ICON[status] ?? ''}
    </span>
  )
}

function Quote({ thread, id }: { thread: Thread; id: number }) {
  const q = thread.byId.get(id)
  return (
    <div class="quote">
      <span class="quote-who">{q ? (q.direction === 'in' ? 'Customer' : 'You') : 'Quoted message'}</span>
      <span class="quote-text">{q ? previewText(q) : 'An earlier message'}</span>
    </div>
  )
}

function Reactions({ reactions }: { reactions: Record<string, string> | null }) {
  if (!reactions) return null
  const counts = new Map<string, number>()
  for (const e of Object.values(reactions)) if (typeof e === 'string' && e) counts.set(e, (counts.get(e) ?? 0) + 1)
  if (counts.size === 0) return null
  return (
    <div class="reactions" aria-label="Reactions">
      {[...counts].map(([e, n]) => (
        <span key={e} class="reaction">
          {e}
          {n > 1 ? ` ${n}` : ''}
        </span>
      ))}
    </div>
  )
}

/** Issue 7: which campaign sent this message, or which one the customer is answering. */
function CampaignLabel({ m }: { m: MessageDTO }) {
  const c = (m.context as { campaign?: { id?: unknown; name?: unknown } } | null)?.campaign
  if (!c || typeof c.name !== 'string') return null
  return <span class="campaign-ref">{m.direction === 'in' ? `📣 Replied to campaign “${c.name}”` : `📣 Campaign “${c.name}”`}</span>
}

export const MessageBubble = memo(function MessageBubble({ m, thread }: { m: MessageDTO; thread: Thread }) {
  const app = useApp()
  const [picking, setPicking] = useState(false)
  const out = m.direction === 'out'
  const failed = m.status === 'failed'
  // Failed, or accepted by nobody knows whom (a crash mid-send): the agent decides on a resend.
  const troubled = failed || m.status === 'unknown'
  const canAct = m.type !== 'reaction' && m.type !== 'system'
  return (
    // Focusable (not in the tab order) so a tap on a phone focuses the message and
    // shows its actions (.msg:focus-within in styles.css); a tap elsewhere hides them.
    <div
      class={`msg ${out ? 'out' : 'in'}`}
      data-message-id={m.id}
      data-client-id={m.clientMessageId ?? undefined}
      tabIndex={canAct ? -1 : undefined}
    >
      <div class={`bubble${failed ? ' failed' : ''}`}>
        {m.replyToMessageId !== null && m.type !== 'reaction' && <Quote thread={thread} id={m.replyToMessageId} />}
        <CampaignLabel m={m} />
        <Body m={m} />
        <span class="meta">
          {/* Issue 11: written on the WhatsApp Business app (coexistence), not in Parley. */}
          {sentFromPhoneApp(m) && <span class="via-phone">Sent from the phone app ·</span>}
          {/* Issue 13: Parley's away message or greeting, sent by nobody. */}
          {out && automaticOf(m) && (
            <span class="via-phone automatic" title={automaticOf(m) === 'away' ? 'Away message (outside business hours)' : 'Greeting'}>
              Automatic ·
            </span>
          )}
          <time dateTime={new Date(m.timestamp).toISOString()}>{timeOf(m.timestamp)}</time>
          {out && <Ticks status={m.status} />}
        </span>
        <Reactions reactions={m.reactions} />
      </div>
      {out && troubled && <Recover m={m} />}
      {canAct && (
        <div class="msg-actions">
          <button type="button" class="icon small" aria-label="Reply to this message" title="Reply" onClick={() => replyTo(app, m)}>
            <Icon icon={Reply} size={16} />
          </button>
          <button
            type="button"
            class="icon small"
            aria-label="React to this message"
            aria-expanded={picking}
            title="React"
            onClick={() => setPicking(!picking)}
          >
            <Icon icon={SmilePlus} size={16} />
          </button>
          {picking && (
            <span class="react-picker" role="group" aria-label="Pick a reaction">
              {QUICK_REACTIONS.map((e) => (
                <button
                  type="button"
                  key={e}
                  class="icon small"
                  aria-label={`React with ${e}`}
                  onClick={() => {
                    setPicking(false)
                    app.react(m, e)
                  }}
                >
                  {e}
                </button>
              ))}
            </span>
          )}
        </div>
      )}
    </div>
  )
})

// Why a reply failed and what can help (FailureActions.tsx): loaded with the first failed
// message, out of the inbox's initial JavaScript.
const failureActions = lazy(() => import('./FailureActions.tsx'))
function Recover({ m }: { m: MessageDTO }) {
  return <LazyInline of={failureActions}>{(f) => <f.Recover m={m} />}</LazyInline>
}

function replyTo(app: ReturnType<typeof useApp>, m: MessageDTO) {
  app.replyTo.value = { conversationId: m.conversationId, message: m }
  document.querySelector<HTMLElement>('#composer-input')?.focus()
}

export const PendingBubble = memo(function PendingBubble({ p }: { p: PendingMessage }) {
  const app = useApp()
  return (
    <div class="msg out pending" data-client-id={p.clientMessageId} data-pending={p.state}>
      <div class={`bubble${p.state === 'failed' ? ' failed' : ''}`}>
        {p.label && <p class="label">{p.label}</p>}
        {p.text && (
          <p class="text">
            <Linkified text={p.text} />
          </p>
        )}
        <span class="meta">
          <time dateTime={new Date(p.createdAt).toISOString()}>{timeOf(p.createdAt)}</time>
          <Ticks status={p.state === 'failed' ? 'failed' : 'pending'} />
        </span>
      </div>
      {p.state === 'failed' && (
        <p class="fail-reason" role="alert">
          Not sent: {p.error}{' '}
          <button type="button" class="link" onClick={() => app.retryPending(p)}>
            Retry
          </button>
        </p>
      )}
    </div>
  )
})
