// The player's composer, the same on both channels: the reply being written, text with
// Enter to send, and an image from the 📎. What an image does differs: WhatsApp stages it
// for a caption (`ready`), Messenger sends it at once, as each app does.
import type { ComponentChildren } from 'preact'
import { useRef, useState } from 'preact/hooks'
import { Paperclip } from 'lucide'
import { Icon } from '../components/Icon.tsx'

export function Composer(props: {
  sending: boolean
  replying: { to: string; text: string } | null
  onCancelReply: () => void
  /** The image types the channel takes, for the file picker. */
  accept: string
  placeholder: string
  /** Something besides text is ready to send (a staged image), so Send works without text. */
  ready?: boolean
  onFile: (file: File) => unknown
  /** Sends; true clears the text. */
  onSend: (text: string) => Promise<boolean>
  /** Between the reply line and the text row: the channel's own extras. */
  children?: ComponentChildren
}) {
  const [text, setText] = useState('')
  const fileInput = useRef<HTMLInputElement>(null)
  const { sending, replying, ready = false } = props

  const submit = async () => {
    if (sending || (!text.trim() && !ready)) return
    if (await props.onSend(text)) setText('')
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      {replying && (
        <div class="replying">
          <span>
            Replying to <strong>{replying.to}</strong>: {replying.text}
          </span>
          <button type="button" aria-label="Cancel the reply" onClick={props.onCancelReply}>
            ✕
          </button>
        </div>
      )}
      {props.children}
      <div class="row">
        <label class="attach" title="Send an image">
          <Icon icon={Paperclip} />
          <input
            ref={fileInput}
            type="file"
            accept={props.accept}
            aria-label="Send an image"
            onChange={async (e) => {
              const file = (e.currentTarget as HTMLInputElement).files?.[0]
              if (file) await props.onFile(file)
              // Emptied, so that picking the same file again is a change too.
              if (fileInput.current) fileInput.current.value = ''
            }}
          />
        </label>
        <textarea
          rows={1}
          value={text}
          placeholder={props.placeholder}
          aria-label="Message"
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault()
              void submit()
            }
          }}
        />
        <button type="submit" class="send" disabled={sending || (!text.trim() && !ready)} aria-label="Send">
          ➤
        </button>
      </div>
    </form>
  )
}
