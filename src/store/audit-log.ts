// The audit log's rows (issue 16): appended by domain/audit/audit-log.ts, read newest first
// in keyset pages by id. Every read takes the workspace id, which comes from the session.
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
import { all, get, type Q } from './unit.ts'

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

const INSERT = `INSERT INTO audit_log (workspace_id, at, actor_user_id, actor_label, action, target_type, target_id, detail, ip)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
const PAGE = `SELECT id, at, actor_user_id AS "actorUserId", actor_label AS "actorLabel", action, target_type AS "targetType",
  target_id AS "targetId", detail, ip FROM audit_log WHERE workspace_id = ? AND id < ? ORDER BY id DESC LIMIT ?`

export class AuditLogRepo {
  *insert(e: NewAuditEntry): Q<number> {
    const detail = e.detail === null ? null : JSON.stringify(e.detail)
    const row = yield* get<{ id: number }>(INSERT, [
      e.workspaceId,
      e.at,
      e.actorUserId,
      e.actorLabel,
      e.action,
      e.targetType,
      e.targetId,
      detail,
      e.ip,
    ])
    return row!.id
  }

  /** Newest first, ids below `beforeId`. */
  *page(workspaceId: number, beforeId: number, limit: number): Q<AuditEntry[]> {
    const rows = yield* all<Row>(PAGE, [workspaceId, beforeId, limit])
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>) }))
  }
}
