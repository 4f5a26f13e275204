// The people of a workspace (issue 13): the team list, role, channels, deactivation,
// availability and each person's own name and password.
//
// Rules kept here, whatever the route: the last active admin can be neither demoted nor
// deactivated; deactivating ends every session of the person in the same transaction
// (their streams are closed by the caller through the hub, at once); each change is
// published as `user.updated`.
import type { EventBatch, EventLog } from '../../events/event-log.ts'
import type { TeamUserDTO } from '../../events/types.ts'
import { Errors } from '../../errors.ts'
import type { ChannelMembers } from '../channels/members.ts'
import type { ConversationsRepo } from '../../store/conversations.ts'
import { ChannelsRepo } from '../../store/channels.ts'
import { sqliteConn } from '../../store/conn.ts'
import { secretBoxOf } from '../../store/sealed-columns.ts'
import { runSync, type Q } from '../../store/unit.ts'
import type { Db } from '../../store/db.ts'
import { PasswordResetsRepo } from '../../store/password-resets.ts'
import { SessionsRepo } from '../../store/sessions.ts'
import { UsersRepo, type UserRow } from '../../store/users.ts'
import type { AuthService } from './auth.ts'
import { checkPassword } from './password-reset.ts'

export type Role = 'admin' | 'agent'
export type Availability = TeamUserDTO['availability']

export interface UserPatch {
  role?: Role
  channelIds?: number[]
  disabled?: boolean
}

/** What a deactivation hook is told (after the commit). */
export interface Deactivated {
  workspaceId: number
  userId: number
  /** The admin who did it. */
  actorId: number
}

/**
 * What else happens when people change, registered in app.ts beside the other side
 * effects. `onDeactivated`: the person's open assigned conversations go back to the pool
 * (the assignment work registers it); runs after the commit that deactivated them.
 */
export class TeamHooks {
  private readonly deactivated: Array<(e: Deactivated) => void> = []
  private readonly accessChanged: Array<(e: { workspaceId: number; userId: number }) => void> = []
  private readonly available: Array<(e: { workspaceId: number; userId: number }) => void> = []

  /** Someone's role or channels changed (after the commit): their open streams must follow. */
  onAccessChanged(fn: (e: { workspaceId: number; userId: number }) => void): this {
    this.accessChanged.push(fn)
    return this
  }

  runAccessChanged(e: { workspaceId: number; userId: number }): void {
    for (const fn of this.accessChanged) fn(e)
  }

  /** Someone set themselves online (after the commit). */
  onAvailable(fn: (e: { workspaceId: number; userId: number }) => void): this {
    this.available.push(fn)
    return this
  }

  runAvailable(e: { workspaceId: number; userId: number }): void {
    for (const fn of this.available) fn(e)
  }

  onDeactivated(fn: (e: Deactivated) => void): this {
    this.deactivated.push(fn)
    return this
  }

  runDeactivated(e: Deactivated): void {
    for (const fn of this.deactivated) fn(e)
  }
}

/** The repositories the app already holds (app.ts): the same objects, not copies of them. */
export interface TeamRepos {
  /** Who works which channel: the app's `services.members`, which access checks read too. */
  members: ChannelMembers
  /** The inbox store's conversations: a person given a channel starts reading it from now. */
  conversations: Pick<ConversationsRepo, 'startReadsAt'>
}

export class Team {
  readonly hooks = new TeamHooks()
  private readonly users: UsersRepo
  private readonly members: ChannelMembers
  private readonly conversations: TeamRepos['conversations']
  private readonly channels: ChannelsRepo
  // Channels are units of work (issue 17); this code is still synchronous on SQLite.
  private readonly runNow: <T>(unit: Q<T>) => T
  private readonly sessions: SessionsRepo
  private readonly passwords: PasswordResetsRepo

  constructor(
    db: Db,
    private readonly events: EventLog,
    private readonly auth: AuthService,
    private readonly now: () => number,
    repos: TeamRepos,
  ) {
    this.users = new UsersRepo(db)
    this.members = repos.members
    this.conversations = repos.conversations
    this.channels = new ChannelsRepo(secretBoxOf(db))
    this.runNow = (unit) => runSync(unit, sqliteConn(db.$client))
    this.sessions = new SessionsRepo(db)
    this.passwords = new PasswordResetsRepo(db)
  }

  dto(u: UserRow, channelIds = this.members.channelIdsOf(u.id)): TeamUserDTO {
    return {
      id: u.id,
      email: u.email,
      name: u.name,
      role: u.role,
      channelIds,
      availability: u.availability,
      disabled: u.disabledAt !== null,
    }
  }

  list(workspaceId: number): TeamUserDTO[] {
    const byUser = this.members.byUser()
    return this.users.ofWorkspace(workspaceId).map((u) => this.dto(u, byUser.get(u.id) ?? []))
  }

  /** The person, when they belong to this workspace. */
  member(workspaceId: number, userId: number): UserRow {
    const u = this.users.byId(userId)
    if (!u || u.workspaceId !== workspaceId) throw Errors.notFound('User')
    return u
  }

  /** Throws unless every id is a channel of the workspace. */
  checkChannels(workspaceId: number, channelIds: readonly number[]): void {
    const known = new Set(this.runNow(this.channels.list(workspaceId)).map((c) => c.id))
    if (channelIds.some((id) => !known.has(id))) throw Errors.unknownChannel()
  }

  /** Sets a user's channels (their memberships are replaced), inside the caller's transaction. */
  setChannels(userId: number, channelIds: readonly number[]): void {
    this.members.set(userId, channelIds)
    // A new member starts with the channel read: its history is not their unread.
    this.runNow(this.conversations.startReadsAt(userId, channelIds, this.now()))
  }

  /**
   * An admin changes someone's role, channels or state. Deactivation ends every session
   * of the person (the caller closes their streams) and runs the `onDeactivated` hooks.
   */
  update(workspaceId: number, actorId: number, userId: number, patch: UserPatch): { user: TeamUserDTO; deactivated: boolean } {
    if (patch.channelIds) this.checkChannels(workspaceId, patch.channelIds)
    const result = this.events.transact((batch) => {
      const before = this.member(workspaceId, userId)
      const activeAdmin = before.role === 'admin' && before.disabledAt === null
      const losesAdmin = (patch.role === 'agent' || patch.disabled === true) && activeAdmin
      if (losesAdmin && this.users.activeAdmins(workspaceId) <= 1) throw Errors.lastAdmin()
      const deactivating = patch.disabled === true && before.disabledAt === null
      const set: Partial<Pick<UserRow, 'role' | 'disabledAt'>> = {}
      if (patch.role !== undefined) set.role = patch.role
      if (patch.disabled !== undefined && patch.disabled !== (before.disabledAt !== null)) {
        set.disabledAt = patch.disabled ? this.now() : null
      }
      const after = Object.keys(set).length > 0 ? this.users.update(userId, set)! : before
      if (patch.channelIds) this.setChannels(userId, patch.channelIds)
      if (deactivating) this.sessions.revokeAllOfUser(userId, this.now())
      const user = this.dto(after)
      this.emit(batch, workspaceId, user)
      return { user, deactivated: deactivating }
    })
    if (result.deactivated) this.hooks.runDeactivated({ workspaceId, userId, actorId })
    else if (patch.role !== undefined || patch.channelIds !== undefined) this.hooks.runAccessChanged({ workspaceId, userId })
    return result
  }

  /**
   * An admin sets a channel's members (channel settings): each person's channels change
   * to match, with `user.updated` for each, and their open streams follow (after the
   * commit). Unknown or other workspaces' people are refused.
   */
  setChannelMembers(workspaceId: number, channelId: number, userIds: readonly number[]): number[] {
    const people = this.users.ofWorkspace(workspaceId)
    const known = new Set(people.map((u) => u.id))
    if (userIds.some((id) => !known.has(id))) throw Errors.notFound('User')
    this.checkChannels(workspaceId, [channelId])
    const wanted = new Set(userIds)
    const changed: number[] = []
    this.events.transact((batch) => {
      const byUser = this.members.byUser()
      for (const u of people) {
        const current = byUser.get(u.id) ?? []
        const has = current.includes(channelId)
        if (has === wanted.has(u.id)) continue
        const next = has ? current.filter((c) => c !== channelId) : [...current, channelId].sort((a, b) => a - b)
        this.setChannels(u.id, next)
        this.emit(batch, workspaceId, this.dto(u, next))
        changed.push(u.id)
      }
    })
    for (const userId of changed) this.hooks.runAccessChanged({ workspaceId, userId })
    return [...wanted].sort((a, b) => a - b)
  }

  /** The person's own availability (top bar). */
  setAvailability(workspaceId: number, userId: number, availability: Availability): TeamUserDTO {
    const user = this.events.transact((batch) => {
      this.member(workspaceId, userId)
      const user = this.dto(this.users.update(userId, { availability })!)
      this.emit(batch, workspaceId, user)
      return user
    })
    if (availability === 'online') this.hooks.runAvailable({ workspaceId, userId })
    return user
  }

  /**
   * The person's own name and password. A new password needs the current one; it signs
   * out every other session of theirs (not `sessionId`, the one asking). Returns how
   * many sessions ended.
   */
  async updateProfile(
    workspaceId: number,
    userId: number,
    sessionId: string,
    patch: { name?: string; password?: string; currentPassword?: string },
  ): Promise<{ user: UserRow; sessionsEnded: number }> {
    const me = this.member(workspaceId, userId)
    let passwordHash: string | undefined
    if (patch.password !== undefined) {
      if (!patch.currentPassword) throw Errors.currentPasswordRequired()
      checkPassword(patch.password)
      if (!(await this.auth.verifyPassword(me, patch.currentPassword))) throw Errors.currentPasswordWrong()
      passwordHash = await this.auth.hashPassword(patch.password)
    }
    const name = patch.name?.trim()
    if (patch.name !== undefined && !name) throw Errors.nameInvalid()
    return this.events.transact((batch) => {
      let sessionsEnded = 0
      if (passwordHash !== undefined) sessionsEnded = this.passwords.setPassword(userId, passwordHash, this.now(), sessionId).sessionsEnded
      const user = name !== undefined && name !== me.name ? this.users.update(userId, { name })! : this.users.byId(userId)!
      if (name !== undefined && name !== me.name) this.emit(batch, workspaceId, this.dto(user))
      return { user, sessionsEnded }
    })
  }

  emit(batch: EventBatch, workspaceId: number, user: TeamUserDTO): void {
    batch.emit(workspaceId, 'user.updated', { user })
  }
}
