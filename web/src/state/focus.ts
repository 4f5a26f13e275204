// The message a jump asked for: its conversation opens scrolled to it, and it is
// highlighted for a moment (issue 14: a mention's note; issue 15: a search result).
// One per page, like the path (lib/nav.ts); the view loads the history around it when
// it is not in what is loaded (components/message-focus.ts).
import { signal } from '@preact/signals'

// How long a message jumped to stays highlighted.
const FOCUS_MS = 4000

export interface Focus {
  conversationId: number
  messageId: number
}

export const focus = signal<Focus | null>(null)
let timer: ReturnType<typeof setTimeout> | undefined

/** Asks for the message; it stays asked for until it is on screen (however long the history around it takes). */
export function focusMessage(conversationId: number, messageId: number) {
  clearTimeout(timer)
  focus.value = { conversationId, messageId }
}

/** The message is on screen: its highlight fades after a moment. */
export function focusShown(f: Focus) {
  clearTimeout(timer)
  timer = setTimeout(() => focus.value === f && (focus.value = null), FOCUS_MS)
}
