// Channels as data: a workspace's WhatsApp numbers and Messenger pages, each with its
// own credentials. Secrets are write-only through the API (never returned once saved).
// Webhook verification asks this directory which app secrets and verify tokens exist, and
// automatic assignment whether a channel assigns (issue 13, on every customer message);
// both answers are cached and refreshed on every change (one writer: this directory,
// which drops its caches in the unit and again after the commit, `changed`; the sandbox
// and the environment's channel are written before any read and never set auto-assign).
// Several processes on PostgreSQL: another process's caches are not dropped yet (caches
// invalidated by events from the log are a later step of issue 17).
//
// Units of work (issue 17) for both databases; the synchronous methods (`list`, `get`,
// `autoAssigns`, `appSecrets`, `verifyTokens`) run the same units at once on SQLite for
// callers still synchronous, through `runNow`.
import type { Config } from '../../config.ts'
import type { ChannelRow, ChannelsRepo } from '../../store/channels.ts'
import type { Q } from '../../store/unit.ts'
import { AppError } from '../../errors.ts'
import type { PacingStatus } from '../sending/outbox-rate.ts'

export type ChannelKind = 'whatsapp' | 'messenger'

/**
 * What Meta said of the saved credentials (issue 11): `verified` (detail: the name and
 * number Meta answered), `rejected` (detail: what to do, in words), `unchecked` (never
 * asked yet, no token, or Meta could not be reached: retried with backoff).
 */
export interface ChannelCredentials {
  status: 'verified' | 'rejected' | 'unchecked'
  checkedAt: number | null
  detail: string | null
}

export interface ChannelPublic {
  id: number
  kind: ChannelKind
  externalId: string
  name: string
  displayPhoneNumber: string | null
  businessAccountId: string | null
  enabled: boolean
  hasAccessToken: boolean
  hasAppSecret: boolean
  hasVerifyToken: boolean
  webhookPath: string
  createdAt: number
  /** WhatsApp numbers: how Parley paces sends to Meta right now (see outbox-rate.ts). */
  pacing?: PacingStatus
  credentials: ChannelCredentials
  /** Issue 13: new and reopened conversations go round robin to its available members (off by default). */
  autoAssign: boolean
  /** Issue 14: only the conversation's assignee may reply (others get 403 ASSIGNEE_ONLY); off by default. */
  assigneeOnly: boolean
  /** Who works this channel (user ids, ascending): in the REST answers, not in `channel.updated`. */
  members?: number[]
}

export interface ChannelInput {
  kind: ChannelKind
  externalId: string
  name: string
  displayPhoneNumber?: string | null
  businessAccountId?: string | null
  accessToken?: string | null
  appSecret?: string | null
  verifyToken?: string | null
  enabled?: boolean
  autoAssign?: boolean
  assigneeOnly?: boolean
}

export const toPublicChannel = (c: ChannelRow, members?: number[]): ChannelPublic => ({
  id: c.id,
  kind: c.kind,
  externalId: c.externalId,
  name: c.name,
  displayPhoneNumber: c.displayPhoneNumber,
  businessAccountId: c.businessAccountId,
  enabled: c.enabled,
  hasAccessToken: !!c.accessToken,
  hasAppSecret: !!c.appSecret,
  hasVerifyToken: !!c.verifyToken,
  webhookPath: `/webhooks/${c.kind}`,
  createdAt: c.createdAt,
  credentials: {
    status: c.credentialsStatus ?? 'unchecked',
    checkedAt: c.credentialsCheckedAt,
    detail: c.credentialsDetail ?? (c.accessToken ? null : 'No access token is saved: nothing can be sent through this channel.'),
  },
  autoAssign: c.autoAssign,
  assigneeOnly: c.assigneeOnly,
  ...(members ? { members } : {}),
})

export interface ChannelDirectoryDeps {
  repo: ChannelsRepo
  config: Readonly<Config>
  /** Runs a unit at once inside the open transaction (SQLite: runSync on the one connection). */
  runNow: <T>(unit: Q<T>) => T
}

export class ChannelDirectory {
  private readonly repo: ChannelsRepo
  private readonly config: Readonly<Config>
  private secretCache = new Map<ChannelKind, { secrets: string[]; tokens: string[] }>()
  private autoAssignCache = new Map<number, boolean>()

  constructor(private readonly d: ChannelDirectoryDeps) {
    this.repo = d.repo
    this.config = d.config
  }

  list(workspaceId: number): ChannelRow[] {
    return this.d.runNow(this.listUnit(workspaceId))
  }

  listUnit(workspaceId: number): Q<ChannelRow[]> {
    return this.repo.list(workspaceId)
  }

  get(workspaceId: number, id: number): ChannelRow | undefined {
    return this.d.runNow(this.getUnit(workspaceId, id))
  }

  getUnit(workspaceId: number, id: number): Q<ChannelRow | undefined> {
    return this.repo.get(workspaceId, id)
  }

  /** Channel id → its members' user ids (a channel with none is absent). */
  membersByChannelUnit(workspaceId: number): Q<Map<number, number[]>> {
    return this.repo.membersByChannel(workspaceId)
  }

  /** The caller calls `changed()` after the commit too (see `changed`). */
  *createUnit(workspaceId: number, input: ChannelInput): Q<ChannelRow> {
    const row = yield* this.repo.insertIfNew({ ...clean(input), workspaceId, enabled: input.enabled ?? true })
    // (kind, external id) is unique across workspaces: a webhook must route to one place.
    if (!row) throw new AppError('CHANNEL_EXISTS', 409, 'That number or page is already connected')
    this.changed()
    return row
  }

  /** The caller calls `changed()` after the commit too (see `changed`). */
  *updateUnit(workspaceId: number, id: number, patch: Partial<Omit<ChannelInput, 'kind' | 'externalId'>>): Q<ChannelRow | undefined> {
    const current = yield* this.repo.get(workspaceId, id)
    if (!current) return undefined
    const set = clean(patch)
    // A new (or removed) token has not been checked: the old verdict was about another one.
    if (patch.accessToken !== undefined)
      Object.assign(set, { credentialsStatus: null, credentialsCheckedAt: null, credentialsDetail: null })
    const row = Object.keys(set).length ? yield* this.repo.update(id, set) : current
    this.changed()
    return row
  }

  /**
   * Stores what Meta said of the token `checkedToken`, unless the channel's token changed
   * meanwhile (that one gets its own check). Returns the updated row, or undefined.
   */
  *recordCheckUnit(
    workspaceId: number,
    id: number,
    checkedToken: string,
    result: { status: 'verified' | 'rejected' | null; checkedAt: number; detail: string | null },
  ): Q<ChannelRow | undefined> {
    const row = yield* this.repo.get(workspaceId, id)
    if (!row || row.accessToken !== checkedToken) return undefined
    return yield* this.repo.update(id, {
      credentialsStatus: result.status,
      credentialsCheckedAt: result.checkedAt,
      credentialsDetail: result.detail,
    })
  }

  /** Every workspace's channels with a token Meta has not judged yet (checked at start). */
  uncheckedWithTokenUnit(): Q<ChannelRow[]> {
    return this.repo.uncheckedWithToken()
  }

  /** App secrets a webhook of this kind may be signed with: the app's, then channels' own. */
  appSecrets(kind: ChannelKind): string[] {
    return this.d.runNow(this.secretsUnit(kind)).secrets
  }

  verifyTokens(kind: ChannelKind): string[] {
    return this.d.runNow(this.secretsUnit(kind)).tokens
  }

  /** The secret that must have signed a webhook for this channel. */
  secretOf(channel: ChannelRow): string {
    return channel.appSecret ?? this.config.metaAppSecret
  }

  /**
   * Whether new and reopened conversations of this channel go round robin (`autoAssign`):
   * asked for every customer message on an unassigned conversation, so cached; an
   * unknown channel is false and not remembered.
   */
  autoAssigns(channelId: number): boolean {
    return this.d.runNow(this.autoAssignsUnit(channelId))
  }

  *autoAssignsUnit(channelId: number): Q<boolean> {
    let on = this.autoAssignCache.get(channelId)
    if (on === undefined) {
      const row = yield* this.repo.byId(channelId)
      if (!row) return false
      on = row.autoAssign
      this.autoAssignCache.set(channelId, on)
    }
    return on
  }

  /**
   * A channel was added or changed: the next webhook reads the saved state again. Called in
   * the writing unit and again after its commit: on PostgreSQL a reader on another
   * connection may cache the old state in between.
   */
  changed(): void {
    this.secretCache.clear()
    this.autoAssignCache.clear()
  }

  /** The app secrets and verify tokens of this kind (cached until `changed`). */
  *secretsUnit(kind: ChannelKind): Q<{ secrets: string[]; tokens: string[] }> {
    let c = this.secretCache.get(kind)
    if (!c) {
      const rows = yield* this.repo.webhookSecrets(kind)
      const uniq = (xs: Array<string | null>) => [...new Set(xs.filter((x): x is string => !!x))]
      c = {
        secrets: uniq([this.config.metaAppSecret, ...rows.map((r) => r.appSecret)]),
        tokens: uniq([this.config.metaVerifyToken, ...rows.map((r) => r.verifyToken)]),
      }
      this.secretCache.set(kind, c)
    }
    return c
  }
}

// Empty strings clear a secret; undefined leaves it as it is.
function clean(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v === '' ? null : v
  return out
}
