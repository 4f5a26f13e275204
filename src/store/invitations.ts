// Invitations to join a workspace (issue 13), stored by the SHA-256 of their token.
// Accepting one is claimed by a conditional UPDATE, so of two racing uses one wins.
// Written as units of work: the same SQL on SQLite and PostgreSQL (issue 17).
import { insertRow, TableCodec } from './prepared.ts'
import { invitations } from './schema.ts'
import { all, get, type Q, run } from './unit.ts'

export type InvitationRow = typeof invitations.$inferSelect
export type NewInvitation = typeof invitations.$inferInsert

const codec = new TableCodec<InvitationRow>(invitations)
const COLUMNS = codec.selectQuoted('i')

const CLAIM = `UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?`
const SUPERSEDE = `UPDATE invitations SET revoked_at = ? WHERE workspace_id = ? AND email = ? AND accepted_at IS NULL AND revoked_at IS NULL`
const BY_TOKEN_HASH = `SELECT ${COLUMNS} FROM invitations i WHERE i.token_hash = ?`
const PENDING = `SELECT ${COLUMNS} FROM invitations i
  WHERE i.workspace_id = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ? ORDER BY i.id`
const REVOKE = `UPDATE invitations SET revoked_at = ?
  WHERE id = ? AND workspace_id = ? AND accepted_at IS NULL AND revoked_at IS NULL`

export class InvitationsRepo {
  /**
   * Stores a new invitation; an earlier pending one for the same email stops working (only
   * the newest is valid). Both writes belong in one transaction: the caller's unit.
   */
  *insert(values: NewInvitation): Q<InvitationRow> {
    yield* run(SUPERSEDE, [values.createdAt, values.workspaceId, values.email])
    return (yield* insertRow(codec, values))!
  }

  *byTokenHash(tokenHash: string): Q<InvitationRow | undefined> {
    const row = yield* get<unknown>(BY_TOKEN_HASH, [tokenHash])
    return row === undefined ? undefined : codec.decodeAny(row)
  }

  /** Not accepted, not revoked, not expired; oldest first. */
  *pending(workspaceId: number, now: number): Q<InvitationRow[]> {
    return (yield* all<unknown>(PENDING, [workspaceId, now])).map((r) => codec.decodeAny(r))
  }

  /** Revokes a pending invitation of this workspace; false when there is none by that id. */
  *revoke(workspaceId: number, id: number, now: number): Q<boolean> {
    return (yield* run(REVOKE, [now, id, workspaceId])).changes === 1
  }

  /** Marks it accepted if it still may be; call inside the transaction that creates the user. */
  *claim(id: number, now: number): Q<boolean> {
    return (yield* run(CLAIM, [now, id, now])).changes === 1
  }
}
