// The audit log (issue 16): one call, `record`, for every place that changes who may do
// what or touches secrets and data — sign-ins and their failures, lock-outs, 2FA, invitations,
// roles and channel access, channel credentials, API tokens, outgoing webhooks, exports and
// deletions. One insert, written as a unit of work (`recordUnit`, on either database, issue 17):
// a caller's transaction records in it with `yield*`, so the line commits with the change.
//
// `detail` says what changed in words and ids, never a secret: a credential change names
// the field ("accessToken changed"), not its value.
import type { AuditEntry, AuditLogRepo } from '../../store/audit-log.ts'
import type { Q } from '../../store/unit.ts'

export interface AuditActor {
  /** The person who acted; null for Parley itself or someone not signed in. */
  userId: number | null
  /** Shown when there is no user: the e-mail a failed sign-in tried, 'system', a token's name. */
  label?: string | null
  ip?: string | null
}

export interface AuditRecord {
  workspaceId: number
  actor: AuditActor
  /** A dotted name, e.g. 'auth.login_failed', 'channel.credentials_changed', 'contact.erased'. */
  action: string
  target?: { type: string; id: string | number } | null
  detail?: Record<string, unknown> | null
}

export class AuditLog {
  constructor(
    private readonly d: {
      repo: AuditLogRepo
      now: () => number
    },
  ) {}

  *recordUnit(r: AuditRecord): Q<number> {
    return yield* this.d.repo.insert({
      workspaceId: r.workspaceId,
      at: this.d.now(),
      actorUserId: r.actor.userId,
      actorLabel: r.actor.label ?? null,
      action: r.action,
      targetType: r.target?.type ?? null,
      targetId: r.target ? String(r.target.id) : null,
      detail: r.detail ?? null,
      ip: r.actor.ip ?? null,
    })
  }

  /** Newest first; `beforeId` from the previous page's last entry. */
  pageUnit(workspaceId: number, beforeId: number | undefined, limit: number): Q<AuditEntry[]> {
    return this.d.repo.page(workspaceId, beforeId ?? Number.MAX_SAFE_INTEGER, limit)
  }
}
