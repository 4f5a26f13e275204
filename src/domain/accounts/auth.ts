// Users, passwords and sessions. argon2id at OWASP's parameters (m=19 MiB, t=2, p=1),
// hashed off the event loop by @node-rs/argon2.
import { randomBytes } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'
import type { Db } from '../../store/db.ts'
import { SessionsRepo } from '../../store/sessions.ts'
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
  private readonly users: UsersRepo
  private readonly workspaces: WorkspacesRepo
  private readonly sessions: SessionsRepo
  /** Sessions that are not rows of `sessions` (issue 16: API tokens, ids `token:<id>`), by id prefix. */
  private readonly otherSessions = new Map<string, (sessionId: string) => Session | undefined>()

  constructor(
    db: Db,
    private readonly now: () => number,
  ) {
    this.users = new UsersRepo(db)
    this.workspaces = new WorkspacesRepo(db)
    this.sessions = new SessionsRepo(db)
  }

  hashPassword(password: string): Promise<string> {
    return hash(password, ARGON2)
  }

  userCount(): number {
    return this.users.count()
  }

  defaultWorkspace(): number {
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
    return this.users.insert({
      workspaceId: input.workspaceId,
      email: input.email.trim().toLowerCase(),
      name: input.name,
      passwordHash,
      role: input.role,
    })
  }

  /** The user for these credentials, or undefined; same work whether the email exists or not. */
  async checkCredentials(email: string, password: string): Promise<UserRow | undefined> {
    const user = this.users.activeByEmail(email.trim().toLowerCase())
    this.dummyHash ??= this.hashPassword(randomBytes(16).toString('hex'))
    const stored = user?.passwordHash ?? (await this.dummyHash)
    const ok = await verify(stored, password).catch(() => false)
    return ok && user ? user : undefined
  }

  /** Whether this is the user's password (the current one, for a self-service change). */
  async verifyPassword(user: UserRow, password: string): Promise<boolean> {
    return verify(user.passwordHash, password).catch(() => false)
  }

  createSession(user: UserRow, ttlSeconds: number): Session {
    const sessionId = randomBytes(18).toString('base64url')
    const expiresAt = this.now() + ttlSeconds * 1000
    this.sessions.insert({ id: sessionId, userId: user.id, workspaceId: user.workspaceId, expiresAt })
    return { sessionId, userId: user.id, workspaceId: user.workspaceId, role: user.role, expiresAt }
  }

  /** Resolves session ids starting with `prefix` through `fn` (issue 16: API tokens). */
  resolveSessionsWith(prefix: string, fn: (sessionId: string) => Session | undefined): void {
    this.otherSessions.set(prefix, fn)
  }

  /** The live session for this id, or undefined if revoked, expired or the user is disabled. */
  session(sessionId: string): Session | undefined {
    for (const [prefix, fn] of this.otherSessions) if (sessionId.startsWith(prefix)) return fn(sessionId)
    const row = this.sessions.unrevoked(sessionId)
    if (!row || row.expiresAt <= this.now()) return undefined
    return { sessionId, ...row }
  }

  revokeSession(sessionId: string): void {
    this.sessions.revoke(sessionId, this.now())
  }

  user(id: number): UserRow | undefined {
    return this.users.byId(id)
  }
}
