// The send guard in the browser (issue 14). Every reply names the newest message its
// agent had on screen when they began writing it (`seenMessageId`: the thread's newest
// stored message then — the stream is ordered, so everything up to it was delivered
// here): an answer that lands while they type is what the guard exists for ("Ben replied
// 20 s ago"). Without a draft (an attachment alone) it is the newest on screen at the
// send. When the server holds a reply — 409 CONVERSATION_CHANGED (the customer or a
// colleague wrote since) or 403 ASSIGNEE_ONLY — the optimistic bubble goes, the words go
// back into the composer's draft, and the hold is kept here for the banner above the
// composer (SendGuard.tsx): "Send anyway" sends the held request again with `force:
// true`; "Edit" dismisses it, and the next reply counts what the banner showed as seen;
// "Assign to me" assigns, and then the agent sends.
import { signal } from '@preact/signals'
import { ApiError } from '../api/client.ts'
import type { MessageDTO } from '../../../src/events/types.ts'
import type { Drafts } from '../lib/drafts.ts'
import type { InboxState, PendingMessage } from './inbox.ts'

export interface Hold {
  conversationId: number
  code: 'CONVERSATION_CHANGED' | 'ASSIGNEE_ONLY'
  /** The server's words. */
  message: string
  /** The held request, to send anyway. */
  pending: PendingMessage
  /** What came since (oldest first): CONVERSATION_CHANGED. */
  newer: MessageDTO[]
  /** Names of the people who wrote them, by user id. */
  senders: Record<number, string>
  /** ASSIGNEE_ONLY: who is assigned (null: nobody). */
  assignee: { id: number; name: string } | null
}

interface GuardBody {
  newer?: MessageDTO[]
  senders?: Record<number, string>
  assignee?: { id: number; name: string } | null
}

export function createSendGuard(deps: {
  state: InboxState
  drafts: Drafts
  /** Sends a pending message (the app's submit: the bubble, then the POST). */
  submit: (p: PendingMessage) => void
  /** Assigns the conversation to the signed-in person; resolves true when it worked. */
  assignToMe: (conversationId: number) => Promise<boolean>
}) {
  const { state, drafts } = deps
  /** The held reply of each conversation (at most one: the newest). */
  const holds = signal<ReadonlyMap<number, Hold>>(new Map())
  /** Bumped when a held reply's words went back into a draft: the composer reloads it. */
  const restored = signal(0)
  /** Per conversation: the newest message id on screen when the draft began (or that a hold showed). */
  const baseline = new Map<number, number>()

  const put = (id: number, h: Hold | null) => {
    const next = new Map(holds.value)
    if (h) next.set(id, h)
    else next.delete(id)
    holds.value = next
  }

  /** The newest stored message this agent has on screen in the conversation (undefined: none loaded). */
  function newestOnScreen(conversationId: number): number | undefined {
    const ids = state.threads.get(conversationId)?.ids
    return ids?.length ? ids[ids.length - 1] : undefined
  }

  /** The composer has words: what is on screen now is what they answer (kept until sent). */
  function drafting(conversationId: number, hasText: boolean) {
    if (!hasText) baseline.delete(conversationId)
    else if (!baseline.has(conversationId)) {
      const seen = newestOnScreen(conversationId)
      if (seen !== undefined) baseline.set(conversationId, seen)
    }
  }

  /** A new reply's body names what its agent saw; a held reply it replaces is dropped. */
  function stamp(body: Record<string, unknown>, conversationId: number): Record<string, unknown> {
    const seen = baseline.get(conversationId) ?? newestOnScreen(conversationId)
    baseline.delete(conversationId)
    if (holds.value.has(conversationId)) put(conversationId, null)
    return seen === undefined ? body : { ...body, seenMessageId: seen }
  }

  /**
   * A failed POST of `p`: true when the guard held it (the bubble goes, the words go back
   * to the draft, the banner shows); false for any other failure (the bubble's own retry).
   */
  function intercept(p: PendingMessage, e: unknown): boolean {
    if (!(e instanceof ApiError) || (e.code !== 'CONVERSATION_CHANGED' && e.code !== 'ASSIGNEE_ONLY')) return false
    const body = (e.body ?? {}) as GuardBody
    const newer = body.newer ?? []
    state.removePending(p.conversationId, p.clientMessageId)
    // The new messages show at once; the stream's copies replace them when they arrive.
    for (const m of newer) state.applySentMessage(m)
    // Shown in the banner: the words going back to the draft now answer them too.
    const newest = newer.at(-1)?.id ?? newestOnScreen(p.conversationId)
    if (newest !== undefined) baseline.set(p.conversationId, Math.max(newest, baseline.get(p.conversationId) ?? 0))
    // The words go back where they were typed, before anything typed since (a template's
    // are not typed: "Send anyway" sends it as chosen).
    const words = p.body.template ? '' : p.text
    const typed = drafts.get(p.conversationId)
    if (words && typed !== words) drafts.set(p.conversationId, typed ? `${words}\n${typed}` : words)
    put(p.conversationId, {
      conversationId: p.conversationId,
      code: e.code,
      message: e.message,
      pending: p,
      newer,
      senders: body.senders ?? {},
      assignee: body.assignee ?? null,
    })
    restored.value++
    return true
  }

  /** "Send anyway": the held request again, forced; the draft it went back to is cleared. */
  function sendAnyway(conversationId: number) {
    const h = holds.value.get(conversationId)
    if (!h) return
    put(conversationId, null)
    if (h.pending.text && drafts.get(conversationId) === h.pending.text) {
      drafts.delete(conversationId)
      restored.value++
    }
    deps.submit({ ...h.pending, state: 'sending', error: null, createdAt: Date.now(), body: { ...h.pending.body, force: true } })
  }

  /** "Edit": the banner goes, the draft stays; the next reply counts what the banner showed as seen. */
  function dismiss(conversationId: number) {
    put(conversationId, null)
  }

  /** "Assign to me" (assignee-only): on success the banner goes and the agent sends. */
  async function assignToMe(conversationId: number) {
    if (await deps.assignToMe(conversationId)) put(conversationId, null)
  }

  return { holds, restored, drafting, stamp, intercept, sendAnyway, dismiss, assignToMe }
}

export type SendGuardState = ReturnType<typeof createSendGuard>

/** "Ben replied", "The customer wrote", "Ben added a note": who made the newest of `newer`. */
export function changedBy(m: MessageDTO, senders: Record<number, string>): string {
  if (m.direction === 'in') return 'The customer wrote'
  const name = m.senderUserId === null ? undefined : senders[m.senderUserId]
  if (m.direction === 'system') return `${name ?? 'A colleague'} added a note`
  return name ? `${name} replied` : 'A reply was sent from outside Parley'
}

/** "just now", "20 s ago", "3 min ago", "2 h ago". */
export function secondsAgo(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 5) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${Math.floor(s / 3600)} h ago`
}
