// The people of a workspace (issue 13): the team list, role, channels, deactivation,
// availability and each person's own name and password.
//
// Rules kept here, whatever the route: the last active admin can be neither demoted nor
// deactivated; deactivating ends every session of the person in the same transaction
// (their streams are closed by the caller through the hub, at once); each change is
// published as `user.updated`.
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { TeamUserDTO } from '../../events/types.ts'
import { Errors } from '../../errors.ts'
import { PasswordResetsRepo } from '../../store/password-resets.ts'
import { SessionsRepo } from '../../store/sessions.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
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

/**
 * What the team needs of other features' repositories (channel members, conversations,
 * channels), as units of work. wiring.ts adapts the app's own objects (the same ones, not
 * copies: `services.members` is what access checks read too).
 */
export interface TeamRepos {
  members: {
    channelIdsOf(userId: number): Q<number[]>
    byUser(): Q<Map<number, number[]>>
    /** Replaces the user's memberships. */
    set(userId: number, channelIds: readonly number[]): Q<void>
  }
  /** A person given a channel starts reading it from now. */
  conversations: { startReadsAt(userId: number, channelIds: readonly number[], now: number): Q<void> }
  /** The ids of the workspace's channels. */
  channelIds(workspaceId: number): Q<number[]>
}

export class Team {
  readonly hooks = new TeamHooks()
  private readonly users = new UsersRepo()
  private readonly passwords = new PasswordResetsRepo()
  private readonly sessions = new SessionsRepo()
  constructor(
    /** Writes with their events (either database). */
    private readonly log: UnitLog,
    private readonly auth: AuthService,
    private readonly now: () => number,
    private readonly repos: TeamRepos,
    private readonly units: UnitRunner,
  ) {}

  /** The person as the team list shows them. */
  dto(u: UserRow, channelIds: number[]): TeamUserDTO {
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

  /** The person with their channels read now. */
  *dtoUnit(u: UserRow): Q<TeamUserDTO> {
    return this.dto(u, yield* this.repos.members.channelIdsOf(u.id))
  }

  *listUnit(workspaceId: number): Q<TeamUserDTO[]> {
    const byUser = yield* this.repos.members.byUser()
    return (yield* this.users.ofWorkspace(workspaceId)).map((u) => this.dto(u, byUser.get(u.id) ?? []))
  }

  /** The person, when they belong to this workspace. */
  *memberUnit(workspaceId: number, userId: number): Q<UserRow> {
    const u = yield* this.users.byId(userId)
    if (!u || u.workspaceId !== workspaceId) throw Errors.notFound('User')
    return u
  }

  /** Throws unless every id is a channel of the workspace. */
  *checkChannelsUnit(workspaceId: number, channelIds: readonly number[]): Q<void> {
    const known = new Set(yield* this.repos.channelIds(workspaceId))
    if (channelIds.some((id) => !known.has(id))) throw Errors.unknownChannel()
  }

  /** Sets a user's channels (their memberships are replaced), inside the caller's transaction. */
  *setChannelsUnit(userId: number, channelIds: readonly number[]): Q<void> {
    yield* this.repos.members.set(userId, channelIds)
    // A new member starts with the channel read: its history is not their unread.
    yield* this.repos.conversations.startReadsAt(userId, channelIds, this.now())
  }

  /**
   * An admin changes someone's role, channels or state. Deactivation ends every session
   * of the person (the caller closes their streams) and runs the `onDeactivated` hooks.
   */
  /** The change in one transaction; run `afterUpdate` once it has committed. */
  *updateUnit(batch: Emitter, workspaceId: number, userId: number, patch: UserPatch): Q<{ user: TeamUserDTO; deactivated: boolean }> {
    if (patch.channelIds) yield* this.checkChannelsUnit(workspaceId, patch.channelIds)
    const before = yield* this.memberUnit(workspaceId, userId)
    const activeAdmin = before.role === 'admin' && before.disabledAt === null
    const losesAdmin = (patch.role === 'agent' || patch.disabled === true) && activeAdmin
    if (losesAdmin) {
      yield* this.users.lockActiveAdmins(workspaceId)
      if ((yield* this.users.activeAdmins(workspaceId)) <= 1) throw Errors.lastAdmin()
    }
    const deactivating = patch.disabled === true && before.disabledAt === null
    const set: Partial<Pick<UserRow, 'role' | 'disabledAt'>> = {}
    if (patch.role !== undefined) set.role = patch.role
    if (patch.disabled !== undefined && patch.disabled !== (before.disabledAt !== null)) {
      set.disabledAt = patch.disabled ? this.now() : null
    }
    const after = Object.keys(set).length > 0 ? (yield* this.users.update(userId, set))! : before
    if (patch.channelIds) yield* this.setChannelsUnit(userId, patch.channelIds)
    if (deactivating) yield* this.sessions.revokeAllOfUser(userId, this.now())
    const user = yield* this.dtoUnit(after)
    this.emit(batch, workspaceId, user)
    return { user, deactivated: deactivating }
  }

  /** The hooks of a committed `updateUnit`. */
  afterUpdate(workspaceId: number, actorId: number, userId: number, patch: UserPatch, result: { deactivated: boolean }): void {
    if (result.deactivated) this.hooks.runDeactivated({ workspaceId, userId, actorId })
    else if (patch.role !== undefined || patch.channelIds !== undefined) this.hooks.runAccessChanged({ workspaceId, userId })
  }

  /**
   * An admin sets a channel's members (channel settings): each person's channels change
   * to match, with `user.updated` for each, and their open streams follow (after the
   * commit). Unknown or other workspaces' people are refused.
   */
  async setChannelMembers(workspaceId: number, channelId: number, userIds: readonly number[]): Promise<number[]> {
    const { members, changed } = await this.log.transact((batch) => this.setChannelMembersUnit(batch, workspaceId, channelId, userIds))
    this.afterAccessChanged(workspaceId, changed)
    return members
  }

  /** The change in one transaction: the members now, and whose access changed (for `afterAccessChanged`). */
  *setChannelMembersUnit(
    batch: Emitter,
    workspaceId: number,
    channelId: number,
    userIds: readonly number[],
  ): Q<{ members: number[]; changed: number[] }> {
    const people = yield* this.users.ofWorkspace(workspaceId)
    const known = new Set(people.map((u) => u.id))
    if (userIds.some((id) => !known.has(id))) throw Errors.notFound('User')
    yield* this.checkChannelsUnit(workspaceId, [channelId])
    const wanted = new Set(userIds)
    const changed: number[] = []
    const byUser = yield* this.repos.members.byUser()
    for (const u of people) {
      const current = byUser.get(u.id) ?? []
      const has = current.includes(channelId)
      if (has === wanted.has(u.id)) continue
      const next = has ? current.filter((c) => c !== channelId) : [...current, channelId].sort((a, b) => a - b)
      yield* this.setChannelsUnit(u.id, next)
      this.emit(batch, workspaceId, this.dto(u, next))
      changed.push(u.id)
    }
    return { members: [...wanted].sort((a, b) => a - b), changed }
  }

  afterAccessChanged(workspaceId: number, userIds: readonly number[]): void {
    for (const userId of userIds) this.hooks.runAccessChanged({ workspaceId, userId })
  }

  /** The person's own availability (top bar): run it with the unit log, then `afterAvailability`. */
  *setAvailabilityUnit(batch: Emitter, workspaceId: number, userId: number, availability: Availability): Q<TeamUserDTO> {
    yield* this.memberUnit(workspaceId, userId)
    const user = yield* this.dtoUnit((yield* this.users.update(userId, { availability }))!)
    this.emit(batch, workspaceId, user)
    return user
  }

  afterAvailability(workspaceId: number, userId: number, availability: Availability): void {
    if (availability === 'online') this.hooks.runAvailable({ workspaceId, userId })
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
    io: { units: UnitRunner; log: UnitLog } = { units: this.units, log: this.log },
  ): Promise<{ user: UserRow; sessionsEnded: number }> {
    const me = await io.units.read(() => this.memberUnit(workspaceId, userId))
    let passwordHash: string | undefined
    if (patch.password !== undefined) {
      if (!patch.currentPassword) throw Errors.currentPasswordRequired()
      checkPassword(patch.password)
      if (!(await this.auth.verifyPassword(me, patch.currentPassword))) throw Errors.currentPasswordWrong()
      passwordHash = await this.auth.hashPassword(patch.password)
    }
    const name = patch.name?.trim()
    if (patch.name !== undefined && !name) throw Errors.nameInvalid()
    return io.log.transact((batch) => this.profileUnit(batch, workspaceId, userId, sessionId, me, name, passwordHash))
  }

  private *profileUnit(
    batch: Emitter,
    workspaceId: number,
    userId: number,
    sessionId: string,
    me: UserRow,
    name: string | undefined,
    passwordHash: string | undefined,
  ): Q<{ user: UserRow; sessionsEnded: number }> {
    let sessionsEnded = 0
    if (passwordHash !== undefined)
      sessionsEnded = (yield* this.passwords.setPassword(userId, passwordHash, this.now(), sessionId)).sessionsEnded
    const renamed = name !== undefined && name !== me.name
    const user = renamed ? (yield* this.users.update(userId, { name }))! : (yield* this.users.byId(userId))!
    if (renamed) this.emit(batch, workspaceId, yield* this.dtoUnit(user))
    return { user, sessionsEnded }
  }

  emit(batch: Emitter, workspaceId: number, user: TeamUserDTO): void {
    batch.emit(workspaceId, 'user.updated', { user })
  }
}
