// One simulated customer's phone: the thread with the business, and a composer that
// writes as the customer. Business replies show what Meta reported for them (sent,
// delivered, read, failed); the customer's own messages turn blue when the business
// has read them. What WhatsApp alone has is here: templates received, quick-reply
// buttons to tap, replies by context and reactions from both sides; the rest is the
// players' shared parts (Bubble, Composer, ChatPane).
import { useState } from 'preact/hooks'
import type { Simulator } from './state.ts'
import { mediaSrc, type SimMessage } from './api.ts'
import { Actions, Bubble, Clip, FileLink, Picture, Ticks } from './Bubble.tsx'
import { ChatPane, EmptyChat } from './ChatPane.tsx'
import { Composer } from './Composer.tsx'

const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏']

function BusinessStatus({ m }: { m: SimMessage }) {
  switch (m.status) {
    case 'accepted':
      return (
        <span class="status" title="Accepted by Meta">
          🕓
        </span>
      )
    case 'failed':
      return (
        <span class="status failed" title={m.error ? `${m.error.title} (${m.error.code})` : 'Failed'}>
          ⚠ {m.error ? `${m.error.code} ${m.error.title}` : 'failed'}
        </span>
      )
    default:
      return <Ticks status={m.status} readTitle="Read" />
  }
}

function Body({ m }: { m: SimMessage }) {
  if (m.media && m.type === 'image') return <Picture src={mediaSrc(m.media.id)} alt={m.text ?? 'Image'} caption={m.text} />
  if (m.media && (m.type === 'audio' || m.type === 'video'))
    return <Clip src={mediaSrc(m.media.id)} mimeType={m.media.mimeType} caption={m.text} />
  if (m.media) {
    return (
      <FileLink href={mediaSrc(m.media.id)} filename={m.media.filename} mimeType={m.media.mimeType} fallback="document" caption={m.text} />
    )
  }
  if (m.type === 'location') return <p>📍 {m.text ?? 'Location'}</p>
  if (m.type === 'button' || m.type === 'interactive') return <p class="tapped">↪ {m.text}</p>
  return <p class="text">{m.text ?? `(${m.type})`}</p>
}

function Message({
  sim,
  m,
  byId,
  reactions,
}: {
  sim: Simulator
  m: SimMessage
  byId: Map<string, SimMessage>
  reactions: Map<string, string[]>
}) {
  const mine = m.direction === 'in'
  const quoted = m.contextId && m.type !== 'button' && m.type !== 'interactive' ? byId.get(m.contextId) : undefined
  const buttons = !mine && Array.isArray(m.extra?.buttons) ? (m.extra.buttons as string[]) : []
  const template = !mine && m.type === 'template' ? (m.extra?.template as { name?: string } | undefined)?.name : undefined
  const theirReaction = reactions.get(m.id)
  return (
    <Bubble
      mine={mine}
      timestamp={m.timestamp}
      tag={template && `Template · ${template}`}
      quoted={quoted && { who: quoted.direction === 'in' ? 'You' : 'Business', text: quoted.text ?? quoted.type }}
      body={<Body m={m} />}
      ticks={
        mine ? (
          <span class={`status${m.readByBusiness ? ' read' : ''}`} title={m.readByBusiness ? 'Read by the business' : 'Delivered'}>
            ✓✓
          </span>
        ) : (
          <BusinessStatus m={m} />
        )
      }
      reactions={theirReaction?.join(' ')}
    >
      {buttons.length > 0 && (
        <div class="buttons" role="group" aria-label="Quick replies">
          {buttons.map((b) => (
            <button key={b} type="button" disabled={sim.sending.value} onClick={() => void sim.tap(m, b)}>
              {b}
            </button>
          ))}
        </div>
      )}
      <Actions
        onReply={() => (sim.replyTo.value = m)}
        react={
          mine
            ? undefined
            : {
                emoji: EMOJI,
                // The same emoji again takes the reaction back, as on WhatsApp.
                pick: (e) => void sim.react(m, theirReaction?.includes(e) ? '' : e),
              }
        }
      />
    </Bubble>
  )
}

/** An image waits in the composer for a caption, as on WhatsApp. */
function WhatsAppComposer({ sim }: { sim: Simulator }) {
  const [file, setFile] = useState<File | null>(null)
  const reply = sim.replyTo.value
  return (
    <Composer
      sending={sim.sending.value}
      replying={reply && { to: reply.direction === 'in' ? 'yourself' : 'the business', text: reply.text ?? reply.type }}
      onCancelReply={() => (sim.replyTo.value = null)}
      accept="image/jpeg,image/png"
      placeholder={file ? 'Add a caption' : 'Write as the customer'}
      ready={file !== null}
      onFile={setFile}
      onSend={async (text) => {
        const ok = file ? await sim.sendImage(file, text.trim()) : await sim.sendText(text)
        if (ok) setFile(null)
        return ok
      }}
    >
      {file && (
        <div class="replying">
          <span>📷 {file.name}</span>
          <button type="button" aria-label="Remove the image" onClick={() => setFile(null)}>
            ✕
          </button>
        </div>
      )}
    </Composer>
  )
}

export function Chat({ sim }: { sim: Simulator }) {
  const c = sim.current.value
  const msgs = sim.messages.value
  if (!c) return <EmptyChat>Create a customer on the left, then write to the business as them.</EmptyChat>
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
    <ChatPane
      label={`Chat of ${c.name}`}
      name={c.name}
      subtitle={`+${c.phone} · ${c.windowOpen ? '24-hour window open' : 'window closed: the business can only send templates'}`}
      personId={c.phone}
      count={msgs.length}
      reader={sim}
      words={{
        toggle: 'Read while open',
        toggleTitle: "Read the business's messages as they arrive while this chat is open",
        button: 'Mark read',
      }}
      tools={
        <button
          type="button"
          title="The customer sends a message dated 25 hours ago (as Meta delivers a late message): the window closes, only templates get through"
          onClick={() => void sim.closeWindow()}
        >
          Wrote 25 h ago
        </button>
      }
      composer={<WhatsAppComposer sim={sim} />}
    >
      {msgs
        .filter((m) => m.type !== 'reaction')
        .map((m) => (
          <Message key={m.id} sim={sim} m={m} byId={byId} reactions={reactions} />
        ))}
    </ChatPane>
  )
}
