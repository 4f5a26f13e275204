// Assignment (issue 13): a conversation has one assignee or none. People assign, hand
// over and unassign through `assign`; Parley assigns automatically, per channel, round
// robin among the members who are available and under the workspace's cap:
//  - a customer's new conversation (or an unassigned one they write to again),
//  - one the customer reopens while its assignee is unavailable or deactivated (chatwoot
//    #7204, #4158: reopened chats went back to an agent who had gone home),
//  - the longest-waiting pool, when an agent becomes available (`drainFor`; chatwoot
//    #10376, #10685: nobody drained the backlog when someone came online).
// Issue 14: the cap counts OPEN conversations only. A pending one waits on the customer and
// a snoozed one on a time: neither is work now, so setting either (like resolving) frees a
// place and drains the pool. When one comes back (the customer writes: the reopen rule
// below; its snooze ends: it stays with its assignee) it counts again, even if that puts
// its assignee over the cap for a while — taking it away would be worse.
// Deactivation returns pending and snoozed conversations to the pool too.
// Every change is one transaction: the assignee, a system line, `conversation.updated`
// and `conversation.assigned` to the new assignee. A conversation has one assignee
// column, so it cannot be given twice; a crash loses nothing (the message and its
// assignment commit together). Assigning never marks anything unread (chatwoot #14445).
//
// Issue 17: every operation is a unit of work (`…Unit`, with the Emitter of its
// transaction); the repository's reads and the rotation run on either database. The
// assignee's write, its line and the conversation's DTO are still the inbox writer's and
// store's, synchronous on SQLite (domain/sqlite-only.ts). The old names run the units at once for
// callers still synchronous (effects inside the ingest transaction, accounts' hooks).
import type { AssignedBy, ConversationDTO, SystemLineData } from '../../events/types.ts'
import type { Emitter } from '../../events/event-log.ts'
import type { Q } from '../../store/unit.ts'
import type { AssignmentRepo, Person } from '../../store/assignment.ts'
import type { InboxRepos } from '../../store/inbox-store.ts'
import type { ConversationRow } from '../../store/rows.ts'
import { Errors } from '../../errors.ts'
import { canSeeChannel, type Access } from '../accounts/access.ts'
import type { ChannelDirectory } from '../channels/channels.ts'
import type { CustomerWrote } from '../effects.ts'
import type { InboxWriter } from '../inbox/writer.ts'
import { systemLineText } from '../inbox/conversation-status.ts'

/** Whether a person has an open stream (or had one within the grace period): presence.ts answers. */
export interface Presence {
  isOnline(userId: number): boolean
}

/**
 * Round robin, pure: the first member after `lastAssigned` (in ascending id order,
 * wrapping) whose open conversations are under the cap; undefined when all are full.
 * `available` holds only the members who may take work now, ascending. The rotation
 * continues from where it stopped even when that member has since left the list, so
 * everyone continuously available is visited once per turn.
 */
export function nextAssignee(
  available: readonly number[],
  loads: ReadonlyMap<number, number>,
  lastAssigned: number | null,
  cap: number,
): number | undefined {
  if (available.length === 0) return undefined
  let start = lastAssigned === null ? 0 : available.findIndex((id) => id > lastAssigned)
  if (start < 0) start = 0
  for (let i = 0; i < available.length; i++) {
    const id = available[(start + i) % available.length]!
    if ((loads.get(id) ?? 0) < cap) return id
  }
  return undefined
}

/** How many of the pool a person who became available takes: up to their room under the cap. */
export function drainRoom(load: number, cap: number): number {
  return Math.max(0, cap - load)
}

// Turning automatic assignment on hands out at most this many waiting conversations in
// one transaction (members × cap is far below it for a small team; the rest wait for
// the next availability change rather than hold the write lock for long).
const POOL_DRAIN_LIMIT = 500

export interface AssignmentDeps {
  repo: AssignmentRepo
  /** Whether a channel assigns automatically: cached there, refreshed when a channel changes. */
  channels: Pick<ChannelDirectory, 'autoAssigns'>
  store: Pick<InboxRepos, 'conversations'>
  writer: InboxWriter
  presence: Presence
  now: () => number
}

export class Assignment {
  constructor(private readonly deps: AssignmentDeps) {}

  /** Available for automatic assignment: active, set to online, and present. */
  isAvailable(p: Person): boolean {
    return !p.disabled && p.availability === 'online' && this.deps.presence.isOnline(p.id)
  }

  /**
   * A person assigns (`userId`), takes (their own id) or unassigns (null). 404 when the
   * caller cannot see the conversation; 422 when the target is not an active member of
   * its channel (or an admin). The same assignee again changes nothing.
   */
  *assignUnit(batch: Emitter, access: Access, conversationId: number, userId: number | null): Q<ConversationDTO> {
    const { repo, store } = this.deps
    const ws = access.workspaceId
    const conv = yield* repo.conversation(ws, conversationId)
    if (!conv || !canSeeChannel(access, conv.channelId)) throw Errors.notFound('Conversation')
    let target: Person | undefined
    if (userId !== null) {
      target = yield* repo.person(ws, userId)
      const eligible =
        target !== undefined && !target.disabled && (target.role === 'admin' || (yield* repo.isMember(conv.channelId, target.id)))
      if (!eligible) throw Errors.assigneeNotEligible()
    }
    const actor = yield* repo.person(ws, access.userId)
    const by: AssignedBy = { userId: access.userId, name: actor?.name ?? 'An agent' }
    const changed = yield* this.change(batch, conv, target ?? null, by)
    return changed ?? (yield* store.conversations.conversationDTO(ws, conv.id))!
  }

  /**
   * The side effect of a customer's message (in its transaction): a new or pooled
   * conversation on an auto-assign channel goes round robin; a reopened one whose
   * assignee is unavailable goes to the next available member, or back to the pool;
   * one whose assignee was deactivated always leaves them.
   */
  *customerWroteUnit(e: Pick<CustomerWrote, 'before' | 'after' | 'batch'>): Q<void> {
    const { after, batch } = e
    if (after.status !== 'open') return
    const { repo, channels } = this.deps
    if (after.assigneeId === null) {
      if (channels.autoAssigns(after.channelId)) yield* this.autoAssign(batch, after)
      return
    }
    // Back to Open from resolved, pending or snoozed (issue 14): the same rule as a reopen.
    if (e.before.status === 'open') return
    const auto = channels.autoAssigns(after.channelId)
    const holder = yield* repo.person(after.workspaceId, after.assigneeId)
    if (holder && !holder.disabled && (this.isAvailable(holder) || !auto)) return
    if (!auto || !(yield* this.autoAssign(batch, after))) yield* this.change(batch, after, null, null)
  }

  /**
   * A person became available (their availability set to online, or their first stream
   * opened): the oldest waiting unassigned conversations of their auto-assign channels,
   * up to their cap, in one transaction. Returns how many they were given.
   */
  *drainForUnit(batch: Emitter, workspaceId: number, userId: number): Q<number> {
    const { repo } = this.deps
    const p = yield* repo.person(workspaceId, userId)
    if (!p || !this.isAvailable(p)) return 0
    const room = drainRoom(yield* repo.openLoadOf(workspaceId, userId), yield* repo.cap(workspaceId))
    if (room === 0) return 0
    let n = 0
    for (const conv of yield* repo.waitingFor(workspaceId, userId, room)) if (yield* this.change(batch, conv, p, null)) n++
    return n
  }

  /**
   * Automatic assignment was turned on for a channel: its waiting pool, oldest first,
   * goes round robin until nobody available has room. Returns how many were assigned.
   */
  *drainChannelUnit(batch: Emitter, workspaceId: number, channelId: number): Q<number> {
    if (!this.deps.channels.autoAssigns(channelId)) return 0
    let n = 0
    // Bounded by what the channel's members can take at most: each pass assigns one or stops.
    for (const conv of yield* this.deps.repo.poolOf(channelId, POOL_DRAIN_LIMIT)) {
      if (conv.workspaceId !== workspaceId || !(yield* this.autoAssign(batch, conv))) break
      n++
    }
    return n
  }

  /** Deactivation: every open, pending or snoozed conversation of theirs returns to the pool, each with its line and events. */
  *unassignAllOfUnit(batch: Emitter, workspaceId: number, userId: number, by: AssignedBy = null): Q<number> {
    let n = 0
    for (const conv of yield* this.deps.repo.openOf(workspaceId, userId)) if (yield* this.change(batch, conv, null, by)) n++
    return n
  }

  /** Round robin on the conversation's channel; false when nobody available has room. */
  private *autoAssign(batch: Emitter, conv: ConversationRow): Q<boolean> {
    const { repo } = this.deps
    const members = yield* repo.activeMembers(conv.channelId)
    const available = members.filter((p) => p.id !== conv.assigneeId && this.isAvailable(p))
    if (available.length === 0) return false
    // The position is read here, when someone is given work, not cached: it is written in
    // this transaction, and a rolled-back one must leave the saved position as it was.
    const next = nextAssignee(
      available.map((p) => p.id),
      yield* repo.openLoads(conv.workspaceId),
      (yield* repo.rotation(conv.channelId)).lastAssigned,
      yield* repo.cap(conv.workspaceId),
    )
    const person = available.find((p) => p.id === next)
    if (!person) return false
    yield* repo.setLastAssigned(conv.channelId, person.id)
    yield* this.change(batch, conv, person, null)
    return true
  }

  /** One change of assignee with its line and events; undefined when it already had that one. */
  private *change(batch: Emitter, conv: ConversationRow, target: Person | null, by: AssignedBy): Q<ConversationDTO | undefined> {
    const now = this.deps.now()
    const data: SystemLineData = target
      ? { action: 'assigned', actor: by, target: { userId: target.id, name: target.name } }
      : { action: 'unassigned', actor: by }
    // The assignee column, the timeline line and conversation.updated: the inbox writer's.
    const done = yield* this.deps.writer.assign(batch, conv, target?.id ?? null, {
      text: systemLineText(data),
      data,
      userId: by?.userId ?? null,
      now,
    })
    if (!done) return undefined
    // Their client notifies them (unless they took it themselves, which it can tell from `by`).
    if (target)
      batch.emit(
        conv.workspaceId,
        'conversation.assigned',
        { conversation: done.conversation, by },
        { channelId: conv.channelId, userId: target.id },
      )
    return done.conversation
  }
}
