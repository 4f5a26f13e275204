// The composer's side of the send guard (issue 14): what was on screen when its words
// began is what they answer; the words of a held reply come back into it; and above it,
// a banner when a reply was held or only the assignee may reply here. The banners load
// on first use (SendGuardBanners.tsx): most sessions never need them.
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { assigneeOf } from '../state/team.ts'
import { lazy, LazyInline } from '../lib/lazy.tsx'

const banners = lazy(() => import('./SendGuardBanners.tsx'))

export function useSendGuard(conversationId: number, text: string, set: (text: string) => void) {
  const app = useApp()
  const hasText = text.trim() !== ''
  // In the commit of the keystroke's render, not after paint: a message arriving right after
  // the first key is one the agent did not have on screen when they began.
  useLayoutEffect(() => {
    app.guard.drafting(conversationId, hasText)
    // A reply on its way may be held: the banner is then at hand.
    if (hasText) banners.load().catch(() => {})
  }, [conversationId, hasText])
  const n = app.guard.restored.value
  const seen = useRef(n)
  useEffect(() => {
    if (n === seen.current) return
    seen.current = n
    set(app.drafts.get(conversationId) ?? '')
  }, [n])
}

export function SendGuardBanner({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const hold = app.guard.holds.value.get(conv.id)
  const me = app.user.value
  const notMine = !!me && assigneeOf(conv)?.id !== me.id
  const assigneeOnly = app.channels.value.find((c) => c.id === conv.channelId)?.assigneeOnly === true
  const show = hold?.code === 'CONVERSATION_CHANGED' || (notMine && (assigneeOnly || hold?.code === 'ASSIGNEE_ONLY'))
  return show ? <LazyInline of={banners}>{(m) => <m.Banner conv={conv} hold={hold} />}</LazyInline> : null
}
