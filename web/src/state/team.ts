// The inbox's team rules (issue 13), pure so they run alike in a browser and a unit
// test: who a conversation is assigned to, the three views and their counts, what
// concerns this person (notifications, the title count), and whom it can be handed to.
import type { ConversationDTO } from '../../../src/events/types.ts'
import type { AssignView, Availability, ViewCounts } from '../api/assignment.ts'

export type { AssignView, Availability, ViewCounts }
export const AVAILABILITIES: readonly Availability[] = ['online', 'busy', 'away']

export interface Assignee {
  id: number
  name: string
}

/**
 * Issue 13's fields of the conversation DTO. Read through these accessors, so a server
 * that does not send them yet (or an older snapshot) reads as unassigned, not waiting.
 */
type TeamFields = { assignee?: Assignee | null; waitingSince?: number | null }
export const assigneeOf = (c: ConversationDTO): Assignee | null => (c as ConversationDTO & TeamFields).assignee ?? null
export const waitingSinceOf = (c: ConversationDTO): number | null => (c as ConversationDTO & TeamFields).waitingSince ?? null

export function matchesView(c: ConversationDTO, view: AssignView, me: number | null): boolean {
  if (view === 'all') return true
  const a = assigneeOf(c)
  return view === 'unassigned' ? a === null : a !== null && a.id === me
}

/**
 * What the views' counts count: open conversations (a resolved one needs nobody), as
 * `GET /api/conversations/counts` does. Every conversation this person receives is in
 * their channels, so "all" is every open one held.
 */
function counted(c: ConversationDTO | undefined, view: AssignView, me: number | null): number {
  return c !== undefined && c.status === 'open' && matchesView(c, view, me) ? 1 : 0
}

/**
 * How the counts move when a conversation changes from `prev` to `next` (an event). Null
 * when it cannot be known here: the conversation was not held (a new one, or one below
 * the loaded pages), so it may or may not be in the server's counts already.
 */
export function countsDelta(prev: ConversationDTO | undefined, next: ConversationDTO, me: number | null): ViewCounts | null {
  if (prev === undefined) return null
  return {
    mine: counted(next, 'mine', me) - counted(prev, 'mine', me),
    unassigned: counted(next, 'unassigned', me) - counted(prev, 'unassigned', me),
    all: counted(next, 'all', me) - counted(prev, 'all', me),
  }
}

export function addCounts(a: ViewCounts, d: ViewCounts): ViewCounts {
  return { mine: Math.max(0, a.mine + d.mine), unassigned: Math.max(0, a.unassigned + d.unassigned), all: Math.max(0, a.all + d.all) }
}

/**
 * Whether news of this conversation is for this person: assigned to them, or to nobody
 * (every conversation they receive is in their channels). Someone else's conversation
 * neither notifies nor counts in the title (issue 13, "only what concerns me").
 */
export function concernsMe(c: ConversationDTO, me: number | null): boolean {
  const a = assigneeOf(c)
  return a === null || me === null || a.id === me
}

/** A person as the picker knows them (GET /api/users, or pieced together without it). */
export interface Person {
  id: number
  name: string
  /** Their channels; null: every channel (an admin), or not known. */
  channelIds: number[] | null
  availability?: Availability
}

/**
 * Whom a conversation of `channelId` can be handed to: the channel's members. From the
 * team list when this person may read it (admins); otherwise from the channel's
 * `members` (ids) named by whoever is known (this person, assignees seen in the list).
 * Sorted by name; the current assignee is always offered, so the picker shows them.
 */
export function assignable(
  channelId: number,
  people: readonly Person[] | null,
  members: readonly number[] | null,
  known: ReadonlyMap<number, string>,
  current: Assignee | null,
  self: Assignee | null = null,
): Assignee[] {
  const out = new Map<number, string>()
  if (people) {
    for (const p of people) if (p.channelIds === null || p.channelIds.includes(channelId)) out.set(p.id, p.name)
  } else if (members) {
    for (const id of members) out.set(id, known.get(id) ?? `Teammate #${id}`)
  } else {
    for (const [id, name] of known) out.set(id, name)
  }
  // Whoever sees the conversation may take it (a member, or an admin who is in no member list).
  if (self) out.set(self.id, self.name)
  if (current) out.set(current.id, current.name)
  return [...out].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id)
}

/** A system line's data for assignment (direction `system`, type `activity`). */
export interface LineData {
  action?: string
  actor?: { userId?: number; name?: string } | null
  target?: { userId?: number; name?: string } | null
}

/**
 * "Ana assigned this to Ben", "Ana unassigned this", "Ben took this"; "Parley assigned
 * this to Ben" when no person did (`actor: null`: automatic assignment). Null for other lines.
 */
export function assignmentWords(d: LineData | null): string | null {
  if (d?.action !== 'assigned' && d?.action !== 'unassigned') return null
  const who = typeof d.actor?.name === 'string' ? d.actor.name : d.actor ? null : 'Parley'
  if (!who) return null
  if (d.action === 'unassigned') return `${who} unassigned this`
  const target = d.target
  if (!target || typeof target.name !== 'string') return `${who} assigned this`
  const self = target.userId !== undefined && target.userId === d.actor?.userId
  return self ? `${who} took this` : `${who} assigned this to ${target.name}`
}
