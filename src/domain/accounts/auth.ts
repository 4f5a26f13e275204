// Users, passwords and sessions. argon2id at OWASP's parameters (m=19 MiB, t=2, p=1),
// hashed off the event loop by @node-rs/argon2. Written as units of work (issue 17): the
// `…Unit` methods run on SQLite or PostgreSQL; the plain ones stay for synchronous callers.
import { randomBytes } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'
import { sqliteConn } from '../../store/conn.ts'
import type { Db } from '../../store/db.ts'
import { SqliteRunner, type UnitRunner } from '../../store/runner.ts'
import { SessionsRepo } from '../../store/sessions.ts'
import { type Q, runSync } from '../../store/unit.ts'
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

/** The synchronous door of a service built without SQLite: a named error, not a wrong database. */
export function noSyncCalls(): never {
  throw new Error('a synchronous accounts call on PostgreSQL: run the unit of work (…Unit) with a runner instead')
}

export class AuthService {
  // Verifying against a real hash for unknown emails makes both paths take the same time.
  private dummyHash: Promise<string> | undefined
  private readonly users = new UsersRepo()
  private readonly workspaces = new WorkspacesRepo()
  private readonly sessions = new SessionsRepo()
  /** Sessions that are not rows of `sessions` (issue 16: API tokens, ids `token:<id>`), by id prefix. */
  private readonly otherSessions = new Map<string, (sessionId: string) => Session | undefined>()
  /** For the callers still synchronous (SQLite): a unit at once, inside any open transaction. */
  private readonly runNow: <T>(unit: Q<T>) => T
  /** Where the asynchronous methods (createUser, checkCredentials) run their units. */
  private readonly units: UnitRunner

  /**
   * On SQLite, the database (`units` defaults to a runner on it). On PostgreSQL, `{units}`:
   * only the units and the asynchronous methods work there (runNow is SQLite's).
   */
  constructor(
    db: Db | { units: UnitRunner },
    private readonly now: () => number,
    units?: UnitRunner,
  ) {
    if ('units' in db) {
      this.runNow = noSyncCalls
      this.units = db.units
    } else {
      const conn = sqliteConn(db.$client)
      this.runNow = (unit) => runSync(unit, conn)
      this.units = units ?? new SqliteRunner(db.$client)
    }
  }

  hashPassword(password: string): Promise<string> {
    return hash(password, ARGON2)
  }

  userCount(): number {
    return this.runNow(this.userCountUnit())
  }

  userCountUnit(): Q<number> {
    return this.users.count()
  }

  defaultWorkspace(): number {
    return this.runNow(this.defaultWorkspaceUnit())
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

  createSession(user: UserRow, ttlSeconds: number): Session {
    return this.runNow(this.createSessionUnit(user, ttlSeconds))
  }

  *createSessionUnit(user: UserRow, ttlSeconds: number): Q<Session> {
    const sessionId = randomBytes(18).toString('base64url')
    const expiresAt = this.now() + ttlSeconds * 1000
    yield* this.sessions.insert({ id: sessionId, userId: user.id, workspaceId: user.workspaceId, expiresAt })
    return { sessionId, userId: user.id, workspaceId: user.workspaceId, role: user.role, expiresAt }
  }

  /** Resolves session ids starting with `prefix` through `fn` (issue 16: API tokens). */
  resolveSessionsWith(prefix: string, fn: (sessionId: string) => Session | undefined): void {
    this.otherSessions.set(prefix, fn)
  }

  /** The live session for this id, or undefined if revoked, expired or the user is disabled. */
  session(sessionId: string): Session | undefined {
    return this.runNow(this.sessionUnit(sessionId))
  }

  /** The same as a unit: every request reads its session in the database, whichever process serves it. */
  *sessionUnit(sessionId: string): Q<Session | undefined> {
    // Other kinds of session (API tokens) are still resolved synchronously (SQLite) by their owner.
    for (const [prefix, fn] of this.otherSessions) if (sessionId.startsWith(prefix)) return fn(sessionId)
    const row = yield* this.sessions.unrevoked(sessionId)
    if (!row || row.expiresAt <= this.now()) return undefined
    return { sessionId, ...row }
  }

  revokeSession(sessionId: string): void {
    this.runNow(this.revokeSessionUnit(sessionId))
  }

  revokeSessionUnit(sessionId: string): Q<void> {
    return this.sessions.revoke(sessionId, this.now())
  }

  user(id: number): UserRow | undefined {
    return this.runNow(this.userUnit(id))
  }

  userUnit(id: number): Q<UserRow | undefined> {
    return this.users.byId(id)
  }
}
