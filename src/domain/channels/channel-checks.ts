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
import type { EventLog } from '../../events/event-log.ts'
import { GraphError, type GraphClient } from '../../channels/whatsapp/graph-client.ts'
import type { ChannelRow } from '../../store/inbox-store.ts'
import { toPublicChannel, type ChannelDirectory } from './channels.ts'
import { retryDelay } from '../sending/outbox-rate.ts'

export interface ChannelChecksDeps {
  channels: ChannelDirectory
  graph: Pick<GraphClient, 'phoneNumberInfo' | 'me'>
  events: EventLog
  now: () => number
  log: FastifyBaseLogger
  retryBaseMs: number
  retryCapMs: number
}

type Verdict = { status: 'verified' | 'rejected' | null; detail: string }

// Meta's codes that say "not now" rather than "not this token": ask again later.
// 1/2 unknown/temporary, 4/17/32/613 call-rate limits, 80007 WABA rate limit, 130429 throughput.
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 613, 80007, 130429])

export class ChannelChecks {
  private readonly timers = new Map<number, NodeJS.Timeout>()
  private readonly attempts = new Map<number, number>()
  /** Channels saved while running: their verdicts are sent live (see run). */
  private readonly announced = new Set<number>()
  private stopped = false

  constructor(private readonly d: ChannelChecksDeps) {}

  /** At start: every channel with a token Meta has not judged yet. */
  start(): void {
    this.stopped = false
    for (const c of this.d.channels.uncheckedWithToken()) this.schedule(c.workspaceId, c.id, 0)
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
    const c = this.d.channels.get(workspaceId, id)
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
    const dto = this.d.events.transact((batch) => {
      const row = this.d.channels.recordCheck(workspaceId, id, token, { status: verdict.status, checkedAt: now, detail })
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
  private async ask(c: ChannelRow, token: string): Promise<Verdict> {
    try {
      if (c.kind === 'whatsapp') {
        const info = await this.d.graph.phoneNumberInfo(c.externalId, token)
        const who = [info.verifiedName, info.displayPhoneNumber].filter(Boolean).join(' · ')
        return { status: 'verified', detail: who || `Phone number ID ${info.id}` }
      }
      const me = await this.d.graph.me(token)
      if (me.id !== null && me.id !== c.externalId) {
        return {
          status: 'rejected',
          detail: `This token belongs to ${me.name ? `the Page “${me.name}”` : 'another Page'} (ID ${me.id}), not to Page ID ${c.externalId}. Paste the access token of this Page.`,
        }
      }
      return { status: 'verified', detail: me.name ?? `Page ID ${c.externalId}` }
    } catch (err) {
      return verdictOf(c, err)
    }
  }
}

function verdictOf(c: ChannelRow, err: unknown): Verdict {
  if (!(err instanceof GraphError)) throw err
  if (err.kind !== 'meta') return { status: null, detail: `Meta could not be reached (${err.message}).` }
  const code = err.code ?? 0
  if (TRANSIENT_CODES.has(code)) return { status: null, detail: `Meta asked to try later (${code}).` }
  if (code === 190) {
    return {
      status: 'rejected',
      detail:
        c.kind === 'whatsapp'
          ? 'Meta rejected the access token (190): it is invalid, expired or revoked. Create a permanent system-user token with whatsapp_business_messaging (Business settings → System users) and save it here.'
          : "Meta rejected the access token (190): it is invalid, expired or revoked. Copy the Page's access token again (Messenger → Settings → Access tokens) and save it here.",
    }
  }
  if (code === 100) {
    return {
      status: 'rejected',
      detail:
        c.kind === 'whatsapp'
          ? `Meta does not know phone number ID ${c.externalId} for this token (100). Check the Phone number ID under WhatsApp → API Setup, and that the token's system user was given this WhatsApp account.`
          : `Meta refused this token for Page ID ${c.externalId} (100). Check the Page ID and that the token is this Page's own access token.`,
    }
  }
  return { status: 'rejected', detail: `Meta refused the credentials (${code}): ${err.title ?? err.message}` }
}
