// The composer: Enter sends, Shift+Enter is a new line; reply and attach. It follows
// the channel's rules (lib/channels.ts channelWindow): outside the 24-hour window
// WhatsApp only delivers approved templates, so it becomes a template picker with a
// field per parameter; Messenger has no templates but lets a person follow up for 7
// days (the server adds the HUMAN_AGENT tag), then nothing until the customer writes.
// The draft survives switching conversations and a stream reset.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { previewText } from './message-text.ts'
import type { ChannelWindow } from '../lib/channels.ts'
import { Paperclip } from 'lucide'
import { Icon } from './Icon.tsx'
import { lazy, LazyInline } from '../lib/lazy.tsx'
import { useTypingSignal } from './Presence.tsx'
import { useCannedReplies } from './CannedPicker.tsx'
import { NoteComposer, useNoteMode } from './NoteComposer.tsx'
import { SendGuardBanner, useSendGuard } from './SendGuard.tsx'

// Meta's text limit (W-SEND-TEXT).
const MAX_TEXT = 4096
const MAX_ROWS = 6
// What Parley accepts as agent uploads on both channels (the server checks the bytes too).
const ACCEPT =
  'image/jpeg,image/png,audio/aac,audio/amr,audio/mpeg,audio/mp4,audio/ogg,.aac,.amr,.mp3,.m4a,.ogg,.opus,video/mp4,video/3gpp,.mp4,.3gp,' +
  'application/pdf,text/plain,.doc,.docx,.xls,.xlsx,.ppt,.pptx'
const MB = 1024 * 1024
// Messenger's attachment limit (the server refuses larger ones too); WhatsApp's are per type (W-MEDIA).
const MESSENGER_MAX_BYTES = 25 * MB
function whatsappLimit(f: File): { bytes: number; what: string } {
  if (f.type.startsWith('image/')) return { bytes: 5 * MB, what: 'images' }
  if (f.type.startsWith('audio/') || /\.(aac|amr|mp3|m4a|ogg|opus)$/i.test(f.name)) return { bytes: 16 * MB, what: 'audio' }
  if (f.type.startsWith('video/') || /\.(mp4|3gp)$/i.test(f.name)) return { bytes: 16 * MB, what: 'videos' }
  return { bytes: 100 * MB, what: 'documents' }
}

export function Composer({ conv, win, onSent }: { conv: ConversationDTO; win: ChannelWindow; onSent: () => void }) {
  const app = useApp()
  // Issue 14: Note mode whatever the window says — a note is never sent.
  if (useNoteMode(conv.id)) return <NoteComposer conv={conv} />
  // A failed bubble's action (send-recovery.ts) overrides Parley's own window count: Meta
  // said the window is closed. It lasts until the customer writes again.
  const o = app.composeOverride.value
  const override = o && o.conversationId === conv.id && o.windowExpiresAt === conv.windowExpiresAt && win.mode === 'open' ? o.mode : null
  const back = () => (app.composeOverride.value = null)
  if (override === 'template') return <TemplatePicker conv={conv} onSent={onSent} onBack={back} />
  if (override === 'human_agent') {
    const until = conv.windowExpiresAt === null ? null : conv.windowExpiresAt - DAY_MS + 7 * DAY_MS
    return <TextComposer key="follow-up" conv={conv} humanAgentUntil={until} explicitFollowUp onBack={back} onSent={onSent} />
  }
  switch (win.mode) {
    case 'template':
      return <TemplatePicker conv={conv} onSent={onSent} />
    case 'closed':
      return <ClosedComposer conv={conv} />
    default:
      // The same component in both modes: crossing the 24-hour mark keeps what is typed.
      return <TextComposer conv={conv} humanAgentUntil={win.mode === 'human_agent' ? win.until : null} onSent={onSent} />
  }
}

const DAY_MS = 86_400_000

const templates = lazy(() => import('./TemplateComposer.tsx'))
type TemplateProps = { conv: ConversationDTO; onSent: () => void; onBack?: () => void }
function TemplatePicker(p: TemplateProps) {
  return <LazyInline of={templates}>{(m) => <m.TemplatePicker {...p} />}</LazyInline>
}

const untilFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' })

function TextComposer({
  conv,
  humanAgentUntil,
  explicitFollowUp = false,
  onBack,
  onSent,
}: {
  conv: ConversationDTO
  humanAgentUntil: number | null
  /** Sent with `humanAgent: true` (after Messenger's code 10), whatever Parley's window says. */
  explicitFollowUp?: boolean
  onBack?: () => void
  onSent: () => void
}) {
  const app = useApp()
  const [text, setText] = useState(() => app.drafts.get(conv.id) ?? '')
  const input = useRef<HTMLTextAreaElement>(null)
  const file = useRef<HTMLInputElement>(null)
  const reply = app.replyTo.value?.conversationId === conv.id ? app.replyTo.value.message : null
  // A reply the send guard held comes back here (issue 14).
  useSendGuard(conv.id, text, setText)
  // Chosen from a failed bubble: the words are here, ready to send.
  useEffect(() => {
    if (explicitFollowUp) input.current?.focus()
  }, [])

  const typing = useTypingSignal(conv.id) // issue 14: "… is typing" for the others
  const update = (v: string) => {
    setText(v)
    typing(v)
    if (v) app.drafts.set(conv.id, v)
    else app.drafts.delete(conv.id)
  }
  // Issue 14: `/` at the start opens the canned replies; the chosen one is inserted, not sent.
  const canned = useCannedReplies(conv, text, update, input)
  const send = () => {
    const v = text.trim()
    if (!v) return
    app.sendText(conv.id, v, explicitFollowUp ? { humanAgent: true } : {})
    update('')
    onSent()
    input.current?.focus()
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault()
        send()
      }}
    >
      <SendGuardBanner conv={conv} />
      {humanAgentUntil !== null && (
        <p class="window-note human-agent" id="composer-note" role="note">
          <strong>Human agent follow-up.</strong> The customer last wrote more than 24 hours ago. Messenger still lets a person on your team
          reply until {untilFmt.format(humanAgentUntil)}; Parley sends it with the HUMAN_AGENT tag. Not for automated or promotional
          messages.
          {onBack && (
            <>
              {' '}
              <button type="button" class="link" onClick={onBack}>
                Back to a normal reply
              </button>
            </>
          )}
        </p>
      )}
      {reply && (
        <div class="replying">
          <div class="quote">
            <span class="quote-who">Replying to {reply.direction === 'in' ? 'customer' : 'your message'}</span>
            <span class="quote-text">{previewText(reply)}</span>
          </div>
          <button type="button" class="icon small" aria-label="Cancel reply" onClick={() => (app.replyTo.value = null)}>
            ✕
          </button>
        </div>
      )}
      {canned.view}
      <div class="compose-row">
        <button
          type="button"
          class="icon"
          aria-label="Attach an image, audio, video or document"
          title="Attach"
          onClick={() => file.current?.click()}
        >
          <Icon icon={Paperclip} />
        </button>
        <input
          ref={file}
          type="file"
          accept={ACCEPT}
          class="hidden"
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => {
            const f = e.currentTarget.files?.[0]
            e.currentTarget.value = ''
            if (!f) return
            if (conv.channelKind === 'messenger') {
              if (f.size > MESSENGER_MAX_BYTES) return app.flash('Messenger takes files up to 25 MB.')
              // A Messenger attachment has no caption: what is typed stays, to send after it.
              app.sendMedia(conv.id, f, '')
            } else {
              const limit = whatsappLimit(f)
              if (f.size > limit.bytes) return app.flash(`WhatsApp takes ${limit.what} up to ${limit.bytes / MB} MB.`)
              // WhatsApp audio has no caption either: what is typed stays, to send after it.
              if (limit.what === 'audio') app.sendMedia(conv.id, f, '')
              else {
                app.sendMedia(conv.id, f, text.trim())
                update('')
              }
            }
            onSent()
          }}
        />
        <textarea
          ref={input}
          id="composer-input"
          aria-label={humanAgentUntil !== null ? 'Human agent follow-up message' : 'Message'}
          aria-describedby={humanAgentUntil !== null ? 'composer-note' : undefined}
          placeholder={humanAgentUntil !== null ? 'Type a personal follow-up' : 'Type a message'}
          rows={Math.min(MAX_ROWS, text.split('\n').length)}
          maxLength={MAX_TEXT}
          value={text}
          onInput={(e) => update(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (canned.onKeyDown(e)) return
            // Enter sends; Shift+Enter (and Enter while an IME is composing) types a new line.
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault()
              send()
            }
          }}
        />
        <button type="submit" class="send" aria-label="Send" disabled={!text.trim()}>
          ➤
        </button>
      </div>
    </form>
  )
}

/** Messenger more than 7 days after the customer's last message: nothing may be sent (M-POLICY). */
function ClosedComposer({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  return (
    <div class="composer closed">
      <p class="window-note" id="composer-note" role="note">
        {conv.windowExpiresAt === null
          ? 'The customer has not written to this page on Messenger, so Messenger does not allow a message yet.'
          : 'More than 7 days have passed since the customer last wrote. Messenger allows no message (and has no templates) until they write again.'}
      </p>
      <div class="compose-row">
        <textarea
          aria-label="Message (Messenger does not allow sending now)"
          aria-describedby="composer-note"
          rows={1}
          disabled
          value={app.drafts.get(conv.id) ?? ''}
        />
        <button type="button" class="send" aria-label="Send" disabled>
          ➤
        </button>
      </div>
    </div>
  )
}
