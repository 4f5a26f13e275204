// The simulator's Messenger side: play users of the sandbox Page. They write text, an
// image, a quick reply, a reply to a Page message, a reaction (or take it back) and
// postbacks; the Page's replies (text, images, files) arrive live with their ticks (sent, delivered, seen),
// which the emulator turns into Messenger's delivery and read watermarks.
// Same layout and classes as the WhatsApp side (Chat.tsx, Customers.tsx).
import { useEffect, useState } from 'preact/hooks'
import { signal } from '@preact/signals'
import { createMessengerPlayer, type MessengerPlayer as Player } from './messenger-state.ts'
import type { MsMessage } from './messenger-api.ts'
import { Actions, Bubble, Clip, FileLink, Picture, Ticks } from './Bubble.tsx'
import { ChatPane, EmptyChat } from './ChatPane.tsx'
import { Composer } from './Composer.tsx'
import { PeopleList } from './PeopleList.tsx'
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

// The emulator's "CDN" serves the user's images and the Page's attachments alike.
const cdnSrc = (id: string) => `/sandbox/graph/messenger-cdn/${encodeURIComponent(id)}`

let player: Player | undefined
/** The one Messenger player of the page (created on first use; it starts when shown). */
export function messengerPlayer(): Player {
  return (player ??= createMessengerPlayer())
}
function usePlayer(): Player {
  const p = messengerPlayer()
  useEffect(() => void p.start(), [p])
  return p
}

/** The simulator header's line on the Messenger tab: who is played, and which Page they write to. */
export function MessengerIntro() {
  const p = messengerPlayer()
  return (
    <p class="muted">
      Sandbox mode: these Messenger users exist only here. They write to the Facebook Page “{p.pageName.value ?? 'Messenger sandbox'}”
      through signed webhooks, as Messenger would.{' '}
      <a href="/" target="parley-inbox">
        Open the inbox
      </a>{' '}
      to answer them.
    </p>
  )
}

function Body({ m }: { m: MsMessage }) {
  if (m.type === 'image' && m.imageId) return <Picture src={cdnSrc(m.imageId)} alt="Image" />
  if (m.attachment && (m.type === 'audio' || m.type === 'video'))
    return <Clip src={cdnSrc(m.attachment.id)} mimeType={m.attachment.mimeType} />
  // The Page's file (a PDF, a document).
  if (m.attachment && m.type !== 'image') {
    return (
      <FileLink
        class="file"
        href={cdnSrc(m.attachment.id)}
        filename={m.attachment.filename}
        mimeType={m.attachment.mimeType}
        fallback="file"
      />
    )
  }
  if (m.type === 'postback') return <p class="tapped">☰ {m.text}</p>
  if (m.type === 'quick_reply') return <p class="tapped">↪ {m.text}</p>
  return <p class="text">{m.text ?? `(${m.type})`}</p>
}

function Message({ p, m, byMid, reaction }: { p: Player; m: MsMessage; byMid: Map<string, MsMessage>; reaction: string | undefined }) {
  const mine = m.direction === 'in'
  const quoted = m.replyTo ? byMid.get(m.replyTo) : undefined
  return (
    <Bubble
      mine={mine}
      timestamp={m.timestamp}
      tag={m.tag ? (m.tag === 'HUMAN_AGENT' ? 'Human agent follow-up' : m.tag) : undefined}
      quoted={quoted && { who: quoted.direction === 'in' ? 'You' : 'Page', text: quoted.text ?? quoted.type }}
      body={<Body m={m} />}
      ticks={!mine && <Ticks status={m.status} readTitle="Seen" />}
      reactions={reaction}
    >
      {/* A user replies to and reacts on the Page's messages only. */}
      {!mine && (
        <Actions
          onReply={() => (p.replyTo.value = m)}
          // The same emoji again takes the reaction back (an "unreact" webhook).
          react={{ emoji: EMOJI, pick: (e) => void p.react(m, reaction === e ? null : e) }}
        />
      )}
    </Bubble>
  )
}

function MessengerComposer({ p }: { p: Player }) {
  const reply = p.replyTo.value
  return (
    <Composer
      sending={p.sending.value}
      replying={reply && { to: 'the Page', text: reply.text ?? reply.type }}
      onCancelReply={() => (p.replyTo.value = null)}
      accept="image/jpeg,image/png,image/gif,image/webp"
      placeholder="Write as the Messenger user"
      // Messenger sends an image as soon as it is picked (no caption).
      onFile={(file) => p.sendImage(file)}
      onSend={(text) => p.sendText(text)}
    >
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
    </Composer>
  )
}

function Users({ p }: { p: Player }) {
  const [name, setName] = useState('')
  return (
    <PeopleList
      label="Messenger users"
      people={p.people.value.map((u) => ({ id: u.psid, name: u.name, detail: `PSID ${u.psid}`, unread: u.unread }))}
      selected={p.selected.value}
      onSelect={p.select}
    >
      <form
        class="new-customer"
        onSubmit={async (e) => {
          e.preventDefault()
          if (name.trim() && (await p.createUser(name))) setName('')
        }}
      >
        <input
          value={name}
          maxLength={100}
          placeholder="Name"
          aria-label="Messenger user name"
          required
          onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit">Add Messenger user</button>
      </form>
    </PeopleList>
  )
}

function windowText(u: { windowOpen: boolean; humanAgentOpen: boolean }) {
  if (u.windowOpen) return '24-hour window open'
  if (u.humanAgentOpen) return 'past 24 hours: only a human agent’s tagged reply gets through'
  return 'window closed: the Page cannot write until this user does'
}

function Thread({ p }: { p: Player }) {
  const u = p.current.value
  const msgs = p.messages.value
  if (!u) return <EmptyChat>Add a Messenger user on the left, then write to the Page as them.</EmptyChat>
  const byMid = new Map(msgs.map((m) => [m.mid, m]))
  // The user's latest reaction per Page message; an unreact took it back.
  const reactions = new Map<string, string>()
  for (const m of msgs) {
    if (m.type !== 'reaction' || !m.replyTo) continue
    if (m.reaction?.emoji) reactions.set(m.replyTo, m.reaction.emoji)
    else reactions.delete(m.replyTo)
  }
  return (
    <ChatPane
      label={`Messenger chat of ${u.name}`}
      name={u.name}
      subtitle={`Messenger · PSID ${u.psid} · ${windowText(u)}`}
      personId={u.psid}
      count={msgs.length}
      reader={p}
      words={{
        toggle: 'Seen while open',
        toggleTitle: "See the Page's messages as they arrive while this chat is open",
        button: 'Mark seen',
      }}
      tools={
        <>
          <button
            type="button"
            title="The user sends a message dated 25 hours ago: only HUMAN_AGENT replies pass"
            onClick={() => void p.wroteEarlier(1)}
          >
            Wrote a day ago
          </button>
          <button
            type="button"
            title="The user sends a message dated 8 days ago: Meta refuses every reply with code 10"
            onClick={() => void p.wroteEarlier(8)}
          >
            Wrote 8 days ago
          </button>
        </>
      }
      composer={<MessengerComposer p={p} />}
    >
      {msgs
        .filter((m) => m.type !== 'reaction')
        .map((m) => (
          <Message key={m.mid} p={p} m={m} byMid={byMid} reaction={reactions.get(m.mid)} />
        ))}
    </ChatPane>
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
      <div class="panes">
        <div class="side">
          <Users p={p} />
        </div>
        <Thread p={p} />
      </div>
    </div>
  )
}
