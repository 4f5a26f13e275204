// Checking a channel's saved credentials with Meta (issue 11, point 9): the Graph API
// says who the number or Page is — GET /{phone-number-id}?fields=display_phone_number,
// verified_name with a WhatsApp token, GET /me?fields=id,name with a Page token — so
// Settings shows "verified" with the name Meta answered, "token rejected" (190, 100, …)
// with what to do, or "not checked yet" instead of calling a fake token Enabled.
//
// Saving never waits for Meta: the check runs after the commit, in the background, and
// its result is stored on the channel and published as `channel.updated`. While Meta
// cannot be reached the channel stays unchecked and is asked again with backoff; at start
// every channel Meta has not judged yet is asked again.
import type { FastifyBaseLogger } from 'fastify'
import type { UnitLog } from '../../events/event-log.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { CredentialsVerdict } from '../../channels/provider.ts'
import type { ChannelRow } from '../../store/inbox-store.ts'
import type { UnitRunner } from '../../store/runner.ts'
import { toPublicChannel, type ChannelDirectory } from './channels.ts'
import { retryDelay } from '../sending/outbox-rate.ts'

export interface ChannelChecksDeps {
  channels: ChannelDirectory
  /** Each channel's provider asks Meta about its own kind of credentials. */
  providers: Pick<ChannelProviders, 'for'>
  /** Reads (issue 17: units of work, either database). */
  units: Pick<UnitRunner, 'read'>
  /** The verdict is stored with its `channel.updated` in one unit. */
  unitLog: UnitLog
  now: () => number
  log: FastifyBaseLogger
  retryBaseMs: number
  retryCapMs: number
}

export class ChannelChecks {
  private readonly timers = new Map<number, NodeJS.Timeout>()
  private readonly attempts = new Map<number, number>()
  /** Channels saved while running: their verdicts are sent live (see run). */
  private readonly announced = new Set<number>()
  private stopped = false

  constructor(private readonly d: ChannelChecksDeps) {}

  /** At start: every channel with a token Meta has not judged yet. */
  async start(): Promise<void> {
    this.stopped = false
    const unchecked = await this.d.units.read(() => this.d.channels.uncheckedWithTokenUnit())
    for (const c of unchecked) this.schedule(c.workspaceId, c.id, 0)
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  /** After a save: check now (a pending retry for the old credentials is replaced). */
  check(workspaceId: number, id: number): void {
    this.attempts.delete(id)
    this.announced.add(id)
    this.schedule(workspaceId, id, 0)
  }

  private schedule(workspaceId: number, id: number, delayMs: number): void {
    if (this.stopped) return
    clearTimeout(this.timers.get(id))
    const t = setTimeout(() => {
      this.timers.delete(id)
      this.run(workspaceId, id).catch((err) => this.d.log.error({ err, channelId: id }, 'channel credential check failed'))
    }, delayMs)
    t.unref()
    this.timers.set(id, t)
  }

  private async run(workspaceId: number, id: number): Promise<void> {
    const c = await this.d.units.read(() => this.d.channels.getUnit(workspaceId, id))
    if (!c?.accessToken) return
    const token = c.accessToken
    const verdict = await this.ask(c, token)
    if (this.stopped) return
    const now = this.d.now()
    let retryAt: number | null = null
    if (verdict.status === null) {
      const attempt = (this.attempts.get(id) ?? 0) + 1
      this.attempts.set(id, attempt)
      // Never sooner than a tenth of the base: a check must not spin on a dead link.
      const delay = Math.max(Math.ceil(this.d.retryBaseMs / 10), retryDelay(attempt, this.d.retryBaseMs, this.d.retryCapMs))
      retryAt = now + delay
      this.schedule(workspaceId, id, delay)
    } else {
      this.attempts.delete(id)
    }
    const detail =
      retryAt === null ? verdict.detail : `${verdict.detail} Parley asks again by itself (next at ${new Date(retryAt).toISOString()}).`
    // Live for a channel saved while running, when the verdict changes and on the save's
    // first answer (Meta away: say so at once); a retry that again finds Meta away is stored
    // without an event each time. Checks at start are stored only: the settings page reads
    // them when it loads, and every agent's stream is spared an event per channel per boot.
    const changed = this.announced.has(id) && (c.credentialsStatus !== verdict.status || c.credentialsCheckedAt === null)
    const channels = this.d.channels
    const dto = await this.d.unitLog.transact(function* (batch) {
      const row = yield* channels.recordCheckUnit(workspaceId, id, token, { status: verdict.status, checkedAt: now, detail })
      if (!row) return undefined
      const dto = toPublicChannel(row)
      if (changed) batch.emit(workspaceId, 'channel.updated', { channel: dto })
      return dto
    })
    // A new verdict is worth a line; another "Meta still away" retry only at debug.
    if (dto)
      this.d.log[c.credentialsStatus !== verdict.status ? 'info' : 'debug'](
        { channelId: id, credentials: dto.credentials.status },
        'channel credentials checked',
      )
  }

  /** Meta's answer about this token, in words an admin can act on. */
  private ask(c: ChannelRow, token: string): Promise<CredentialsVerdict> {
    return this.d.providers.for(c.kind).checkCredentials(c, token)
  }
}
