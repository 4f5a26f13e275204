// Channels as data: a workspace's WhatsApp numbers and Messenger pages, each with its
// own credentials. Secrets are write-only through the API (never returned once saved).
// Webhook verification asks this directory which app secrets and verify tokens exist, and
// automatic assignment whether a channel assigns (issue 13, on every customer message);
// both answers are cached and refreshed on every change (one process, one writer: this
// directory; the sandbox and the environment's channel are written before any read and
// never set auto-assign).
import type { Config } from '../../config.ts'
import { ChannelsRepo, type ChannelRow } from '../../store/channels.ts'
import type { Db } from '../../store/db.ts'
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

export class ChannelDirectory {
  private readonly repo: ChannelsRepo
  private secretCache = new Map<ChannelKind, { secrets: string[]; tokens: string[] }>()
  private autoAssignCache = new Map<number, boolean>()

  constructor(
    db: Db,
    private readonly config: Readonly<Config>,
  ) {
    this.repo = new ChannelsRepo(db)
  }

  list(workspaceId: number): ChannelRow[] {
    return this.repo.list(workspaceId)
  }

  get(workspaceId: number, id: number): ChannelRow | undefined {
    return this.repo.get(workspaceId, id)
  }

  /** Channel id → its members' user ids (a channel with none is absent). */
  membersByChannel(workspaceId: number): Map<number, number[]> {
    return this.repo.membersByChannel(workspaceId)
  }

  create(workspaceId: number, input: ChannelInput): ChannelRow {
    const row = this.repo.insertIfNew({ ...clean(input), workspaceId, enabled: input.enabled ?? true })
    // (kind, external id) is unique across workspaces: a webhook must route to one place.
    if (!row) throw new AppError('CHANNEL_EXISTS', 409, 'That number or page is already connected')
    this.changed()
    return row
  }

  update(workspaceId: number, id: number, patch: Partial<Omit<ChannelInput, 'kind' | 'externalId'>>): ChannelRow | undefined {
    if (!this.get(workspaceId, id)) return undefined
    const set = clean(patch)
    // A new (or removed) token has not been checked: the old verdict was about another one.
    if (patch.accessToken !== undefined)
      Object.assign(set, { credentialsStatus: null, credentialsCheckedAt: null, credentialsDetail: null })
    const row = Object.keys(set).length ? this.repo.update(id, set) : this.get(workspaceId, id)
    this.changed()
    return row
  }

  /**
   * Stores what Meta said of the token `checkedToken`, unless the channel's token changed
   * meanwhile (that one gets its own check). Returns the updated row, or undefined.
   */
  recordCheck(
    workspaceId: number,
    id: number,
    checkedToken: string,
    result: { status: 'verified' | 'rejected' | null; checkedAt: number; detail: string | null },
  ): ChannelRow | undefined {
    const row = this.get(workspaceId, id)
    if (!row || row.accessToken !== checkedToken) return undefined
    return this.repo.update(id, {
      credentialsStatus: result.status,
      credentialsCheckedAt: result.checkedAt,
      credentialsDetail: result.detail,
    })
  }

  /** Every workspace's channels with a token Meta has not judged yet (checked at start). */
  uncheckedWithToken(): ChannelRow[] {
    return this.repo.uncheckedWithToken()
  }

  /** App secrets a webhook of this kind may be signed with: the app's, then channels' own. */
  appSecrets(kind: ChannelKind): string[] {
    return this.cached(kind).secrets
  }

  verifyTokens(kind: ChannelKind): string[] {
    return this.cached(kind).tokens
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
    let on = this.autoAssignCache.get(channelId)
    if (on === undefined) {
      const row = this.repo.byId(channelId)
      if (!row) return false
      on = row.autoAssign
      this.autoAssignCache.set(channelId, on)
    }
    return on
  }

  /** A channel was added or changed: the next webhook reads the saved state again. */
  private changed(): void {
    this.secretCache.clear()
    this.autoAssignCache.clear()
  }

  private cached(kind: ChannelKind) {
    let c = this.secretCache.get(kind)
    if (!c) {
      const rows = this.repo.webhookSecrets(kind)
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
