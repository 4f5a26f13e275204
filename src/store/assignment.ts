// The reads automatic assignment makes (issue 13): who may be given a conversation, how
// many open conversations each person holds, the pool of unassigned ones waiting, and
// the channel's round-robin position. Writes to conversations go through the inbox
// writer (InboxWriter.assign); this repository writes only the channel's rotation.
// Written as units of work (store/unit.ts): one SQL text per statement on SQLite and
// PostgreSQL (issue 17); booleans compared as booleans and read through Boolean().
import { TableCodec } from './prepared.ts'
import type { ConversationRow } from './rows.ts'
import { conversations } from './schema.ts'
import { all, get, type Q, run } from './unit.ts'

export interface Person {
  id: number
  name: string
  role: 'admin' | 'agent'
  availability: 'online' | 'busy' | 'away'
  disabled: boolean
}

const codec = new TableCodec<ConversationRow>(conversations)
const CONV = codec.selectQuoted('v')

const PERSON = `SELECT id, name, role, availability, disabled_at IS NOT NULL AS disabled FROM users WHERE workspace_id = ? AND id = ?`
const IS_MEMBER = 'SELECT 1 AS one FROM channel_members WHERE channel_id = ? AND user_id = ?'
// Active members of a channel, ascending: the round robin's order.
const CANDIDATES = `SELECT u.id, u.name, u.role, u.availability FROM channel_members m JOIN users u ON u.id = m.user_id
  WHERE m.channel_id = ? AND u.disabled_at IS NULL ORDER BY u.id`
// Open conversations per assignee (the ws/status index narrows it to open ones).
const LOADS = `SELECT assignee_id AS "userId", count(*) AS n FROM conversations
  WHERE workspace_id = ? AND status = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id`
const LOAD_OF = `SELECT count(*) AS n FROM conversations WHERE workspace_id = ? AND status = 'open' AND assignee_id = ?`
const CAP = 'SELECT assignment_cap AS cap FROM workspaces WHERE id = ?'
const ROTATION = 'SELECT auto_assign AS "autoAssign", last_assigned_user_id AS "lastAssigned" FROM channels WHERE id = ?'
const SET_ROTATION = 'UPDATE channels SET last_assigned_user_id = ? WHERE id = ?'
const CONVERSATION = `SELECT ${CONV} FROM conversations v WHERE v.workspace_id = ? AND v.id = ?`
// The pool, oldest wait first, in the channels where this person takes automatic work.
const WAITING = `SELECT ${CONV} FROM conversations v
  JOIN channel_members m ON m.channel_id = v.channel_id AND m.user_id = ?
  JOIN channels ch ON ch.id = v.channel_id AND ch.auto_assign = ?
  WHERE v.workspace_id = ? AND v.status = 'open' AND v.assignee_id IS NULL
  ORDER BY COALESCE(v.waiting_since, v.last_inbound_at, v.created_at), v.id LIMIT ?`
const POOL = `SELECT ${CONV} FROM conversations v WHERE v.channel_id = ? AND v.status = 'open' AND v.assignee_id IS NULL
  ORDER BY COALESCE(v.waiting_since, v.last_inbound_at, v.created_at), v.id LIMIT ?`
const OPEN_OF = `SELECT ${CONV} FROM conversations v
  WHERE v.workspace_id = ? AND v.status IN ('open', 'pending', 'snoozed') AND v.assignee_id = ? ORDER BY v.id`
const AUTO_CHANNELS_OF = `SELECT m.channel_id AS "channelId" FROM channel_members m JOIN channels ch ON ch.id = m.channel_id
  WHERE m.user_id = ? AND ch.auto_assign = ? ORDER BY m.channel_id`

type PersonRaw = Omit<Person, 'disabled'> & { disabled: unknown }

export class AssignmentRepo {
  *person(workspaceId: number, userId: number): Q<Person | undefined> {
    const r = yield* get<PersonRaw>(PERSON, [workspaceId, userId])
    // SQLite answers 0/1, PostgreSQL a boolean.
    return r && { ...r, disabled: Boolean(r.disabled) }
  }

  *isMember(channelId: number, userId: number): Q<boolean> {
    return (yield* get(IS_MEMBER, [channelId, userId])) !== undefined
  }

  /** The channel's active members, ascending by id. */
  *activeMembers(channelId: number): Q<Person[]> {
    const rows = yield* all<Omit<Person, 'disabled'>>(CANDIDATES, [channelId])
    return rows.map((p) => ({ ...p, disabled: false }))
  }

  /** Open conversations held by each person of the workspace (absent: none). */
  *openLoads(workspaceId: number): Q<Map<number, number>> {
    const rows = yield* all<{ userId: number; n: number }>(LOADS, [workspaceId])
    return new Map(rows.map((r) => [r.userId, r.n]))
  }

  *openLoadOf(workspaceId: number, userId: number): Q<number> {
    return (yield* get<{ n: number }>(LOAD_OF, [workspaceId, userId]))!.n
  }

  *cap(workspaceId: number): Q<number> {
    return (yield* get<{ cap: number }>(CAP, [workspaceId]))?.cap ?? 0
  }

  *rotation(channelId: number): Q<{ autoAssign: boolean; lastAssigned: number | null }> {
    const r = yield* get<{ autoAssign: unknown; lastAssigned: number | null }>(ROTATION, [channelId])
    return { autoAssign: Boolean(r?.autoAssign), lastAssigned: r?.lastAssigned ?? null }
  }

  *setLastAssigned(channelId: number, userId: number): Q<void> {
    yield* run(SET_ROTATION, [userId, channelId])
  }

  *conversation(workspaceId: number, id: number): Q<ConversationRow | undefined> {
    const r = yield* get(CONVERSATION, [workspaceId, id])
    return r === undefined ? undefined : codec.decodeAny(r)
  }

  /** Unassigned open conversations of this person's auto-assign channels, the longest waiting first. */
  *waitingFor(workspaceId: number, userId: number, limit: number): Q<ConversationRow[]> {
    const rows = yield* all(WAITING, [userId, true, workspaceId, limit])
    return rows.map((r) => codec.decodeAny(r))
  }

  /** A channel's unassigned open conversations, the longest waiting first. */
  *poolOf(channelId: number, limit: number): Q<ConversationRow[]> {
    const rows = yield* all(POOL, [channelId, limit])
    return rows.map((r) => codec.decodeAny(r))
  }

  /** The conversations this person holds that are not resolved (open, pending, snoozed: issue 14). */
  *openOf(workspaceId: number, userId: number): Q<ConversationRow[]> {
    const rows = yield* all(OPEN_OF, [workspaceId, userId])
    return rows.map((r) => codec.decodeAny(r))
  }

  /** The channels with automatic assignment on that this person is a member of. */
  *autoChannelsOf(userId: number): Q<number[]> {
    const rows = yield* all<{ channelId: number }>(AUTO_CHANNELS_OF, [userId, true])
    return rows.map((r) => r.channelId)
  }
}
