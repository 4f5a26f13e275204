// Users, passwords and sessions. argon2id at OWASP's parameters (m=19 MiB, t=2, p=1),
// hashed off the event loop by @node-rs/argon2.
import { randomBytes } from 'node:crypto'
import { hash, verify } from '@node-rs/argon2'
import { and, count, eq, isNull } from 'drizzle-orm'
import type { Db } from '../../store/db.ts'
import { sessions, users, workspaces } from '../../store/schema.ts'

const ARGON2 = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19456, timeCost: 2, parallelism: 1 }

export type UserRow = typeof users.$inferSelect
export interface PublicUser {
  id: number
  email: string
  name: string
  role: 'admin' | 'agent'
  workspaceId: number
}

export interface Session {
  sessionId: string
  userId: number
  workspaceId: number
  role: 'admin' | 'agent'
  /** Unix ms */
  expiresAt: number
}

export const publicUser = (u: UserRow): PublicUser => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  workspaceId: u.workspaceId,
})

export class AuthService {
  // Verifying against a real hash for unknown emails makes both paths take the same time.
  private dummyHash: Promise<string> | undefined
  private readonly sessionStmt

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {
    this.sessionStmt = db.$client.prepare(
      `SELECT s.user_id AS userId, s.workspace_id AS workspaceId, s.expires_at AS expiresAt, u.role AS role
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = ? AND s.revoked_at IS NULL AND u.disabled_at IS NULL`,
    )
  }

  hashPassword(password: string): Promise<string> {
    return hash(password, ARGON2)
  }

  userCount(): number {
    return this.db.select({ n: count() }).from(users).get()!.n
  }

  defaultWorkspace(): number {
    const ws = this.db.select().from(workspaces).limit(1).get()
    if (ws) return ws.id
    return this.db.insert(workspaces).values({ name: 'My business' }).returning().get().id
  }

  async createUser(input: {
    workspaceId: number
    email: string
    name: string
    password: string
    role: 'admin' | 'agent'
  }): Promise<UserRow> {
    const passwordHash = await this.hashPassword(input.password)
    return this.db
      .insert(users)
      .values({
        workspaceId: input.workspaceId,
        email: input.email.trim().toLowerCase(),
        name: input.name,
        passwordHash,
        role: input.role,
      })
      .returning()
      .get()
  }

  /** The user for these credentials, or undefined; same work whether the email exists or not. */
  async checkCredentials(email: string, password: string): Promise<UserRow | undefined> {
    const user = this.db
      .select()
      .from(users)
      .where(and(eq(users.email, email.trim().toLowerCase()), isNull(users.disabledAt)))
      .get()
    this.dummyHash ??= this.hashPassword(randomBytes(16).toString('hex'))
    const stored = user?.passwordHash ?? (await this.dummyHash)
    const ok = await verify(stored, password).catch(() => false)
    return ok && user ? user : undefined
  }

  createSession(user: UserRow, ttlSeconds: number): Session {
    const sessionId = randomBytes(18).toString('base64url')
    const expiresAt = this.now() + ttlSeconds * 1000
    this.db.insert(sessions).values({ id: sessionId, userId: user.id, workspaceId: user.workspaceId, expiresAt }).run()
    return { sessionId, userId: user.id, workspaceId: user.workspaceId, role: user.role, expiresAt }
  }

  /** The live session for this id, or undefined if revoked, expired or the user is disabled. */
  session(sessionId: string): Session | undefined {
    const row = this.sessionStmt.get(sessionId) as Omit<Session, 'sessionId'> | undefined
    if (!row || row.expiresAt <= this.now()) return undefined
    return { sessionId, ...row }
  }

  revokeSession(sessionId: string): void {
    this.db.update(sessions).set({ revokedAt: this.now() }).where(eq(sessions.id, sessionId)).run()
  }

  user(id: number): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.id, id)).get()
  }
}
