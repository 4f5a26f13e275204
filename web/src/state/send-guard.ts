// The send guard in the browser (issue 14). Every reply names the newest message its
// agent had on screen when they began writing it (`seenMessageId`: the thread's newest
// stored message then — the stream is ordered, so everything up to it was delivered
// here): an answer that lands while they type is what the guard exists for ("Ben replied
// 20 s ago"). Without a draft (an attachment alone) it is the newest on screen at the
// send. When the server holds a reply — 409 CONVERSATION_CHANGED (the customer or a
// colleague wrote since) or 403 ASSIGNEE_ONLY — the optimistic bubble goes and the rest
// (send-guard-actions.ts, loaded on the first refusal with the banners) puts the words
// back into the draft and keeps the hold for the banner above the composer.
// This part is in the inbox's first script: only what every send needs.
import { signal } from '@preact/signals'
import { ApiError } from '../api/client.ts'
import type { PendingMessage } from './inbox.ts'
import type { GuardCore, GuardDeps, Hold } from './send-guard-types.ts'

export type { Hold } from './send-guard-types.ts'

export function createSendGuard(deps: GuardDeps) {
  /** The held reply of each conversation (at most one: the newest). */
  const holds = signal<ReadonlyMap<number, Hold>>(new Map())
  /** Bumped when a held reply's words went back into a draft (or left it): the composer reloads it. */
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
  const newestOnScreen = (conversationId: number): number | undefined => deps.state.threads.get(conversationId)?.ids.at(-1)

  /** The composer has words: what is on screen now is what they answer (kept until sent). */
  function drafting(conversationId: number, hasText: boolean) {
    const seen = newestOnScreen(conversationId)
    if (!hasText) baseline.delete(conversationId)
    else if (!baseline.has(conversationId) && seen !== undefined) baseline.set(conversationId, seen)
  }

  /** A new reply's body names what its agent saw; a held reply it replaces is dropped. */
  function stamp(body: Record<string, unknown>, conversationId: number): Record<string, unknown> {
    const seen = baseline.get(conversationId) ?? newestOnScreen(conversationId)
    baseline.delete(conversationId)
    if (holds.value.has(conversationId)) put(conversationId, null)
    return seen === undefined ? body : { ...body, seenMessageId: seen }
  }

  const guard: GuardCore & {
    drafting: typeof drafting
    stamp: typeof stamp
    intercept(p: PendingMessage, e: unknown): Promise<void> | null
  } = {
    deps,
    holds,
    restored,
    baseline,
    put,
    drafting,
    stamp,
    /**
     * A failed POST of `p`: a promise when the guard held it (the bubble goes now; the words
     * go back to the draft and the banner shows once send-guard-actions.ts is loaded); null
     * for any other failure (the bubble's own retry).
     */
    intercept(p: PendingMessage, e: unknown): Promise<void> | null {
      if (!(e instanceof ApiError) || (e.code !== 'CONVERSATION_CHANGED' && e.code !== 'ASSIGNEE_ONLY')) return null
      deps.state.removePending(p.conversationId, p.clientMessageId)
      return import('./send-guard-actions.ts').then(
        (m) => m.hold(guard, p, e),
        // The banner could not be loaded (offline, a deploy): the bubble says why, to retry.
        () => deps.state.addPending({ ...p, state: 'failed', error: e.message }),
      )
    },
  }
  return guard
}

export type SendGuardState = ReturnType<typeof createSendGuard>
