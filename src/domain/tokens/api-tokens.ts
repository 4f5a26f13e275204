// Personal API tokens (issue 16): a person creates one in settings for a script; the value is
// shown once, only its SHA-256 is kept (the value carries 256 random bits, so a plain hash
// cannot be reversed or guessed). A token acts as its person — their workspace, role and
// channels, read fresh on every call — with a scope: `read` tokens may only GET/HEAD.
// Tokens cannot create tokens or manage two-factor sign-in (auth.ts refuses those paths).
import { createHash, randomBytes } from 'node:crypto'
import type { ApiTokenRow, ApiTokensRepo, TokenScope } from '../../store/api-tokens.ts'
import type { AuditLog } from '../audit/audit-log.ts'
import type { Session } from '../accounts/auth.ts'
import type { Q } from '../../store/unit.ts'

/** Every token starts with this: auth.ts tells a token from a JWT by it, and scanners can spot leaked ones. */
export const TOKEN_PREFIX = 'prl_'
/** The last-used time is written at most this often per token (a busy script's calls do not each write). */
export const LAST_USED_GRANULARITY_MS = 60_000

export type { ApiTokenRow, TokenScope }

export interface TokenCaller {
  tokenId: number
  userId: number
  workspaceId: number
  role: 'admin' | 'agent'
  scope: TokenScope
}

export const hashToken = (value: string): string => createHash('sha256').update(value).digest('hex')

export const isTokenValue = (value: string): boolean => value.startsWith(TOKEN_PREFIX)

export class ApiTokens {
  constructor(
    private readonly d: {
      repo: ApiTokensRepo
      audit: AuditLog
      now: () => number
    },
  ) {}

  /** A new token and its audit line, in the caller's transaction; the value is in this answer only. */
  *createUnit(
    who: { workspaceId: number; userId: number; ip?: string },
    input: { name: string; scope: TokenScope },
  ): Q<{ id: number; name: string; scope: TokenScope; value: string }> {
    const value = TOKEN_PREFIX + randomBytes(32).toString('base64url')
    const name = input.name.trim()
    const id = yield* this.d.repo.insert({
      workspaceId: who.workspaceId,
      userId: who.userId,
      name,
      scope: input.scope,
      tokenHash: hashToken(value),
      createdAt: this.d.now(),
    })
    yield* this.d.audit.recordUnit({
      workspaceId: who.workspaceId,
      actor: { userId: who.userId, ip: who.ip },
      action: 'token.created',
      target: { type: 'api_token', id },
      detail: { name, scope: input.scope },
    })
    return { id, name, scope: input.scope, value }
  }

  listUnit(workspaceId: number, userId: number): Q<ApiTokenRow[]> {
    return this.d.repo.listOf(workspaceId, userId)
  }

  /** Revokes the person's own token; false when it is not theirs (or does not exist). */
  *revokeUnit(who: { workspaceId: number; userId: number; ip?: string }, id: number): Q<boolean> {
    const row = yield* this.d.repo.delete(id, who.workspaceId, who.userId)
    if (!row) return false
    yield* this.d.audit.recordUnit({
      workspaceId: who.workspaceId,
      actor: { userId: who.userId, ip: who.ip },
      action: 'token.revoked',
      target: { type: 'api_token', id },
      detail: { name: row.name, scope: row.scope },
    })
    return true
  }

  /**
   * The caller a token value names, or undefined (unknown, revoked, or its person disabled). It
   * writes the last-used time (at most once a LAST_USED_GRANULARITY_MS), so run it with transact.
   */
  *authenticateUnit(value: string): Q<TokenCaller | undefined> {
    if (!isTokenValue(value)) return undefined
    const row = yield* this.d.repo.live(hashToken(value))
    if (!row) return undefined
    const now = this.d.now()
    const staleBefore = now - LAST_USED_GRANULARITY_MS
    if (row.lastUsedAt === null || row.lastUsedAt <= staleBefore) yield* this.d.repo.touch(row.id, now, staleBefore)
    return { tokenId: row.id, userId: row.userId, workspaceId: row.workspaceId, role: row.role, scope: row.scope }
  }

  /**
   * The session a token's request runs as: id `token:<id>` (so streams and hub.closeWhere
   * tell it apart), the person's role read now, and an end one session length away (a token
   * itself does not expire; an open stream is closed then and reconnects).
   */
  sessionOf(caller: TokenCaller, ttlMs: number): Session {
    return {
      sessionId: `${TOKEN_SESSION_PREFIX}${caller.tokenId}`,
      userId: caller.userId,
      workspaceId: caller.workspaceId,
      role: caller.role,
      expiresAt: this.d.now() + ttlMs,
      token: { id: caller.tokenId, scope: caller.scope },
    }
  }

  /** AuthService.sessionUnit for `token:<id>` ids: an open stream reads its person's access again. It only reads. */
  *sessionByIdUnit(sessionId: string, ttlMs: number): Q<Session | undefined> {
    const id = Number(sessionId.slice(TOKEN_SESSION_PREFIX.length))
    const row = Number.isSafeInteger(id) ? yield* this.d.repo.liveById(id) : undefined
    if (!row) return undefined
    return this.sessionOf({ tokenId: row.id, userId: row.userId, workspaceId: row.workspaceId, role: row.role, scope: row.scope }, ttlMs)
  }
}

/** A token's requests carry a session id of this form (streams, hub.closeWhere). */
export const TOKEN_SESSION_PREFIX = 'token:'
