// One message of a player's thread, the same on both channels: the bubble (tag, quoted
// message, body, time and ticks, the reactions on it), the attachments it shows, and
// the reply/react actions beside it. The channels (Chat.tsx, MessengerPlayer.tsx) decide
// what goes in, as their webhooks shape messages differently.
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { Reply, SmilePlus } from 'lucide'
import { Icon } from '../components/Icon.tsx'

const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

export function Bubble(props: {
  mine: boolean
  timestamp: number
  tag?: string | undefined
  quoted?: { who: string; text: string } | undefined
  body: ComponentChildren
  /** The ticks beside the time. */
  ticks: ComponentChildren
  /** The reactions shown on the bubble, joined; empty shows none. */
  reactions?: string | undefined
  /** Below the bubble: buttons to tap, actions. */
  children?: ComponentChildren
}) {
  const { mine, quoted, reactions } = props
  return (
    <li class={`msg ${mine ? 'mine' : 'theirs'}`}>
      <div class="bubble">
        {props.tag && <span class="tag">{props.tag}</span>}
        {quoted && (
          <blockquote class="quote">
            <span>{quoted.who}</span>
            {quoted.text}
          </blockquote>
        )}
        {props.body}
        <span class="meta">
          {time(props.timestamp)} {props.ticks}
        </span>
        {reactions && (
          <span class="reactions" aria-label="Reactions">
            {reactions}
          </span>
        )}
      </div>
      {props.children}
    </li>
  )
}

/** The business's ticks for the states both channels report; `readTitle` is the channel's word for read. */
export function Ticks({ status, readTitle }: { status: string | null; readTitle: string }) {
  switch (status) {
    case 'sent':
      return (
        <span class="status" title="Sent">
          ✓
        </span>
      )
    case 'delivered':
      return (
        <span class="status" title="Delivered">
          ✓✓
        </span>
      )
    case 'read':
      return (
        <span class="status read" title={readTitle}>
          ✓✓
        </span>
      )
    default:
      return null
  }
}

export function Picture({ src, alt, caption }: { src: string; alt: string; caption?: string | null | undefined }) {
  return (
    <figure class="media">
      <img src={src} alt={alt} loading="lazy" />
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  )
}

/** Audio or video, played in place as the phones do; a caption under a video. */
export function Clip({ src, mimeType, caption }: { src: string; mimeType: string; caption?: string | null | undefined }) {
  const video = mimeType.startsWith('video/')
  return (
    <figure class="media">
      {video ? <video src={src} controls preload="metadata" /> : <audio src={src} controls preload="metadata" aria-label="Audio" />}
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  )
}

/** A file other than an image, audio or video: what the phones show is its name, to download. */
export function FileLink(props: {
  href: string
  filename: string | null
  mimeType: string
  /** The download's name when the file came without one. */
  fallback: string
  caption?: string | null | undefined
  class?: string | undefined
}) {
  return (
    <p class={props.class}>
      📄{' '}
      <a href={props.href} download={props.filename ?? props.fallback}>
        {props.filename ?? props.mimeType}
      </a>
      {props.caption && <span class="caption">{props.caption}</span>}
    </p>
  )
}

/** Reply, and (where the person may react) a picker of the channel's reactions. */
export function Actions({
  onReply,
  react,
}: {
  onReply: () => void
  react?: { emoji: readonly string[]; pick: (emoji: string) => void } | undefined
}) {
  const [picking, setPicking] = useState(false)
  return (
    <div class="actions">
      <button type="button" aria-label="Reply to this message" title="Reply" onClick={onReply}>
        <Icon icon={Reply} size={16} />
      </button>
      {react && (
        <button type="button" aria-label="React" title="React" aria-expanded={picking} onClick={() => setPicking(!picking)}>
          <Icon icon={SmilePlus} size={16} />
        </button>
      )}
      {react && picking && (
        <span class="picker" role="group" aria-label="Pick a reaction">
          {react.emoji.map((e) => (
            <button
              key={e}
              type="button"
              aria-label={`React ${e}`}
              onClick={() => {
                setPicking(false)
                react.pick(e)
              }}
            >
              {e}
            </button>
          ))}
        </span>
      )}
    </div>
  )
}
