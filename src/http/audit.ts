// The audit log's read side (issue 16), admins only (an agent's 403 FORBIDDEN):
//   GET /api/audit?cursor=&limit=  → {entries, nextCursor}, newest first, keyset pages by id
//   GET /api/audit.csv             → every entry as CSV (the export is itself audited: audit.exported)
// Each entry names its actor: the person's current name when the actor is one of this
// workspace's people, else the label written with it (the e-mail a failed sign-in tried).
// The workspace always comes from the session: another workspace's entries are never read.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { csvLine } from '../domain/contacts/csv.ts'
import type { AuditRecord } from '../domain/audit/audit-log.ts'
import type { AuditEntry } from '../store/audit-log.ts'
import type { Q } from '../store/unit.ts'
import type { TeamUserDTO } from '../events/types.ts'
import { UsersRepo } from '../store/users.ts'
import type { Services } from '../services.ts'
import { idFromCursor, keysetPage } from './paging.ts'

const DEFAULT_LIMIT = 50
const MAX_LIMIT = 200
const CSV_PAGE = 1000
const CSV_COLUMNS = ['id', 'time', 'actor', 'actor_user_id', 'action', 'target_type', 'target_id', 'detail', 'ip'] as const

export interface AuditEntryDto {
  id: number
  at: number
  action: string
  actor: { userId: number | null; name: string | null; label: string | null }
  target: { type: string; id: string } | null
  detail: Record<string, unknown> | null
  ip: string | null
}

export async function auditRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { audit, units } = opts.services
  const users = new UsersRepo()
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const admin = { onRequest: app.authenticate, preValidation: app.requireAdmin }

  /** The page's entries with their actors' names (each name read once per page), in the page's own read. */
  function* dtos(ws: number, rows: AuditEntry[]): Q<AuditEntryDto[]> {
    const names = new Map<number, string | null>()
    for (const e of rows) {
      const id = e.actorUserId
      if (id !== null && !names.has(id)) names.set(id, (yield* users.nameInWorkspace(ws, id)) ?? null)
    }
    return rows.map((e) => ({
      id: e.id,
      at: e.at,
      action: e.action,
      actor: { userId: e.actorUserId, name: e.actorUserId === null ? null : names.get(e.actorUserId)!, label: e.actorLabel },
      target: e.targetType === null ? null : { type: e.targetType, id: e.targetId ?? '' },
      detail: e.detail,
      ip: e.ip,
    }))
  }

  r.get(
    '/api/audit',
    {
      ...admin,
      schema: {
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 64 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT })),
        }),
      },
    },
    async (req) => {
      const ws = req.session.workspaceId
      const limit = req.query.limit ?? DEFAULT_LIMIT
      const before = req.query.cursor ? idFromCursor(req.query.cursor) : undefined
      return units.read(function* () {
        const entries = yield* audit.pageUnit(ws, before, limit + 1)
        const { page, nextCursor } = keysetPage(entries, limit, (last) => [last.id])
        return { entries: yield* dtos(ws, page), nextCursor }
      })
    },
  )

  r.get('/api/audit.csv', admin, async (req, reply) => {
    const ws = req.session.workspaceId
    await units.transact(() =>
      audit.recordUnit({ workspaceId: ws, actor: { userId: req.session.userId, ip: req.ip }, action: 'audit.exported' }),
    )
    let out = csvLine([...CSV_COLUMNS])
    let before: number | undefined
    for (;;) {
      const { rows, entries } = await units.read(function* () {
        const rows = yield* audit.pageUnit(ws, before, CSV_PAGE)
        return { rows, entries: yield* dtos(ws, rows) }
      })
      for (const e of entries) {
        out += csvLine([
          e.id,
          new Date(e.at).toISOString(),
          e.actor.name ?? e.actor.label ?? '',
          e.actor.userId,
          e.action,
          e.target?.type,
          e.target?.id,
          e.detail === null ? '' : JSON.stringify(e.detail),
          e.ip,
        ])
      }
      if (rows.length < CSV_PAGE) break
      before = rows[rows.length - 1]!.id
    }
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="parley-audit-log.csv"')
      .header('cache-control', 'private, no-store')
      .send(out)
  })
}

const actorOf = (req: FastifyRequest) => ({ userId: req.session.userId, ip: req.ip })
const sameIds = (a: number[], b: number[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join()

/** Audit lines for an admin's change to a person (role, channels, deactivation), from before and after. */
export function auditPersonChange(services: Services, req: FastifyRequest, before: TeamUserDTO, after: TeamUserDTO): Promise<void> {
  const base = { workspaceId: req.session.workspaceId, actor: actorOf(req), target: { type: 'user', id: after.id } }
  const lines: AuditRecord[] = []
  if (before.role !== after.role) lines.push({ ...base, action: 'user.role_changed', detail: { from: before.role, to: after.role } })
  if (!sameIds(before.channelIds, after.channelIds))
    lines.push({ ...base, action: 'user.channels_changed', detail: { from: before.channelIds, to: after.channelIds } })
  if (before.disabled !== after.disabled) lines.push({ ...base, action: after.disabled ? 'user.disabled' : 'user.enabled' })
  return recordAll(services, lines)
}

/** The lines in one transaction (none: no transaction). */
async function recordAll(services: Services, lines: AuditRecord[]): Promise<void> {
  if (lines.length === 0) return
  await services.units.transact(function* () {
    for (const line of lines) yield* services.audit.recordUnit(line)
  })
}

const CREDENTIAL_FIELDS = ['accessToken', 'appSecret', 'verifyToken'] as const

/**
 * Audit lines for a channel created or edited: the fields given, by name — a credential's
 * value never (`channel.credentials_changed` names which were set or cleared).
 */
export function auditChannelChange(
  services: Services,
  req: FastifyRequest,
  channelId: number,
  action: 'channel.created' | 'channel.updated',
  body: Record<string, unknown>,
): Promise<void> {
  const base = { workspaceId: req.session.workspaceId, actor: actorOf(req), target: { type: 'channel', id: channelId } }
  const given = Object.keys(body).filter((k) => body[k] !== undefined)
  const credentials = given.filter((k) => (CREDENTIAL_FIELDS as readonly string[]).includes(k))
  const others = given.filter((k) => !credentials.includes(k))
  if (action === 'channel.created')
    return recordAll(services, [{ ...base, action, detail: { kind: body.kind, name: body.name, credentials } }])
  const lines: AuditRecord[] = []
  if (credentials.length > 0) lines.push({ ...base, action: 'channel.credentials_changed', detail: { fields: credentials } })
  if (others.length > 0) lines.push({ ...base, action: 'channel.updated', detail: { fields: others } })
  return recordAll(services, lines)
}
