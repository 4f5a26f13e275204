// What one person may see (issue 13): the workspace's own things, the conversations of
// the channels they are a member of (every channel for an admin), and their own events.
// Every query and every stream is scoped by this; something outside it answers 404, as
// if it did not exist.
import type { ReplayAudience } from '../../store/events.ts'
import type { ChannelMembersRepo } from '../../store/channel-members.ts'
import type { Q } from '../../store/unit.ts'

export interface Access {
  workspaceId: number
  userId: number
  role: 'admin' | 'agent'
  /** The channels whose conversations this person works; null: every channel (an admin). */
  channelIds: ReadonlySet<number> | null
}

export function canSeeChannel(a: Access, channelId: number): boolean {
  return a.channelIds === null || a.channelIds.has(channelId)
}

/** An event's audience against a person: the workspace's, their channel's, or their own. */
export function canSeeEvent(a: Access, ev: { channelId: number | null; userId: number | null }): boolean {
  return (ev.channelId === null || canSeeChannel(a, ev.channelId)) && (ev.userId === null || ev.userId === a.userId)
}

/** The same rule for a replay from the log (done in SQL). */
export function replayAudienceOf(a: Access): ReplayAudience {
  return { channelIds: a.channelIds === null ? null : [...a.channelIds], userId: a.userId }
}

/** The channels a list may show: null for every channel. */
export function channelFilterOf(a: Access): readonly number[] | null {
  return a.channelIds === null ? null : [...a.channelIds]
}

export class AccessResolver {
  constructor(private readonly members: Pick<ChannelMembersRepo, 'channelIdsOf'>) {}

  /**
   * Read fresh for each request and each stream: a change of role or channels applies at once.
   * A unit (either database), so the request's session and its channels are one read.
   */
  *ofUnit(who: { workspaceId: number; userId: number; role: 'admin' | 'agent' }): Q<Access> {
    return {
      workspaceId: who.workspaceId,
      userId: who.userId,
      role: who.role,
      channelIds: who.role === 'admin' ? null : new Set(yield* this.members.channelIdsOf(who.userId)),
    }
  }
}
