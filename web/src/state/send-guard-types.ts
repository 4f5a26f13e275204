// The send guard's shapes (issue 14), shared by its first-script part (send-guard.ts)
// and the part loaded on the first refusal (send-guard-actions.ts).
import type { Signal } from '@preact/signals'
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

export interface GuardDeps {
  state: InboxState
  drafts: Drafts
  /** Sends a pending message (the app's submit: the bubble, then the POST). */
  submit: (p: PendingMessage) => void
  /** Assigns the conversation to the signed-in person; resolves true when it worked. */
  assignToMe: (conversationId: number) => Promise<boolean>
}

/** What the actions work on: the guard's state and the app's hands. */
export interface GuardCore {
  deps: GuardDeps
  /** The held reply of each conversation (at most one: the newest). */
  holds: Signal<ReadonlyMap<number, Hold>>
  /** Bumped when a held reply's words went back into a draft (or left it): the composer reloads it. */
  restored: Signal<number>
  /** Per conversation: the newest message id on screen when the draft began (or that a hold showed). */
  baseline: Map<number, number>
  put(id: number, h: Hold | null): void
}
