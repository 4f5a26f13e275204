// Users, passwords and sessions. argon2id at OWASP's parameters (m=19 MiB, t=2, p=1),
// hashed off the event loop by @node-rs/argon2. Written as units of work (issue 17): the
// `…Unit` methods run on SQLite or PostgreSQL, inside a caller's unit; the plain (async) ones
// run them through the service's UnitRunner, so they work on either database too.
import { randomBytes } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'
import type { UnitLog } from '../../events/event-log.ts'
import type { UnitRunner } from '../../store/runner.ts'
import { SessionsRepo } from '../../store/sessions.ts'
import type { Q } from '../../store/unit.ts'
import { UsersRepo, WorkspacesRepo, type UserRow } from '../../store/users.ts'

const ARGON2 = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19456, timeCost: 2, parallelism: 1 }

export type { UserRow }
export interface PublicUser {
  id: number
  email: string
  name: string
  role: 'admin' | 'agent'
  workspaceId: number
  /** What the person set in the top bar (issue 13). */
  availability: 'online' | 'busy' | 'away'
}

export interface Session {
  sessionId: string
  userId: number
  workspaceId: number
  role: 'admin' | 'agent'
  /** Unix ms */
  expiresAt: number
  /** Set when the caller is a personal API token (issue 16): its id and scope. */
  token?: { id: number; scope: 'read' | 'write' }
}

export const publicUser = (u: UserRow): PublicUser => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  workspaceId: u.workspaceId,
  availability: u.availability,
})

export class AuthService {
  // Verifying against a real hash for unknown emails makes both paths take the same time.
  private dummyHash: Promise<string> | undefined
  private readonly users = new UsersRepo()
  private readonly workspaces = new WorkspacesRepo()
  private readonly sessions = new SessionsRepo()
  /** Sessions that are not rows of `sessions` (issue 16: API tokens, ids `token:<id>`), by id prefix. */
  private readonly otherSessions = new Map<string, (sessionId: string) => Q<Session | undefined>>()
  /** Where the asynchronous methods run their units (either database). */
  private readonly units: UnitRunner

  /** `unitLog` is the app's (services.unitLog); only the runner is read here for now. */
  constructor(
    io: { units: UnitRunner; unitLog?: UnitLog },
    private readonly now: () => number,
  ) {
    this.units = io.units
  }

  hashPassword(password: string): Promise<string> {
    return hash(password, ARGON2)
  }

  userCount(): Promise<number> {
    return this.units.read(() => this.userCountUnit())
  }

  userCountUnit(): Q<number> {
    return this.users.count()
  }

  /** The first workspace (created when there is none, so this writes: a transaction). */
  defaultWorkspace(): Promise<number> {
    return this.units.transact(() => this.defaultWorkspaceUnit())
  }

  defaultWorkspaceUnit(): Q<number> {
    return this.workspaces.firstOrCreate('My business')
  }

  async createUser(input: {
    workspaceId: number
    email: string
    name: string
    password: string
    role: 'admin' | 'agent'
  }): Promise<UserRow> {
    const passwordHash = await this.hashPassword(input.password)
    return this.units.transact(() => this.insertUserUnit({ ...input, passwordHash }))
  }

  /** The row for a new user whose password is already hashed (hashing is async: before the unit). */
  insertUserUnit(input: { workspaceId: number; email: string; name: string; passwordHash: string; role: 'admin' | 'agent' }): Q<UserRow> {
    return this.users.insert({
      workspaceId: input.workspaceId,
      email: input.email.trim().toLowerCase(),
      name: input.name,
      passwordHash: input.passwordHash,
      role: input.role,
    })
  }

  /** The user for these credentials, or undefined; same work whether the email exists or not. */
  async checkCredentials(email: string, password: string): Promise<UserRow | undefined> {
    const user = await this.units.read(() => this.activeUserUnit(email))
    this.dummyHash ??= this.hashPassword(randomBytes(16).toString('hex'))
    const stored = user?.passwordHash ?? (await this.dummyHash)
    const ok = await verify(stored, password).catch(() => false)
    return ok && user ? user : undefined
  }

  /** The user who may sign in with this email (any spelling of its case and spaces). */
  activeUserUnit(email: string): Q<UserRow | undefined> {
    return this.users.activeByEmail(email.trim().toLowerCase())
  }

  /** Whether this is the user's password (the current one, for a self-service change). */
  async verifyPassword(user: UserRow, password: string): Promise<boolean> {
    return verify(user.passwordHash, password).catch(() => false)
  }

  createSession(user: UserRow, ttlSeconds: number): Promise<Session> {
    return this.units.transact(() => this.createSessionUnit(user, ttlSeconds))
  }

  *createSessionUnit(user: UserRow, ttlSeconds: number): Q<Session> {
    const sessionId = randomBytes(18).toString('base64url')
    const expiresAt = this.now() + ttlSeconds * 1000
    yield* this.sessions.insert({ id: sessionId, userId: user.id, workspaceId: user.workspaceId, expiresAt })
    return { sessionId, userId: user.id, workspaceId: user.workspaceId, role: user.role, expiresAt }
  }

  /** Resolves session ids starting with `prefix` through the unit `fn` gives (issue 16: API tokens). */
  resolveSessionsWith(prefix: string, fn: (sessionId: string) => Q<Session | undefined>): void {
    this.otherSessions.set(prefix, fn)
  }

  /** The live session for this id, or undefined if revoked, expired or the user is disabled. */
  session(sessionId: string): Promise<Session | undefined> {
    return this.units.read(() => this.sessionUnit(sessionId))
  }

  /** The same as a unit: every request reads its session in the database, whichever process serves it. */
  *sessionUnit(sessionId: string): Q<Session | undefined> {
    // Other kinds of session (API tokens) are read by their owner's unit, in this same read.
    for (const [prefix, fn] of this.otherSessions) if (sessionId.startsWith(prefix)) return yield* fn(sessionId)
    const row = yield* this.sessions.unrevoked(sessionId)
    if (!row || row.expiresAt <= this.now()) return undefined
    return { sessionId, ...row }
  }

  revokeSession(sessionId: string): Promise<void> {
    return this.units.transact(() => this.revokeSessionUnit(sessionId))
  }

  revokeSessionUnit(sessionId: string): Q<void> {
    return this.sessions.revoke(sessionId, this.now())
  }

  user(id: number): Promise<UserRow | undefined> {
    return this.units.read(() => this.userUnit(id))
  }

  userUnit(id: number): Q<UserRow | undefined> {
    return this.users.byId(id)
  }
}
