// Issue 15: a conversation opened around one message (a search result, a mention) and
// scrolled down from there to the live end, page by page; then the stream's messages
// show as they arrive. Loaded on first use (components/message-focus.ts). The state's
// side is inbox.ts `applyMessagePage` with `newerCursor`.
import { ApiError, describeError } from '../api/client.ts'
import { historyApi } from '../api/history.ts'
import type { App } from './app.ts'
import { focus } from './focus.ts'
import type { ScrollerHandle } from '../components/ChatScroller.tsx'

// As many as the newest page (state/app.ts MESSAGE_PAGE): about half before the message, half after.
const PAGE = 100

/** The page around the message replaces what the thread shows; older and newer pages follow from its ends. */
export async function loadAround(app: App, conversationId: number, messageId: number) {
  const s = app.state
  const t = s.thread(conversationId)
  try {
    const p = await historyApi.page(conversationId, { around: messageId, limit: PAGE })
    s.applyMessagePage(
      conversationId,
      p.messages,
      p.eventId,
      { older: true, nextCursor: p.nextCursor, newerCursor: p.newerCursor },
      { replace: true },
    )
  } catch (e) {
    // The message is gone (a deleted note) or out of reach now: the conversation as usual.
    if (e instanceof ApiError && e.status === 404 && e.message.startsWith('Message')) {
      app.flash('That message is no longer in the conversation.')
      if (focus.value?.messageId === messageId) focus.value = null
      return loadLatest(app, conversationId)
    }
    // "Try again" then opens the conversation as usual.
    if (focus.value?.messageId === messageId) focus.value = null
    if (t.status.value === 'loading') t.status.value = 'error'
    app.flash(`Could not load the messages: ${describeError(e)}`)
  }
}

/** The next page after the newest loaded one; the last of them reaches the live end. */
export async function loadNewer(app: App, conversationId: number) {
  const t = app.state.thread(conversationId)
  if (!t.hasNewer.value || t.loadingNewer.value || t.status.value !== 'ready') return
  t.loadingNewer.value = true
  try {
    const p = await historyApi.page(conversationId, { after: t.newerCursor, limit: PAGE })
    app.state.applyMessagePage(conversationId, p.messages, p.eventId, { older: false, nextCursor: null, newerCursor: p.newerCursor })
  } catch (e) {
    t.loadingNewer.value = false
    app.flash(`Could not load newer messages: ${describeError(e)}`)
  }
}

/** Back to the live end at once (the agent sends a reply from far back): the newest page replaces the window. */
export async function loadLatest(app: App, conversationId: number) {
  const t = app.state.thread(conversationId)
  try {
    const p = await historyApi.page(conversationId, { limit: PAGE })
    app.state.applyMessagePage(conversationId, p.messages, p.eventId, { older: false, nextCursor: p.nextCursor }, { replace: true })
  } catch (e) {
    if (t.status.value === 'loading') t.status.value = 'error'
    app.flash(`Could not load the newest messages: ${describeError(e)}`)
  }
}

/** The live end, then the view scrolled down to it (after the render that shows it). */
export async function toLatest(app: App, conversationId: number, scroller: { current: ScrollerHandle | null }) {
  await loadLatest(app, conversationId)
  requestAnimationFrame(() => scroller.current?.scrollToBottom())
}
