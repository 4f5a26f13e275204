// Resolve and reopen (issue 11): the status change, a system line in the timeline and
// both events in one transaction, so every stream and every replay sees the same thing.
// The line is a message row (direction `system`, type `activity`) so it pages, replays
// and orders with the history, but it is written by the writer's recordSystemLine, not
// record: it never becomes the preview, never counts as unread, never touches the 24-hour
// window or lastMessageStatus, and has no outbox row (nothing is sent to the customer).
// Campaign attribution and opt-outs read only `in`/`out` rows, so they never see it.
//
// A customer writing to a resolved conversation reopens it (writer.ts)
// without a line: the customer's message right below "Ana resolved this" already says
// why it is open again, and a campaign's replies (its conversations start resolved)
// would otherwise each carry a line.
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { ConversationDTO, SystemLineData } from '../../events/types.ts'
import type { InboxRepos } from '../../store/inbox-store.ts'
import type { Q } from '../../store/unit.ts'
import { Errors } from '../../errors.ts'
import { type Access, canSeeChannel } from '../accounts/access.ts'
import type { InboxWriter } from './writer.ts'

/** What a person sets by hand (issue 14 adds `pending`: waiting on the customer); `snoozed` is snooze.ts's. */
export type ConversationStatus = 'open' | 'pending' | 'resolved'

export interface ConversationStatusDeps {
  /** Repositories only (an InboxStore is one): the unit runs on whichever database runs it (issue 17). */
  repos: InboxRepos
  writer: InboxWriter
  now: () => number
}

/**
 * The conversation's channel when the caller may see it; 404 NOT_FOUND for another
 * workspace's, an unknown one or one outside the caller's channels (issue 13) — as a unit,
 * so the check runs in the action's own transaction on either database.
 */
export function* conversationInScopeUnit(repos: Pick<InboxRepos, 'conversations'>, access: Access, conversationId: number): Q<number> {
  const channelId = yield* repos.conversations.channelOf(access.workspaceId, conversationId)
  if (channelId === undefined || !canSeeChannel(access, channelId)) throw Errors.notFound('Conversation')
  return channelId
}

/**
 * The line's words when a client does not render `data` itself (search, exports, old
 * clients). A snooze's time is worded in `timeZone` (the workspace's; UTC without one).
 */
export function systemLineText(d: SystemLineData, timeZone = 'UTC'): string {
  const who = d.actor?.name
  switch (d.action) {
    case 'resolved':
    case 'reopened':
      return `${who ?? 'Parley'} ${d.action} this`
    case 'pending':
      return `${who ?? 'Parley'} marked this pending`
    case 'snoozed':
      return `${who ?? 'Parley'} snoozed this until ${d.until === undefined ? 'later' : snoozeTimeText(d.until, timeZone)}`
    case 'unsnoozed':
      if (d.actor) return `${who} unsnoozed this`
      return d.reason === 'customer' ? 'Snooze ended: the customer wrote' : 'Snooze ended'
    case 'assigned': {
      const to = d.target?.name ?? 'someone'
      if (!d.actor) return `Assigned to ${to} automatically`
      // "Ben took this": the person assigned it to themselves.
      return d.target?.userId === d.actor.userId ? `${who} took this` : `${who} assigned this to ${to}`
    }
    case 'unassigned':
      return d.actor ? `${who} unassigned this` : 'Unassigned automatically'
  }
}

/** "Mon 7 Dec, 09:00" on the timezone's wall clock. */
function snoozeTimeText(at: number, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(at)
  } catch {
    return new Date(at).toISOString()
  }
}

/** The line for a status a person set, from the status it had: leaving a snooze for Open is "unsnoozed". */
function statusAction(from: string, to: ConversationStatus): SystemLineData['action'] {
  if (to === 'resolved') return 'resolved'
  if (to === 'pending') return 'pending'
  return from === 'snoozed' ? 'unsnoozed' : 'reopened'
}

/**
 * Sets the status (and ends a snooze: any status a person sets replaces it); idempotent: the
 * status it already has answers the conversation as it is, with no event and no second line.
 * 404 for an unknown id or another workspace's. A unit of work (issue 17): run it with its
 * events through a UnitLog (`setConversationStatus` below).
 *
 * The status is read with the row locked on PostgreSQL (statusForUpdate): two people
 * resolving the same conversation at the same moment from two processes each read the
 * status the other left, so only the first writes a line and an event. On SQLite the
 * write transaction (BEGIN IMMEDIATE) already runs them one after the other.
 */
export function* setConversationStatusUnit(
  deps: ConversationStatusDeps,
  batch: Emitter,
  who: { workspaceId: number; userId: number },
  conversationId: number,
  status: ConversationStatus,
): Q<ConversationDTO> {
  const ws = who.workspaceId
  const { conversations, users } = deps.repos
  const now = deps.now()
  const from = yield* conversations.statusForUpdate(ws, conversationId)
  if (from === undefined) throw Errors.notFound('Conversation')
  const conv = yield* conversations.setConversationStatus(ws, conversationId, status, now)
  const current = yield* conversations.conversationDTO(ws, conversationId)
  if (!current) throw Errors.notFound('Conversation')
  if (!conv) return current
  const data: SystemLineData = {
    action: statusAction(from, status),
    actor: { userId: who.userId, name: (yield* users.nameInWorkspace(ws, who.userId)) ?? 'An agent' },
  }
  yield* deps.writer.recordSystemLine(batch, current, { workspaceId: ws, text: systemLineText(data), data, userId: who.userId, now })
  deps.writer.conversationChanged(batch, ws, current)
  return current
}

/** The status change in its own transaction with its events, on the log's database. */
export function setConversationStatus(
  deps: ConversationStatusDeps & { unitLog: UnitLog },
  who: { workspaceId: number; userId: number },
  conversationId: number,
  status: ConversationStatus,
): Promise<ConversationDTO> {
  return deps.unitLog.transact((batch) => setConversationStatusUnit(deps, batch, who, conversationId, status))
}
