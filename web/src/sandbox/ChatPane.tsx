// The open chat of a player, the same on both channels: who it is, the read tools (read
// as messages arrive, or by hand), the channel's demo tools, the thread kept scrolled to
// the newest message, and the composer.
import type { ComponentChildren } from 'preact'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { useEffect, useRef } from 'preact/hooks'

/** What the read tools need of a player (player-state.ts). */
interface Reader {
  autoRead: Signal<boolean>
  unread: ReadonlySignal<readonly unknown[]>
  setAutoRead(on: boolean): void
  readNow(): Promise<void>
}

/** The channel's words for reading: WhatsApp reads, Messenger sees. */
export interface ReadWords {
  toggle: string
  toggleTitle: string
  button: string
}

export function EmptyChat({ children }: { children: ComponentChildren }) {
  return (
    <section class="chat empty">
      <p>{children}</p>
    </section>
  )
}

export function ChatPane(props: {
  label: string
  name: string
  subtitle: ComponentChildren
  /** Who is open and how many messages: a change of either scrolls to the newest. */
  personId: string
  count: number
  reader: Reader
  words: ReadWords
  /** The channel's demo tools (closing its windows). */
  tools: ComponentChildren
  composer: ComponentChildren
  children: ComponentChildren
}) {
  const { reader, words } = props
  const list = useRef<HTMLOListElement>(null)
  useEffect(() => {
    const el = list.current
    if (el) el.scrollTop = el.scrollHeight
  }, [props.count, props.personId])
  return (
    <section class="chat" aria-label={props.label}>
      <header class="chat-head">
        <div>
          <h2>{props.name}</h2>
          <p class="muted">{props.subtitle}</p>
        </div>
        <div class="chat-tools">
          <label title={words.toggleTitle}>
            <input
              type="checkbox"
              checked={reader.autoRead.value}
              onChange={(e) => reader.setAutoRead((e.currentTarget as HTMLInputElement).checked)}
            />{' '}
            {words.toggle}
          </label>
          {!reader.autoRead.value && (
            <button type="button" disabled={reader.unread.value.length === 0} onClick={() => void reader.readNow()}>
              {words.button}
            </button>
          )}
          {props.tools}
        </div>
      </header>
      <ol class="thread" ref={list}>
        {props.children}
      </ol>
      {props.composer}
    </section>
  )
}
