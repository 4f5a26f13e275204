// Workspaces and users. Emails are stored trimmed and lower-cased; callers pass them so.
import { and, asc, count, eq, isNull } from 'drizzle-orm'
import type { Db } from './db.ts'
import { users, workspaces } from './schema.ts'

export type UserRow = typeof users.$inferSelect
export type NewUser = typeof users.$inferInsert

export class WorkspacesRepo {
  constructor(private readonly db: Db) {}

  /** The first workspace's id; one named `name` is created when there is none. */
  firstOrCreate(name: string): number {
    const ws = this.db.select().from(workspaces).limit(1).get()
    if (ws) return ws.id
    return this.db.insert(workspaces).values({ name }).returning().get().id
  }

  name(id: number): string | undefined {
    return this.db.select({ name: workspaces.name }).from(workspaces).where(eq(workspaces.id, id)).get()?.name
  }
}

export class UsersRepo {
  constructor(private readonly db: Db) {}

  count(): number {
    return this.db.select({ n: count() }).from(users).get()!.n
  }

  insert(values: NewUser): UserRow {
    return this.db.insert(users).values(values).returning().get()
  }

  byId(id: number): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.id, id)).get()
  }

  /** Whoever has this email, disabled or not. */
  byEmail(email: string): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.email, email)).get()
  }

  /** The user who may sign in with this email: not disabled. */
  activeByEmail(email: string): UserRow | undefined {
    return this.db
      .select()
      .from(users)
      .where(and(eq(users.email, email), isNull(users.disabledAt)))
      .get()
  }

  /** Every user, oldest first. */
  all(): UserRow[] {
    return this.db.select().from(users).orderBy(asc(users.id)).all()
  }

  /** The name a system line gives an agent ("Ana resolved this"): their own workspace's users only. */
  nameInWorkspace(workspaceId: number, userId: number): string | undefined {
    return this.db
      .select({ name: users.name })
      .from(users)
      .where(and(eq(users.workspaceId, workspaceId), eq(users.id, userId)))
      .get()?.name
  }

  setPasswordHash(userId: number, passwordHash: string): void {
    this.db.update(users).set({ passwordHash }).where(eq(users.id, userId)).run()
  }

  /** Every user of the workspace, oldest first. */
  ofWorkspace(workspaceId: number): UserRow[] {
    return this.db.select().from(users).where(eq(users.workspaceId, workspaceId)).orderBy(asc(users.id)).all()
  }

  /** Changes what is given; the row after the change (undefined when there is no such user). */
  update(userId: number, set: Partial<Pick<UserRow, 'name' | 'role' | 'disabledAt' | 'availability'>>): UserRow | undefined {
    return this.db.update(users).set(set).where(eq(users.id, userId)).returning().get()
  }

  /** Admins who can sign in: the last one may not be demoted or deactivated. */
  activeAdmins(workspaceId: number): number {
    return this.db
      .select({ n: count() })
      .from(users)
      .where(and(eq(users.workspaceId, workspaceId), eq(users.role, 'admin'), isNull(users.disabledAt)))
      .get()!.n
  }
}
