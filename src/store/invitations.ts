// Invitations to join a workspace (issue 13), stored by the SHA-256 of their token.
// Accepting one is claimed by a conditional UPDATE, so of two racing uses one wins.
import type { Statement } from 'better-sqlite3'
import { and, asc, eq, gt, isNull } from 'drizzle-orm'
import type { Db } from './db.ts'
import { invitations } from './schema.ts'

export type InvitationRow = typeof invitations.$inferSelect
export type NewInvitation = typeof invitations.$inferInsert

export class InvitationsRepo {
  private readonly claimStmt: Statement
  private readonly supersedeStmt: Statement

  constructor(private readonly db: Db) {
    this.claimStmt = db.$client.prepare(
      `UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
    )
    this.supersedeStmt = db.$client.prepare(
      `UPDATE invitations SET revoked_at = ? WHERE workspace_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL`,
    )
  }

  /** Stores a new invitation; an earlier pending one for the same email stops working (only the newest is valid). */
  insert(values: NewInvitation): InvitationRow {
    return this.db.transaction(() => {
      this.supersedeStmt.run(values.createdAt, values.workspaceId, values.email)
      return this.db.insert(invitations).values(values).returning().get()
    })
  }

  byTokenHash(tokenHash: string): InvitationRow | undefined {
    return this.db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).get()
  }

  /** Not accepted, not revoked, not expired; oldest first. */
  pending(workspaceId: number, now: number): InvitationRow[] {
    return this.db
      .select()
      .from(invitations)
      .where(
        and(
          eq(invitations.workspaceId, workspaceId),
          isNull(invitations.acceptedAt),
          isNull(invitations.revokedAt),
          gt(invitations.expiresAt, now),
        ),
      )
      .orderBy(asc(invitations.id))
      .all()
  }

  /** Revokes a pending invitation of this workspace; false when there is none by that id. */
  revoke(workspaceId: number, id: number, now: number): boolean {
    return (
      this.db
        .update(invitations)
        .set({ revokedAt: now })
        .where(
          and(
            eq(invitations.id, id),
            eq(invitations.workspaceId, workspaceId),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
          ),
        )
        .run().changes === 1
    )
  }

  /** Marks it accepted if it still may be; call inside the transaction that creates the user. */
  claim(id: number, now: number): boolean {
    return this.claimStmt.run(now, id, now).changes === 1
  }
}
