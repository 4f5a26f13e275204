// The audit log's rows (issue 16): appended by domain/audit/audit-log.ts, read newest first
// in keyset pages by id. Every read takes the workspace id, which comes from the session.
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.ts'

export interface AuditEntry {
  id: number
  at: number
  actorUserId: number | null
  actorLabel: string | null
  action: string
  targetType: string | null
  targetId: string | null
  detail: Record<string, unknown> | null
  ip: string | null
}

export type NewAuditEntry = Omit<AuditEntry, 'id'> & { workspaceId: number }

type Row = Omit<AuditEntry, 'detail'> & { detail: string | null }

export class AuditLogRepo {
  private readonly insertStmt: Statement
  private readonly pageStmt: Statement

  constructor(db: Db) {
    const c = db.$client
    this.insertStmt = c.prepare(
      `INSERT INTO audit_log (workspace_id, at, actor_user_id, actor_label, action, target_type, target_id, detail, ip)
       VALUES (@workspaceId, @at, @actorUserId, @actorLabel, @action, @targetType, @targetId, @detail, @ip) RETURNING id`,
    )
    this.pageStmt = c.prepare(
      `SELECT id, at, actor_user_id AS actorUserId, actor_label AS actorLabel, action, target_type AS targetType,
         target_id AS targetId, detail, ip FROM audit_log WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
    )
  }

  insert(e: NewAuditEntry): number {
    return (this.insertStmt.get({ ...e, detail: e.detail === null ? null : JSON.stringify(e.detail) }) as { id: number }).id
  }

  /** Newest first, ids below `beforeId`. */
  page(workspaceId: number, beforeId: number, limit: number): AuditEntry[] {
    return (this.pageStmt.all(workspaceId, beforeId, limit) as Row[]).map((r) => ({
      ...r,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
    }))
  }
}
