// Two rules a reply must pass before it is stored (issue 14), checked inside the same
// transaction that stores it, so nothing slips in between the check and the insert:
//
// - Only the assignee replies (a channel's `assigneeOnly`, off by default): anyone but the
//   conversation's assignee gets 403 ASSIGNEE_ONLY — admins too (everyone may assign the
//   conversation to themselves, and then reply). A reaction is a reply; a note is not
//   (notes never come here).
// - The send guard: the composer names the newest message it had on screen
//   (`seenMessageId`). When something that matters came after it (the customer wrote, a
//   colleague replied or added a note, the phone app sent something: SendGuardRepo says
//   exactly what counts), the reply is held: 409 CONVERSATION_CHANGED with those messages
//   in `newer` (oldest first, at most NEWER_LIMIT, the newest last) and nothing is sent.
//   `force: true` is the agent's "send anyway". Without `seenMessageId` nothing is checked
//   (API clients that do not know about the guard keep working).
// A retried POST whose clientMessageId is already stored replays before either rule runs.
//
// Issue 17: `checkUnit` is a unit of work (either database), run inside the send's unit.
import type { ChannelRow } from '../../store/channels.ts'
import type { SendGuardRepo } from '../../store/send-guard.ts'
import type { ConversationDTO, MessageDTO } from '../../events/types.ts'
import type { Q } from '../../store/unit.ts'
import { Errors } from '../../errors.ts'

/** At most this many of the messages that came since are returned (the newest ones). */
export const NEWER_LIMIT = 20

export interface GuardInput {
  seenMessageId?: number
  force?: boolean
}

export class SendGuard {
  constructor(private readonly repo: SendGuardRepo) {}

  /**
   * Throws 403 ASSIGNEE_ONLY or 409 CONVERSATION_CHANGED; returns when the reply may go. A
   * unit: it checks nothing unless `yield*`ed inside the transaction that stores the reply.
   */
  *checkUnit(who: { workspaceId: number; userId: number }, conv: ConversationDTO, channel: ChannelRow, input: GuardInput): Q<void> {
    this.assigneeOnly(who, conv, channel)
    if (input.seenMessageId === undefined || input.force === true) return
    const newer = yield* this.repo.newerThan(conv.id, input.seenMessageId, who.userId, NEWER_LIMIT)
    if (newer.length === 0) return
    const senders = yield* this.repo.names(
      who.workspaceId,
      newer.flatMap((m) => (m.senderUserId === null ? [] : [m.senderUserId])),
    )
    throw Errors.conversationChanged(
      `${whatChanged(newer.at(-1)!, senders)} since you last looked: nothing was sent. Read it, then send anyway or edit your reply.`,
      {
        newer,
        senders,
      },
    )
  }

  private assigneeOnly(who: { userId: number }, conv: ConversationDTO, channel: ChannelRow): void {
    if (!channel.assigneeOnly) return
    const a = conv.assignee
    if (a?.id === who.userId) return
    throw Errors.assigneeOnly(
      a
        ? `Only ${a.name}, who is assigned, can reply in this conversation. Ask them, or assign it to yourself to reply.`
        : 'Only the assignee can reply in this conversation. Assign this conversation to yourself to reply.',
      { assignee: a },
    )
  }
}

/** "The customer wrote", "Ben replied", "Ben added a note", "A reply was sent from outside Parley". */
function whatChanged(m: MessageDTO, senders: Record<number, string>): string {
  if (m.direction === 'in') return 'The customer wrote'
  const name = m.senderUserId === null ? undefined : senders[m.senderUserId]
  if (m.direction === 'system') return `${name ?? 'A colleague'} added a note`
  return name ? `${name} replied` : 'A reply was sent from outside Parley'
}
