// The reads automatic assignment makes (issue 13): who may be given a conversation, how
// many open conversations each person holds, the pool of unassigned ones waiting, and
// the channel's round-robin position. Writes to conversations go through the inbox
// writer (InboxWriter.assign); this repository writes only the channel's rotation.
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'
import { TableCodec } from './prepared.ts'
import type { ConversationRow } from './rows.ts'
import { conversations } from './schema.ts'

export interface Person {
  id: number
  name: string
  role: 'admin' | 'agent'
  availability: 'online' | 'busy' | 'away'
  disabled: boolean
}

export class AssignmentRepo {
  private readonly codec = new TableCodec<ConversationRow>(conversations)
  private readonly personStmt: Database.Statement
  private readonly isMemberStmt: Database.Statement
  private readonly candidatesStmt: Database.Statement
  private readonly loadsStmt: Database.Statement
  private readonly loadOfStmt: Database.Statement
  private readonly capStmt: Database.Statement
  private readonly rotationStmt: Database.Statement
  private readonly setRotationStmt: Database.Statement
  private readonly conversationStmt: Database.Statement
  private readonly waitingStmt: Database.Statement
  private readonly openOfStmt: Database.Statement
  private readonly poolStmt: Database.Statement
  private readonly autoChannelsOfStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    const conv = this.codec.select('v')
    this.personStmt = c.prepare(
      'SELECT id, name, role, availability, disabled_at IS NOT NULL AS disabled FROM users WHERE workspace_id = ? AND id = ?',
    )
    this.isMemberStmt = c.prepare('SELECT 1 FROM channel_members WHERE channel_id = ? AND user_id = ?')
    // Active members of a channel, ascending: the round robin's order.
    this.candidatesStmt = c.prepare(
      `SELECT u.id, u.name, u.role, u.availability, 0 AS disabled
         FROM channel_members m JOIN users u ON u.id = m.user_id
        WHERE m.channel_id = ? AND u.disabled_at IS NULL ORDER BY u.id`,
    )
    // Open conversations per assignee (the ws/status index narrows it to open ones).
    this.loadsStmt = c
      .prepare(
        `SELECT assignee_id, COUNT(*) FROM conversations
          WHERE workspace_id = ? AND status = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id`,
      )
      .raw()
    this.loadOfStmt = c.prepare(`SELECT COUNT(*) FROM conversations WHERE workspace_id = ? AND status = 'open' AND assignee_id = ?`).pluck()
    this.capStmt = c.prepare('SELECT assignment_cap FROM workspaces WHERE id = ?').pluck()
    this.rotationStmt = c.prepare('SELECT auto_assign AS autoAssign, last_assigned_user_id AS lastAssigned FROM channels WHERE id = ?')
    this.setRotationStmt = c.prepare('UPDATE channels SET last_assigned_user_id = ? WHERE id = ?')
    this.conversationStmt = c.prepare(`SELECT ${conv} FROM conversations v WHERE v.workspace_id = ? AND v.id = ?`)
    // The pool, oldest wait first, in the channels where this person takes automatic work.
    this.waitingStmt = c.prepare(
      `SELECT ${conv} FROM conversations v
         JOIN channel_members m ON m.channel_id = v.channel_id AND m.user_id = ?
         JOIN channels ch ON ch.id = v.channel_id AND ch.auto_assign = 1
        WHERE v.workspace_id = ? AND v.status = 'open' AND v.assignee_id IS NULL
        ORDER BY COALESCE(v.waiting_since, v.last_inbound_at, v.created_at), v.id LIMIT ?`,
    )
    this.poolStmt = c.prepare(
      `SELECT ${conv} FROM conversations v WHERE v.channel_id = ? AND v.status = 'open' AND v.assignee_id IS NULL
        ORDER BY COALESCE(v.waiting_since, v.last_inbound_at, v.created_at), v.id LIMIT ?`,
    )
    this.openOfStmt = c.prepare(
      `SELECT ${conv} FROM conversations v
        WHERE v.workspace_id = ? AND v.status IN ('open', 'pending', 'snoozed') AND v.assignee_id = ? ORDER BY v.id`,
    )
    this.autoChannelsOfStmt = c
      .prepare(
        `SELECT m.channel_id FROM channel_members m JOIN channels ch ON ch.id = m.channel_id
          WHERE m.user_id = ? AND ch.auto_assign = 1 ORDER BY m.channel_id`,
      )
      .pluck()
  }

  person(workspaceId: number, userId: number): Person | undefined {
    const r = this.personStmt.get(workspaceId, userId) as (Omit<Person, 'disabled'> & { disabled: number }) | undefined
    return r && { ...r, disabled: r.disabled === 1 }
  }

  isMember(channelId: number, userId: number): boolean {
    return this.isMemberStmt.get(channelId, userId) !== undefined
  }

  /** The channel's active members, ascending by id. */
  activeMembers(channelId: number): Person[] {
    return (this.candidatesStmt.all(channelId) as Person[]).map((p) => ({ ...p, disabled: false }))
  }

  /** Open conversations held by each person of the workspace (absent: none). */
  openLoads(workspaceId: number): Map<number, number> {
    return new Map(this.loadsStmt.all(workspaceId) as [number, number][])
  }

  openLoadOf(workspaceId: number, userId: number): number {
    return this.loadOfStmt.get(workspaceId, userId) as number
  }

  cap(workspaceId: number): number {
    return (this.capStmt.get(workspaceId) as number | undefined) ?? 0
  }

  rotation(channelId: number): { autoAssign: boolean; lastAssigned: number | null } {
    const r = this.rotationStmt.get(channelId) as { autoAssign: number; lastAssigned: number | null } | undefined
    return { autoAssign: r?.autoAssign === 1, lastAssigned: r?.lastAssigned ?? null }
  }

  setLastAssigned(channelId: number, userId: number): void {
    this.setRotationStmt.run(userId, channelId)
  }

  conversation(workspaceId: number, id: number): ConversationRow | undefined {
    const r = this.conversationStmt.get(workspaceId, id)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  /** Unassigned open conversations of this person's auto-assign channels, the longest waiting first. */
  waitingFor(workspaceId: number, userId: number, limit: number): ConversationRow[] {
    return this.waitingStmt.all(userId, workspaceId, limit).map((r) => this.codec.decode(r))
  }

  /** A channel's unassigned open conversations, the longest waiting first. */
  poolOf(channelId: number, limit: number): ConversationRow[] {
    return this.poolStmt.all(channelId, limit).map((r) => this.codec.decode(r))
  }

  /** The conversations this person holds that are not resolved (open, pending, snoozed: issue 14). */
  openOf(workspaceId: number, userId: number): ConversationRow[] {
    return this.openOfStmt.all(workspaceId, userId).map((r) => this.codec.decode(r))
  }

  /** The channels with automatic assignment on that this person is a member of. */
  autoChannelsOf(userId: number): number[] {
    return this.autoChannelsOfStmt.all(userId) as number[]
  }
}
