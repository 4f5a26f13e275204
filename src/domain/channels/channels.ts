// Channels as data: a workspace's WhatsApp numbers and Messenger pages, each with its
// own credentials. Secrets are write-only through the API (never returned once saved).
//
// Webhook verification asks this directory which app secrets and verify tokens exist, and
// automatic assignment whether a channel assigns (issue 13, on every customer message):
// both on hot paths that must not wait on the database, so they are answered from an
// in-memory snapshot (`load` at start). Several processes on PostgreSQL (issue 17): every
// change that matters to the snapshot (create; update of secrets, tokens, enabled,
// auto-assign, anything) emits `channel.changed` in the change's own unit, and every
// process reloads its snapshot when its event log hands it that event (`changes`), so a
// secret rotated through one process is answered by all of them once their logs reach
// it. While a reload is pending the previous snapshot answers (never a read on the hot
// path). The environment's channel is written before the load; the sandbox writes its
// channels outside the event log and calls `changed()` itself (app.ts).
//
// Units of work (issue 17) for both databases: callers run `listUnit`/`getUnit` through
// their runner or inside their own unit.
import type { Config } from '../../config.ts'
import type { ChannelRow, ChannelsRepo } from '../../store/channels.ts'
import type { Q } from '../../store/unit.ts'
import type { UnitRunner } from '../../store/runner.ts'
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

/**
 * Who tells the directory of committed channel changes: SQLite, `EventLog.onCommitted` (one
 * process). PostgreSQL: `PgEventLog.onPublished` (every process's tailer, own commits
 * included), and `onCommitted` too where this process must answer with its own change at
 * once (a reload more, coalesced).
 */
export type ChannelChanges = (listener: (events: readonly { type: string }[]) => void) => void

/** The internal event of a change the directory's snapshot follows (never streamed, replayed or sent out). */
export const CHANNEL_CHANGED = 'channel.changed' as const
/**
 * Its audience: no person (user ids start at 1), so no stream, replay or outgoing webhook
 * carries it; only the processes' own listeners read it from the log.
 */
export const NOBODY = { userId: 0 } as const

/**
 * The change's unit's event batch (an `Emitter` of events/event-log.ts, named here by the one
 * event it takes: importing that module would close a cycle through events/types.ts).
 */
export interface ChannelChangeEmitter {
  emit(workspaceId: number, type: typeof CHANNEL_CHANGED, payload: { channelId: number }, audience: typeof NOBODY): void
}

export interface ChannelDirectoryDeps {
  repo: ChannelsRepo
  config: Readonly<Config>
  /** Reads the snapshot (either database). */
  units: Pick<UnitRunner, 'read'>
  /** Committed events; the directory reloads on each `channel.changed` (unset: only `changed()`). */
  changes?: ChannelChanges
  /** A reload that failed (the previous snapshot answers meanwhile; it is tried again). */
  onError?: (err: unknown) => void
  /** How long after a failed reload it is tried again (default 1 s). */
  retryMs?: number
}

interface Snapshot {
  secrets: Map<ChannelKind, { secrets: string[]; tokens: string[] }>
  autoAssign: ReadonlySet<number>
  /** Every channel's id, and `kind:externalId` of each (issue 17: answered without a read). */
  ids: readonly number[]
  known: ReadonlySet<string>
}

const KINDS: readonly ChannelKind[] = ['whatsapp', 'messenger']

export class ChannelDirectory {
  private readonly repo: ChannelsRepo
  private readonly config: Readonly<Config>
  private snapshot: Snapshot
  /** The reload running now, if any; `queued`: a change arrived while it ran (one more after it). */
  private reloading: Promise<void> | undefined
  private queued = false
  private retry: NodeJS.Timeout | undefined
  private stopped = false
  /** Reloads done (tests and metrics). */
  reloads = 0
  private readonly reloadListeners: Array<() => void> = []

  constructor(private readonly d: ChannelDirectoryDeps) {
    this.repo = d.repo
    this.config = d.config
    // Before `load`: the app's own secret and token only (a channel's own ones are refused).
    this.snapshot = { secrets: new Map(KINDS.map((k) => [k, this.withConfig([])])), autoAssign: new Set(), ids: [], known: new Set() }
    d.changes?.((events) => {
      if (events.some((e) => e.type === CHANNEL_CHANGED)) this.changed()
    })
  }

  /** At start, before anything asks: the first snapshot (a failure fails the start). */
  async load(): Promise<void> {
    this.take(await this.d.units.read(() => this.snapshotUnit()))
  }

  /** No more reloads (shutdown). */
  stop(): void {
    this.stopped = true
    clearTimeout(this.retry)
  }

  listUnit(workspaceId: number): Q<ChannelRow[]> {
    return this.repo.list(workspaceId)
  }

  getUnit(workspaceId: number, id: number): Q<ChannelRow | undefined> {
    return this.repo.get(workspaceId, id)
  }

  /** Channel id → its members' user ids (a channel with none is absent). */
  membersByChannelUnit(workspaceId: number): Q<Map<number, number[]>> {
    return this.repo.membersByChannel(workspaceId)
  }

  /**
   * `batch`: the change's own unit's events, which get `channel.changed` (every process's
   * snapshot follows it). Every writer in the app passes it; without one the caller emits.
   */
  *createUnit(workspaceId: number, input: ChannelInput, batch?: ChannelChangeEmitter): Q<ChannelRow> {
    const row = yield* this.repo.insertIfNew({ ...clean(input), workspaceId, enabled: input.enabled ?? true })
    // (kind, external id) is unique across workspaces: a webhook must route to one place.
    if (!row) throw new AppError('CHANNEL_EXISTS', 409, 'That number or page is already connected')
    batch?.emit(row.workspaceId, CHANNEL_CHANGED, { channelId: row.id }, NOBODY)
    return row
  }

  /** `batch`: as for `createUnit` (an empty patch changes nothing and emits nothing). */
  *updateUnit(
    workspaceId: number,
    id: number,
    patch: Partial<Omit<ChannelInput, 'kind' | 'externalId'>>,
    batch?: ChannelChangeEmitter,
  ): Q<ChannelRow | undefined> {
    const current = yield* this.repo.get(workspaceId, id)
    if (!current) return undefined
    const set = clean(patch)
    // A new (or removed) token has not been checked: the old verdict was about another one.
    if (patch.accessToken !== undefined)
      Object.assign(set, { credentialsStatus: null, credentialsCheckedAt: null, credentialsDetail: null })
    if (Object.keys(set).length === 0) return current
    const row = yield* this.repo.update(id, set)
    if (row) batch?.emit(row.workspaceId, CHANNEL_CHANGED, { channelId: row.id }, NOBODY)
    return row
  }

  /**
   * Stores what Meta said of the token `checkedToken`, unless the channel's token changed
   * meanwhile (that one gets its own check). Returns the updated row, or undefined. (The
   * verdict is nothing the snapshot holds: no `channel.changed`.)
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

  /** App secrets a webhook of this kind may be signed with: the app's, then channels' own (snapshot). */
  appSecrets(kind: ChannelKind): string[] {
    return this.snapshot.secrets.get(kind)!.secrets
  }

  /** Verify tokens Meta's subscription check may send for this kind (snapshot). */
  verifyTokens(kind: ChannelKind): string[] {
    return this.snapshot.secrets.get(kind)!.tokens
  }

  /**
   * The secret that must have signed a webhook for this channel: from the row the webhook's
   * own transaction read (fresher than any snapshot), the app's when it has none.
   */
  secretOf(channel: ChannelRow): string {
    return channel.appSecret ?? this.config.metaAppSecret
  }

  /**
   * Whether new and reopened conversations of this channel go round robin (`autoAssign`):
   * asked for every customer message on an unassigned conversation, so from the snapshot;
   * an unknown channel is false.
   */
  autoAssigns(channelId: number): boolean {
    return this.snapshot.autoAssign.has(channelId)
  }

  /** Whether a number or Page is connected, from the snapshot (the health tracker asks on every webhook). */
  isChannel(kind: ChannelKind, externalId: string): boolean {
    return this.snapshot.known.has(`${kind}:${externalId}`)
  }

  /** Every channel's id, from the snapshot: what the processes share out among themselves (issue 17). */
  channelIds(): readonly number[] {
    return this.snapshot.ids
  }

  /** Told after each snapshot is in place (the first `load` too): ownership's set of numbers follows it. */
  onReloaded(listener: () => void): void {
    this.reloadListeners.push(listener)
  }

  private take(snapshot: Snapshot): void {
    this.snapshot = snapshot
    this.reloads++
    for (const l of this.reloadListeners) {
      try {
        l()
      } catch (err) {
        this.d.onError?.(err)
      }
    }
  }

  /** The saved flag, read now (the snapshot's source). */
  *autoAssignsUnit(channelId: number): Q<boolean> {
    return (yield* this.repo.byId(channelId))?.autoAssign ?? false
  }

  /**
   * Reload the snapshot (async, coalesced: one reload at a time, one more queued when a
   * change arrives meanwhile, since the running one may have read before that commit).
   * Called for every `channel.changed` the log hands over, and by writers outside the
   * event log (the sandbox's channels).
   */
  changed(): void {
    if (this.stopped) return
    if (this.reloading) {
      this.queued = true
      return
    }
    clearTimeout(this.retry)
    this.retry = undefined
    this.reloading = this.reloadLoop().finally(() => {
      this.reloading = undefined
    })
  }

  /**
   * Resolves once every reload asked for so far is done (never rejects).
   */
  async settled(): Promise<void> {
    while (this.reloading) await this.reloading
  }

  /**
   * This process committed a change to a channel: resolves once its own snapshot holds it,
   * so the route answers only when this process's webhooks already use the new secrets. On
   * SQLite the commit itself asked for the reload; on PostgreSQL `channel.changed` comes
   * back only when the tailer publishes it, later, so a reload is asked for here (the
   * tailer's own then reloads once more, harmlessly).
   */
  async reloadAfterOwnChange(): Promise<void> {
    this.changed()
    await this.settled()
  }

  private async reloadLoop(): Promise<void> {
    do {
      this.queued = false
      try {
        this.take(await this.d.units.read(() => this.snapshotUnit()))
      } catch (err) {
        this.d.onError?.(err)
        // The previous snapshot answers meanwhile; a change may never come to ask again.
        if (!this.stopped && !this.queued) {
          this.retry = setTimeout(() => this.changed(), this.d.retryMs ?? 1000)
          this.retry.unref()
        }
      }
    } while (this.queued && !this.stopped)
  }

  /** The whole snapshot in one read: every kind's secrets and tokens, the auto-assigning channels. */
  *snapshotUnit(): Q<Snapshot> {
    const secrets = new Map<ChannelKind, { secrets: string[]; tokens: string[] }>()
    for (const kind of KINDS) secrets.set(kind, yield* this.secretsUnit(kind))
    const every = yield* this.repo.everyChannel()
    return {
      secrets,
      autoAssign: new Set(yield* this.repo.autoAssignIds()),
      ids: every.map((c) => c.id),
      known: new Set(every.map((c) => `${c.kind}:${c.externalId}`)),
    }
  }

  /** The app secrets and verify tokens of this kind, read now (the snapshot's source). */
  *secretsUnit(kind: ChannelKind): Q<{ secrets: string[]; tokens: string[] }> {
    return this.withConfig(yield* this.repo.webhookSecrets(kind))
  }

  private withConfig(rows: { appSecret: string | null; verifyToken: string | null }[]): { secrets: string[]; tokens: string[] } {
    const uniq = (xs: Array<string | null>) => [...new Set(xs.filter((x): x is string => !!x))]
    return {
      secrets: uniq([this.config.metaAppSecret, ...rows.map((r) => r.appSecret)]),
      tokens: uniq([this.config.metaVerifyToken, ...rows.map((r) => r.verifyToken)]),
    }
  }
}

// Empty strings clear a secret; undefined leaves it as it is.
function clean(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v === '' ? null : v
  return out
}
