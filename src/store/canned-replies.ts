// Canned replies (issue 14): a workspace's shared replies (owner_id NULL, managed by
// admins) and each person's own. Every statement prepared once, here; the rules (who
// may change what, the shortcut's uniqueness, the variables) live in domain/canned/.
import type { Statement } from 'better-sqlite3'
import type { CannedContact } from '../domain/canned/variables.ts'
import type { Db } from './db.ts'

export interface CannedReplyRow {
  id: number
  workspaceId: number
  /** Null: shared with the whole workspace. */
  ownerId: number | null
  shortcut: string
  text: string
  createdBy: number | null
  createdAt: number
  updatedAt: number
}

const COLUMNS = `id, workspace_id AS workspaceId, owner_id AS ownerId, shortcut, text, created_by AS createdBy,
  created_at AS createdAt, updated_at AS updatedAt`

export class CannedRepliesRepo {
  private readonly visibleStmt: Statement
  private readonly byIdStmt: Statement
  private readonly clashStmt: Statement
  private readonly insertStmt: Statement
  private readonly updateStmt: Statement
  private readonly deleteStmt: Statement
  private readonly attributeUsedStmt: Statement
  private readonly attributeKeysStmt: Statement
  private readonly contactStmt: Statement

  constructor(private readonly db: Db) {
    const c = db.$client
    // What one person sees: the shared ones and their own, by shortcut (case-insensitively).
    this.visibleStmt = c.prepare(
      `SELECT ${COLUMNS} FROM canned_replies WHERE workspace_id = ? AND (owner_id IS NULL OR owner_id = ?)
       ORDER BY lower(shortcut), owner_id IS NOT NULL, id`,
    )
    this.byIdStmt = c.prepare(`SELECT ${COLUMNS} FROM canned_replies WHERE workspace_id = ? AND id = ?`)
    // A shortcut taken among the shared ones and this person's own (case-insensitively), other than `id`.
    this.clashStmt = c
      .prepare(
        `SELECT 1 FROM canned_replies WHERE workspace_id = ? AND (owner_id IS NULL OR owner_id = ?)
          AND lower(shortcut) = lower(?) AND id != ? LIMIT 1`,
      )
      .pluck()
    this.insertStmt = c.prepare(
      `INSERT INTO canned_replies(workspace_id, owner_id, shortcut, text, created_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
    )
    this.updateStmt = c.prepare(
      `UPDATE canned_replies SET owner_id = ?, shortcut = ?, text = ?, updated_at = ? WHERE id = ? RETURNING ${COLUMNS}`,
    )
    this.deleteStmt = c.prepare('DELETE FROM canned_replies WHERE id = ?')
    // Whether some contact of the workspace has this attribute: stops at the first one.
    this.attributeUsedStmt = c
      .prepare(
        `SELECT 1 FROM contacts c, json_each(c.attributes) j
          WHERE c.workspace_id = ? AND c.attributes IS NOT NULL AND j.key = ? LIMIT 1`,
      )
      .pluck()
    this.attributeKeysStmt = c
      .prepare(
        `SELECT DISTINCT j.key FROM contacts c, json_each(c.attributes) j
          WHERE c.workspace_id = ? AND c.attributes IS NOT NULL ORDER BY j.key LIMIT ?`,
      )
      .pluck()
    // What a reply's variables read of the conversation's contact.
    this.contactStmt = c.prepare(
      `SELECT ct.name, ct.profile_name AS profileName, ct.phone, ct.kind, ct.external_id AS externalId, ct.attributes
         FROM conversations v JOIN contacts ct ON ct.id = v.contact_id WHERE v.workspace_id = ? AND v.id = ?`,
    )
  }

  visibleTo(workspaceId: number, userId: number): CannedReplyRow[] {
    return this.visibleStmt.all(workspaceId, userId) as CannedReplyRow[]
  }

  byId(workspaceId: number, id: number): CannedReplyRow | undefined {
    return this.byIdStmt.get(workspaceId, id) as CannedReplyRow | undefined
  }

  /** Whether the shortcut is taken among the shared replies and `userId`'s own, leaving out reply `exceptId`. */
  shortcutTaken(workspaceId: number, userId: number, shortcut: string, exceptId = 0): boolean {
    return this.clashStmt.get(workspaceId, userId, shortcut, exceptId) !== undefined
  }

  insert(v: {
    workspaceId: number
    ownerId: number | null
    shortcut: string
    text: string
    createdBy: number
    now: number
  }): CannedReplyRow {
    return this.insertStmt.get(v.workspaceId, v.ownerId, v.shortcut, v.text, v.createdBy, v.now, v.now) as CannedReplyRow
  }

  update(id: number, v: { ownerId: number | null; shortcut: string; text: string; now: number }): CannedReplyRow {
    return this.updateStmt.get(v.ownerId, v.shortcut, v.text, v.now, id) as CannedReplyRow
  }

  delete(id: number): void {
    this.deleteStmt.run(id)
  }

  attributeInUse(workspaceId: number, key: string): boolean {
    return this.attributeUsedStmt.get(workspaceId, key) !== undefined
  }

  /** The attribute keys the workspace's contacts have, sorted (for the help line). */
  attributeKeys(workspaceId: number, limit: number): string[] {
    return this.attributeKeysStmt.all(workspaceId, limit) as string[]
  }

  /** The contact of a conversation, as the variables read it. */
  contactOf(workspaceId: number, conversationId: number): CannedContact | undefined {
    const row = this.contactStmt.get(workspaceId, conversationId) as (CannedContact & { attributes: string | null }) | undefined
    if (!row) return undefined
    return { ...row, attributes: row.attributes === null ? null : (JSON.parse(row.attributes) as Record<string, string>) }
  }

  /** Check and write as one step (the shortcut's uniqueness holds under concurrent requests). */
  transaction<T>(fn: () => T): T {
    return this.db.$client.transaction(fn)()
  }
}
