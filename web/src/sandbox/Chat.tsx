// One simulated customer's phone: the thread with the business, and a composer that
// writes as the customer. Business replies show what Meta reported for them (sent,
// delivered, read, failed); the customer's own messages turn blue when the business
// has read them.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Simulator } from './state.ts'
import { mediaSrc, type SimMessage } from './api.ts'

const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏']

const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

function BusinessStatus({ m }: { m: SimMessage }) {
  switch (m.status) {
    case 'accepted':
      return <span class="status" title="Accepted by Meta">🕓</span>
    case 'sent':
      return <span class="status" title="Sent">✓</span>
    case 'delivered':
      return <span class="status" title="Delivered">✓✓</span>
    case 'read':
      return <span class="status read" title="Read">✓✓</span>
    case 'failed':
      return (
        <span class="status failed" title={m.error ? `${m.error.title} (${m.error.code})` : 'Failed'}>
          ⚠ {m.error ? `${m.error.code} ${m.error.title}` : 'failed'}
        </span>
      )
    default:
      return null
  }
}

function Body({ m }: { m: SimMessage }) {
  if (m.media && m.type === 'image') {
    return (
      <figure class="media">
        <img src={mediaSrc(m.media.id)} alt={m.text ?? 'Image'} loading="lazy" />
        {m.text && <figcaption>{m.text}</figcaption>}
      </figure>
    )
  }
  if (m.media) {
    return (
      <p>
        📄{' '}
        <a href={mediaSrc(m.media.id)} download={m.media.filename ?? 'document'}>
          {m.media.filename ?? m.media.mimeType}
        </a>
        {m.text && <span class="caption">{m.text}</span>}
      </p>
    )
  }
  if (m.type === 'location') return <p>📍 {m.text ?? 'Location'}</p>
  if (m.type === 'button' || m.type === 'interactive') return <p class="tapped">↪ {m.text}</p>
  return <p class="text">{m.text ?? `(${m.type})`}</p>
}

function Message({ sim, m, byId, reactions }: { sim: Simulator; m: SimMessage; byId: Map<string, SimMessage>; reactions: Map<string, string[]> }) {
  const mine = m.direction === 'in'
  const quoted = m.contextId && m.type !== 'button' && m.type !== 'interactive' ? byId.get(m.contextId) : undefined
  const buttons = !mine && Array.isArray(m.extra?.buttons) ? (m.extra.buttons as string[]) : []
  const template = !mine && m.type === 'template' ? (m.extra?.template as { name?: string } | undefined)?.name : undefined
  const theirReaction = reactions.get(m.id)
  const [picking, setPicking] = useState(false)
  return (
    <li class={`msg ${mine ? 'mine' : 'theirs'}`}>
      <div class="bubble">
        {template && <span class="tag">Template · {template}</span>}
        {quoted && (
          <blockquote class="quote">
            <span>{quoted.direction === 'in' ? 'You' : 'Business'}</span>
            {quoted.text ?? quoted.type}
          </blockquote>
        )}
        <Body m={m} />
        <span class="meta">
          {time(m.timestamp)}{' '}
          {mine ? (
            <span class={`status${m.readByBusiness ? ' read' : ''}`} title={m.readByBusiness ? 'Read by the business' : 'Delivered'}>
              ✓✓
            </span>
          ) : (
            <BusinessStatus m={m} />
          )}
        </span>
        {theirReaction && theirReaction.length > 0 && (
          <span class="reactions" aria-label="Reactions">
            {theirReaction.join(' ')}
          </span>
        )}
      </div>
      {buttons.length > 0 && (
        <div class="buttons" role="group" aria-label="Quick replies">
          {buttons.map((b) => (
            <button key={b} type="button" disabled={sim.sending.value} onClick={() => void sim.tap(m, b)}>
              {b}
            </button>
          ))}
        </div>
      )}
      <div class="actions">
        <button type="button" aria-label="Reply to this message" title="Reply" onClick={() => (sim.replyTo.value = m)}>
          ↩
        </button>
        {!mine && (
          <button type="button" aria-label="React" title="React" aria-expanded={picking} onClick={() => setPicking(!picking)}>
            ☺
          </button>
        )}
        {picking && (
          <span class="picker" role="group" aria-label="Pick a reaction">
            {EMOJI.map((e) => (
              <button
                key={e}
                type="button"
                aria-label={`React ${e}`}
                onClick={() => {
                  setPicking(false)
                  // The same emoji again takes the reaction back, as on WhatsApp.
                  void sim.react(m, theirReaction?.includes(e) ? '' : e)
                }}
              >
                {e}
              </button>
            ))}
          </span>
        )}
      </div>
    </li>
  )
}

function Composer({ sim }: { sim: Simulator }) {
  const [text, setText] = useState('')
  const [file, setFile] = useState<File | null>(null)
  const fileInput = useRef<HTMLInputElement>(null)
  const reply = sim.replyTo.value

  const submit = async () => {
    if (sim.sending.value) return
    const ok = file ? await sim.sendImage(file, text.trim()) : text.trim() ? await sim.sendText(text) : false
    if (ok) {
      setText('')
      setFile(null)
      if (fileInput.current) fileInput.current.value = ''
    }
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      {reply && (
        <div class="replying">
          <span>
            Replying to <strong>{reply.direction === 'in' ? 'yourself' : 'the business'}</strong>: {reply.text ?? reply.type}
          </span>
          <button type="button" aria-label="Cancel the reply" onClick={() => (sim.replyTo.value = null)}>
            ✕
          </button>
        </div>
      )}
      {file && (
        <div class="replying">
          <span>📷 {file.name}</span>
          <button
            type="button"
            aria-label="Remove the image"
            onClick={() => {
              setFile(null)
              if (fileInput.current) fileInput.current.value = ''
            }}
          >
            ✕
          </button>
        </div>
      )}
      <div class="row">
        <label class="attach" title="Send an image">
          <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d="M21 12.5l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l9-9a3.7 3.7 0 0 1 5.2 5.2l-9 9a1.8 1.8 0 0 1-2.6-2.6l8.3-8.3" />
          </svg>
          <input
            ref={fileInput}
            type="file"
            accept="image/jpeg,image/png"
            aria-label="Send an image"
            onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
          />
        </label>
        <textarea
          rows={1}
          value={text}
          placeholder={file ? 'Add a caption' : 'Write as the customer'}
          aria-label="Message"
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault()
              void submit()
            }
          }}
        />
        <button type="submit" class="send" disabled={sim.sending.value || (!text.trim() && !file)} aria-label="Send">
          ➤
        </button>
      </div>
    </form>
  )
}

export function Chat({ sim }: { sim: Simulator }) {
  const c = sim.current.value
  const list = useRef<HTMLOListElement>(null)
  const msgs = sim.messages.value
  useEffect(() => {
    const el = list.current
    if (el) el.scrollTop = el.scrollHeight
  }, [msgs.length, c?.phone])
  if (!c) {
    return (
      <section class="chat empty">
        <p>Create a customer on the left, then write to the business as them.</p>
      </section>
    )
  }
  const byId = new Map(msgs.map((m) => [m.id, m]))
  // Each side's latest reaction per message; an empty emoji took it back.
  const latest = new Map<string, string>()
  for (const m of msgs) if (m.reaction) latest.set(`${m.direction}|${m.reaction.messageId}`, m.reaction.emoji)
  const reactions = new Map<string, string[]>()
  for (const [key, emoji] of latest) {
    const target = key.slice(key.indexOf('|') + 1)
    if (emoji) reactions.set(target, [...(reactions.get(target) ?? []), emoji])
  }
  return (
    <section class="chat" aria-label={`Chat of ${c.name}`}>
      <header class="chat-head">
        <div>
          <h2>{c.name}</h2>
          <p class="muted">
            +{c.phone} · {c.windowOpen ? '24-hour window open' : 'window closed: the business can only send templates'}
          </p>
        </div>
        <div class="chat-tools">
          <label title="Read the business's messages as they arrive while this chat is open">
            <input type="checkbox" checked={sim.autoRead.value} onChange={(e) => sim.setAutoRead((e.currentTarget as HTMLInputElement).checked)} />{' '}
            Read while open
          </label>
          {!sim.autoRead.value && (
            <button type="button" disabled={sim.unread.value.length === 0} onClick={() => void sim.readNow()}>
              Mark read
            </button>
          )}
          <button type="button" title="As if the customer last wrote 25 hours ago" onClick={() => void sim.closeWindow()}>
            Close window
          </button>
        </div>
      </header>
      <ol class="thread" ref={list}>
        {msgs
          .filter((m) => m.type !== 'reaction')
          .map((m) => (
            <Message key={m.id} sim={sim} m={m} byId={byId} reactions={reactions} />
          ))}
      </ol>
      <Composer sim={sim} />
    </section>
  )
}
