// Scrolls the open conversation to the message a jump asked for (state/focus.ts: a
// mention's note, a search result), once per jump. When it is not among the messages
// loaded, the history around it replaces them (issue 15: one request, however far back);
// the view then pages older and newer from there. Renders nothing; a chunk of its own,
// loaded with the first jump (ConversationView.tsx), out of the inbox's initial JavaScript.
import { useEffect, useRef } from 'preact/hooks'
import { useApp } from '../state/context.ts'
import { focusShown, type Focus } from '../state/focus.ts'
import type { Thread } from '../state/inbox.ts'
import { loadAround } from '../state/history-actions.ts'
import type { ScrollerHandle } from './ChatScroller.tsx'

export function MessageFocus(props: {
  f: Focus
  rows: ReadonlyArray<{ key: string }>
  scroller: { current: ScrollerHandle | null }
  t: Thread
}) {
  const { f, rows, t } = props
  const app = useApp()
  const done = useRef<object | null>(null)
  const asked = useRef<object | null>(null)
  const ready = t.status.value === 'ready'
  useEffect(() => {
    if (done.current === f) return
    const key = `m-${f.messageId}`
    if (ready && rows.some((r) => r.key === key)) {
      done.current = f
      // After this render has placed the rows.
      requestAnimationFrame(() => props.scroller.current?.scrollToKey(key))
      focusShown(f)
    } else if (asked.current !== f) {
      asked.current = f
      void loadAround(app, f.conversationId, f.messageId)
    }
  }, [f, rows, ready])
  return null
}
