// The simulator's Messenger side: play users of the sandbox Page. They write text, an
// image, a quick reply, a reply to a Page message, a reaction (or take it back) and
// postbacks; the Page's replies (text, images, files) arrive live with their ticks (sent, delivered, seen),
// which the emulator turns into Messenger's delivery and read watermarks.
// Same layout and classes as the WhatsApp side (Chat.tsx, Customers.tsx).
import { useEffect, useRef, useState } from 'preact/hooks'
import { signal } from '@preact/signals'
import { createMessengerPlayer, type MessengerPlayer as Player } from './messenger-state.ts'
import type { MsMessage } from './messenger-api.ts'
import './messenger.css'

/** Which kind of customer the simulator plays; `?player=messenger` opens this side. */
export const playerKind = signal<'whatsapp' | 'messenger'>(
  new URLSearchParams(location.search).get('player') === 'messenger' ? 'messenger' : 'whatsapp',
)

export function setPlayerKind(kind: 'whatsapp' | 'messenger') {
  playerKind.value = kind
  const url = new URL(location.href)
  if (kind === 'messenger') url.searchParams.set('player', 'messenger')
  else url.searchParams.delete('player')
  history.replaceState(null, '', url)
}

/** The switch between the two players, for the simulator's header. */
export function PlayerSwitch() {
  return (
    <div class="player-switch" role="group" aria-label="Play as">
      {(['whatsapp', 'messenger'] as const).map((k) => (
        <button key={k} type="button" aria-pressed={playerKind.value === k} onClick={() => setPlayerKind(k)}>
          {k === 'whatsapp' ? 'WhatsApp customer' : 'Messenger user'}
        </button>
      ))}
    </div>
  )
}

// Messenger's reactions, as its webhook names them.
const EMOJI = ['❤', '😊', '😮', '😢', '😠', '👍']
const QUICK_REPLIES: [string, string][] = [
  ['Yes', 'YES'],
  ['No', 'NO'],
  ['Track my order', 'TRACK_ORDER'],
]
// Buttons of the Page's persistent menu: each a postback.
const POSTBACKS: [string, string][] = [
  ['Get started', 'GET_STARTED'],
  ['Talk to someone', 'HUMAN_AGENT'],
  ['Opening hours', 'HOURS'],
]

let player: Player | undefined
function usePlayer(): Player {
  player ??= createMessengerPlayer()
  const p = player
  useEffect(() => void p.start(), [p])
  return p
}

const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

function PageStatus({ m }: { m: MsMessage }) {
  switch (m.status) {
    case 'sent':
      return <span class="status" title="Sent">✓</span>
    case 'delivered':
      return <span class="status" title="Delivered">✓✓</span>
    case 'read':
      return <span class="status read" title="Seen">✓✓</span>
    default:
      return null
  }
}

function Body({ m }: { m: MsMessage }) {
  if (m.type === 'image' && m.imageId) {
    return (
      <figure class="media">
        <img src={`/sandbox/graph/messenger-cdn/${encodeURIComponent(m.imageId)}`} alt="Image" loading="lazy" />
      </figure>
    )
  }
  // The Page's file (a PDF, a document): what Messenger shows is its name, to download.
  if (m.attachment && m.type !== 'image') {
    return (
      <p class="file">
        📄{' '}
        <a href={`/sandbox/graph/messenger-cdn/${encodeURIComponent(m.attachment.id)}`} download={m.attachment.filename ?? 'file'}>
          {m.attachment.filename ?? m.attachment.mimeType}
        </a>
      </p>
    )
  }
  if (m.type === 'postback') return <p class="tapped">☰ {m.text}</p>
  if (m.type === 'quick_reply') return <p class="tapped">↪ {m.text}</p>
  return <p class="text">{m.text ?? `(${m.type})`}</p>
}

function Message({ p, m, byMid, reaction }: { p: Player; m: MsMessage; byMid: Map<string, MsMessage>; reaction: string | undefined }) {
  const mine = m.direction === 'in'
  const quoted = m.replyTo ? byMid.get(m.replyTo) : undefined
  const [picking, setPicking] = useState(false)
  return (
    <li class={`msg ${mine ? 'mine' : 'theirs'}`}>
      <div class="bubble">
        {m.tag && <span class="tag">{m.tag === 'HUMAN_AGENT' ? 'Human agent follow-up' : m.tag}</span>}
        {quoted && (
          <blockquote class="quote">
            <span>{quoted.direction === 'in' ? 'You' : 'Page'}</span>
            {quoted.text ?? quoted.type}
          </blockquote>
        )}
        <Body m={m} />
        <span class="meta">
          {time(m.timestamp)} {!mine && <PageStatus m={m} />}
        </span>
        {reaction && (
          <span class="reactions" aria-label="Reactions">
            {reaction}
          </span>
        )}
      </div>
      {!mine && (
        <div class="actions">
          <button type="button" aria-label="Reply to this message" title="Reply" onClick={() => (p.replyTo.value = m)}>
            ↩
          </button>
          <button type="button" aria-label="React" title="React" aria-expanded={picking} onClick={() => setPicking(!picking)}>
            ☺
          </button>
          {picking && (
            <span class="picker" role="group" aria-label="Pick a reaction">
              {EMOJI.map((e) => (
                <button
                  key={e}
                  type="button"
                  aria-label={`React ${e}`}
                  onClick={() => {
                    setPicking(false)
                    // The same emoji again takes the reaction back (an "unreact" webhook).
                    void p.react(m, reaction === e ? null : e)
                  }}
                >
                  {e}
                </button>
              ))}
            </span>
          )}
        </div>
      )}
    </li>
  )
}

function Composer({ p }: { p: Player }) {
  const [text, setText] = useState('')
  const fileInput = useRef<HTMLInputElement>(null)
  const reply = p.replyTo.value
  const submit = async () => {
    if (p.sending.value || !text.trim()) return
    if (await p.sendText(text)) setText('')
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
            Replying to <strong>the Page</strong>: {reply.text ?? reply.type}
          </span>
          <button type="button" aria-label="Cancel the reply" onClick={() => (p.replyTo.value = null)}>
            ✕
          </button>
        </div>
      )}
      <div class="buttons" role="group" aria-label="Quick replies">
        {QUICK_REPLIES.map(([t, payload]) => (
          <button key={payload} type="button" disabled={p.sending.value} onClick={() => void p.quickReply(t, payload)}>
            {t}
          </button>
        ))}
      </div>
      <div class="buttons" role="group" aria-label="Page menu (postbacks)">
        {POSTBACKS.map(([t, payload]) => (
          <button key={payload} type="button" disabled={p.sending.value} onClick={() => void p.postback(t, payload)}>
            ☰ {t}
          </button>
        ))}
      </div>
      <div class="row">
        <label class="attach" title="Send an image">
          <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d="M21 12.5l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l9-9a3.7 3.7 0 0 1 5.2 5.2l-9 9a1.8 1.8 0 0 1-2.6-2.6l8.3-8.3" />
          </svg>
          <input
            ref={fileInput}
            type="file"
            accept="image/jpeg,image/png,image/gif,image/webp"
            aria-label="Send an image"
            onChange={async (e) => {
              const file = (e.currentTarget as HTMLInputElement).files?.[0]
              if (file) await p.sendImage(file)
              if (fileInput.current) fileInput.current.value = ''
            }}
          />
        </label>
        <textarea
          rows={1}
          value={text}
          placeholder="Write as the Messenger user"
          aria-label="Message"
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault()
              void submit()
            }
          }}
        />
        <button type="submit" class="send" disabled={p.sending.value || !text.trim()} aria-label="Send">
          ➤
        </button>
      </div>
    </form>
  )
}

function Users({ p }: { p: Player }) {
  const [name, setName] = useState('')
  return (
    <nav class="customers" aria-label="Messenger users">
      <form
        class="new-customer"
        onSubmit={async (e) => {
          e.preventDefault()
          if (name.trim() && (await p.createUser(name))) setName('')
        }}
      >
        <input value={name} maxLength={100} placeholder="Name" aria-label="Messenger user name" required onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit">Add Messenger user</button>
      </form>
      <ul>
        {p.people.value.map((u) => (
          <li key={u.psid}>
            <button
              type="button"
              class={u.psid === p.selected.value ? 'selected' : ''}
              aria-current={u.psid === p.selected.value ? 'true' : undefined}
              onClick={() => void p.select(u.psid)}
            >
              <span class="name">{u.name}</span>
              <span class="muted">PSID {u.psid}</span>
              {u.unread > 0 && (
                <span class="badge" aria-label={`${u.unread} unread`}>
                  {u.unread}
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  )
}

function windowText(u: { windowOpen: boolean; humanAgentOpen: boolean }) {
  if (u.windowOpen) return '24-hour window open'
  if (u.humanAgentOpen) return 'past 24 hours: only a human agent’s tagged reply gets through'
  return 'window closed: the Page cannot write until this user does'
}

function Thread({ p }: { p: Player }) {
  const u = p.current.value
  const list = useRef<HTMLOListElement>(null)
  const msgs = p.messages.value
  useEffect(() => {
    const el = list.current
    if (el) el.scrollTop = el.scrollHeight
  }, [msgs.length, u?.psid])
  if (!u) {
    return (
      <section class="chat empty">
        <p>Add a Messenger user on the left, then write to the Page as them.</p>
      </section>
    )
  }
  const byMid = new Map(msgs.map((m) => [m.mid, m]))
  // The user's latest reaction per Page message; an unreact took it back.
  const reactions = new Map<string, string>()
  for (const m of msgs) {
    if (m.type !== 'reaction' || !m.replyTo) continue
    if (m.reaction?.emoji) reactions.set(m.replyTo, m.reaction.emoji)
    else reactions.delete(m.replyTo)
  }
  return (
    <section class="chat" aria-label={`Messenger chat of ${u.name}`}>
      <header class="chat-head">
        <div>
          <h2>{u.name}</h2>
          <p class="muted">
            Messenger · PSID {u.psid} · {windowText(u)}
          </p>
        </div>
        <div class="chat-tools">
          <label title="See the Page's messages as they arrive while this chat is open">
            <input type="checkbox" checked={p.autoRead.value} onChange={(e) => p.setAutoRead((e.currentTarget as HTMLInputElement).checked)} /> Seen while open
          </label>
          {!p.autoRead.value && (
            <button type="button" disabled={p.unread.value.length === 0} onClick={() => void p.readNow()}>
              Mark seen
            </button>
          )}
          <button type="button" title="As if the user last wrote 25 hours ago: only HUMAN_AGENT replies pass" onClick={() => void p.age(1)}>
            Wrote a day ago
          </button>
          <button type="button" title="As if the user last wrote 8 days ago: Meta refuses with code 10" onClick={() => void p.age(8)}>
            Wrote 8 days ago
          </button>
        </div>
      </header>
      <ol class="thread" ref={list}>
        {msgs
          .filter((m) => m.type !== 'reaction')
          .map((m) => (
            <Message key={m.mid} p={p} m={m} byMid={byMid} reaction={reactions.get(m.mid)} />
          ))}
      </ol>
      <Composer p={p} />
    </section>
  )
}

/** The Messenger side of the simulator (the WhatsApp side's panes, for Page users). */
export function MessengerPlayer() {
  const p = usePlayer()
  return (
    <div class="messenger">
      {p.flash.value && (
        <p class="flash" role="status">
          {p.flash.value}
        </p>
      )}
      <p class="muted page-line">
        Playing users of the Page “{p.pageName.value ?? 'Messenger sandbox'}”. {p.live.value ? '' : 'Reconnecting…'}
      </p>
      <div class="panes">
        <div class="side">
          <Users p={p} />
        </div>
        <Thread p={p} />
      </div>
    </div>
  )
}
