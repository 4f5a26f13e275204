// The send guard's actions after a refusal (issue 14), loaded on the first one with the
// banners (components/SendGuardBanners.tsx): the held reply's words go back into the
// draft and the hold is kept for the banner; "Send anyway" sends the held request again
// with `force: true`; "Edit" dismisses it, and the next reply counts what the banner
// showed as seen; "Assign to me" assigns, and then the agent sends.
import type { ApiError } from '../api/client.ts'
import type { MessageDTO } from '../../../src/events/types.ts'
import type { PendingMessage } from './inbox.ts'
import type { GuardCore as SendGuardState, Hold } from './send-guard-types.ts'

interface GuardBody {
  newer?: MessageDTO[]
  senders?: Record<number, string>
  assignee?: { id: number; name: string } | null
}

/** A refused reply (409 CONVERSATION_CHANGED or 403 ASSIGNEE_ONLY): its words back, its hold kept. */
export function hold(g: SendGuardState, p: PendingMessage, e: ApiError): void {
  const { state, drafts } = g.deps
  const id = p.conversationId
  const body = (e.body ?? {}) as GuardBody
  const newer = body.newer ?? []
  // The new messages show at once; the stream's copies replace them when they arrive.
  for (const m of newer) state.applySentMessage(m)
  // Shown in the banner: the words going back to the draft now answer them too.
  const newest = newer.at(-1)?.id ?? state.threads.get(id)?.ids.at(-1)
  if (newest !== undefined) g.baseline.set(id, Math.max(newest, g.baseline.get(id) ?? 0))
  // The words go back where they were typed, before anything typed since (a template's
  // are not typed: "Send anyway" sends it as chosen).
  const words = p.body.template ? '' : p.text
  const typed = drafts.get(id)
  if (words && typed !== words) drafts.set(id, typed ? `${words}\n${typed}` : words)
  g.put(id, {
    conversationId: id,
    code: e.code as Hold['code'],
    message: e.message,
    pending: p,
    newer,
    senders: body.senders ?? {},
    assignee: body.assignee ?? null,
  })
  g.restored.value++
}

/** "Send anyway": the held request again, forced; the draft it went back to is cleared. */
export function sendAnyway(g: SendGuardState, id: number): void {
  const h = g.holds.value.get(id)
  if (!h) return
  g.put(id, null)
  if (h.pending.text && g.deps.drafts.get(id) === h.pending.text) {
    g.deps.drafts.delete(id)
    g.restored.value++
  }
  g.deps.submit({ ...h.pending, state: 'sending', error: null, createdAt: Date.now(), body: { ...h.pending.body, force: true } })
}

/** "Edit" / "Dismiss": the banner goes, the draft stays. */
export function dismiss(g: SendGuardState, id: number): void {
  g.put(id, null)
}

/** "Assign to me" (assignee-only): on success the banner goes and the agent sends. */
export async function assignToMe(g: SendGuardState, id: number): Promise<void> {
  if (await g.deps.assignToMe(id)) g.put(id, null)
}

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
