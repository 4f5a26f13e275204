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

export function focusMessage(conversationId: number, messageId: number) {
  const f = { conversationId, messageId }
  focus.value = f
  clearTimeout(timer)
  timer = setTimeout(() => focus.value === f && (focus.value = null), FOCUS_MS)
}
