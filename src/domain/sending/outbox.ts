// The outbox: one row per outbound message, and every transition of its state machine
//   queued → sending (attempt + lease) → sent (wamid) | failed (code, reason) | unknown
// committed with the message's own status and a `message.updated` event in one
// transaction. Synchronous: the worker (outbox-worker.ts) does the HTTP calls between
// these commits, never inside them.
import type { EventBatch, EventLog } from '../../events/event-log.ts'
import type { Db } from '../../store/db.ts'
import { toMessageDTO, type ChannelRow, type InboxStore, type MessageRow, type NewMessage } from '../../store/inbox-store.ts'
import { OutboxRepo, type NewOutboxRow, type OutboxRow } from '../../store/outbox.ts'
import { sqliteConn } from '../../store/conn.ts'
import { runSync, type Q } from '../../store/unit.ts'
import type { MessageStatus } from '../../store/schema.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { OutboundMessage } from '../../channels/provider.ts'
import type { ChannelKind } from '../../events/types.ts'
import { statusErrorOf, type WaStatus, type WaStatusName } from '../../channels/whatsapp/parse.ts'
import { applyStatus } from '../inbox/message-status.ts'
import { localReasons } from './meta-errors.ts'
import type { InboxWriter } from '../inbox/writer.ts'

export type { OutboxRow } from '../../store/outbox.ts'

/** Message states the worker owns; once Meta has spoken (sent, delivered, …) only statuses move it. */
const PRE_SENT = new Set<MessageStatus>(['pending', 'queued', 'sending', 'unknown'])

export interface OutboxDeps {
  db: Db
  store: InboxStore
  /** Messages change only through the inbox writer (their status, their wamid). */
  writer: InboxWriter
  events: EventLog
  /** Each channel's provider writes its own stored bodies. */
  providers: Pick<ChannelProviders, 'for'>
  now: () => number
}

/** Thrown when anything but an outbound message is handed to the outbox (issue 14). */
export class OutboxRefused extends Error {
  constructor(message: Pick<MessageRow, 'id' | 'direction' | 'type'>) {
    super(`The outbox sends only outbound messages: message ${message.id} is ${message.direction} (${message.type})`)
    this.name = 'OutboxRefused'
  }
}

export interface Failure {
  code: number | null
  title: string | null
  reason: string
}

export class Outbox {
  private readonly repo: OutboxRepo

  constructor(private readonly deps: OutboxDeps) {
    this.repo = new OutboxRepo()
  }

  /**
   * What travels in biz_opaque_callback_data: the outbox id, tagged with this
   * database's epoch so a status for another install (or a restored backup) never
   * settles the wrong row.
   */
  callbackData(row: Pick<OutboxRow, 'id' | 'payload'>): string {
    const resend = resendOf(row)
    // An agent's resend is a new attempt with its own tag (`id.n`): a late status of the
    // abandoned attempt (its wamid is gone from the message) never settles this one.
    return `parley:${this.deps.events.epoch}:${row.id}${resend > 0 ? `.${resend}` : ''}`
  }

  parseCallbackData(data: string | null): { id: number; resend: number } | undefined {
    const m = data ? /^parley:([^:]+):(\d+)(?:\.(\d+))?$/.exec(data) : null
    if (!m || m[1] !== this.deps.events.epoch) return undefined
    const id = Number(m[2])
    const resend = m[3] === undefined ? 0 : Number(m[3])
    return Number.isSafeInteger(id) && Number.isSafeInteger(resend) ? { id, resend } : undefined
  }

  /**
   * Inside the caller's transaction (the message is inserted in the same one). The
   * channel's provider writes the stored body (channels/provider.ts), and the same
   * provider sends it later; the outbox never reads inside it but for its own `_parley`.
   */
  enqueue(
    message: MessageRow,
    channel: ChannelKind,
    send: Omit<OutboundMessage, 'messageId'>,
    opts: { priority?: number } = {},
  ): OutboxRow {
    // Issue 14: only an outbound message is ever sent. A note or a line of the team's
    // activity (direction `system`) or a customer's message here is a bug, refused loudly
    // and rolled back with the caller's transaction — never a request to Meta.
    if (message.direction !== 'out') throw new OutboxRefused(message)
    const now = this.deps.now()
    const kind = send.content.type
    const payload = this.deps.providers.for(channel).buildSend({ ...send, messageId: message.id })
    return this.now(
      this.repo.insert({
        workspaceId: message.workspaceId,
        channelId: message.channelId,
        conversationId: message.conversationId,
        messageId: message.id,
        kind,
        payload,
        priority: opts.priority ?? 0,
        state: 'queued',
        nextAttemptAt: now,
        createdAt: now,
        updatedAt: now,
      }),
    )
  }

  byId(id: number): OutboxRow | undefined {
    return this.now(this.repo.byId(id))
  }

  byMessage(messageId: number): OutboxRow | undefined {
    return this.now(this.repo.byMessage(messageId))
  }

  /**
   * At start: a row still `sending` belonged to a process that died mid-call. Meta may
   * or may not have the message; resending could deliver it twice, so it becomes
   * `unknown` and waits for a status webhook (or an agent's explicit retry).
   * With `leaseBefore`, only rows whose lease ran out (a call that never returned).
   */
  abandonSending(leaseBefore?: number, skip?: Set<number>): number {
    // At start every row in `sending` (one process: none is this one's); later, the leases that ran out.
    const ids =
      leaseBefore === undefined ? this.now(this.repo.sendingIds(null)) : this.now(this.repo.expireLeases(leaseBefore)).map((r) => r.id)
    let n = 0
    for (const id of ids) {
      if (skip?.has(id)) continue
      this.deps.events.transact((batch) => {
        const row = this.byId(id)
        if (!row || row.state !== 'sending') return
        this.setOutbox(id, { state: 'unknown', leaseUntil: null, lastErrorText: 'interrupted mid-send' })
        this.setMessage(row.messageId, batch, (m) =>
          PRE_SENT.has(m.status)
            ? { status: 'unknown', errorCode: null, errorTitle: 'Not confirmed', errorDetail: this.ambiguousFor(m.channelId) }
            : null,
        )
      })
      n++
    }
    return n
  }

  dueChannels(now: number): number[] {
    return this.now(this.repo.dueChannels(now))
  }

  /** Earliest future retry, for the worker's timer. */
  nextDueAt(now: number): number | null {
    return this.now(this.repo.nextDueAt(now))
  }

  /** Atomically moves up to `limit` eligible rows to `sending` with a lease; committed before any call. */
  claim(channelId: number, limit: number, leaseMs: number): OutboxRow[] {
    if (limit <= 0) return []
    const now = this.deps.now()
    return this.deps.events.transact((batch) => {
      const claimed = this.now(this.repo.claimDue(channelId, now, limit, leaseMs))
      for (const row of claimed) {
        this.setMessage(row.messageId, batch, (m) => (PRE_SENT.has(m.status) ? { status: 'sending' } : null))
      }
      return claimed
    })
  }

  /** Meta accepted the message and named it. */
  markSent(id: number, wamid: string): void {
    this.deps.events.transact((batch) => {
      const row = this.byId(id)
      if (!row) return
      // A status webhook may have settled it already (statuses can outrun the answer).
      if (row.state === 'sent' && row.providerMessageId === wamid) {
        this.setOutbox(id, { leaseUntil: null })
        return
      }
      const message = this.deps.store.runNow(this.deps.store.messages.messageRowById(row.messageId))
      if (!message) return
      this.assignWamid(row, message, wamid, batch)
    })
  }

  markFailed(id: number, failure: Failure): void {
    this.deps.events.transact((batch) => {
      const row = this.byId(id)
      if (!row || (row.state !== 'sending' && row.state !== 'queued')) return
      const now = this.deps.now()
      this.setOutbox(id, {
        state: 'failed',
        leaseUntil: null,
        lastErrorCode: failure.code,
        lastErrorText: failure.title ?? failure.reason,
      })
      this.setMessage(row.messageId, batch, (m) =>
        PRE_SENT.has(m.status)
          ? { status: 'failed', failedAt: now, errorCode: failure.code, errorTitle: failure.title, errorDetail: failure.reason }
          : null,
      )
    })
  }

  markUnknown(id: number, why: string): void {
    this.deps.events.transact((batch) => {
      const row = this.byId(id)
      if (!row || row.state !== 'sending') return
      this.setOutbox(id, { state: 'unknown', leaseUntil: null, lastErrorText: why })
      this.setMessage(row.messageId, batch, (m) =>
        PRE_SENT.has(m.status)
          ? { status: 'unknown', errorCode: null, errorTitle: 'Not confirmed', errorDetail: this.ambiguousFor(m.channelId) }
          : null,
      )
    })
  }

  /** Back to the queue after a transient error; the message shows as queued again. */
  scheduleRetry(id: number, at: number, code: number | null, text: string, countAttempt = true): void {
    this.deps.events.transact((batch) => {
      const row = this.byId(id)
      if (!row || row.state !== 'sending') return
      this.setOutbox(id, {
        state: 'queued',
        nextAttemptAt: at,
        leaseUntil: null,
        lastErrorCode: code,
        lastErrorText: text,
        // A throttle is the number's problem, not this message's: it does not use up attempts.
        ...(countAttempt ? {} : { attempts: Math.max(0, row.attempts - 1) }),
      })
      this.setMessage(row.messageId, batch, (m) => (PRE_SENT.has(m.status) ? { status: 'queued' } : null))
    })
  }

  /**
   * An agent's explicit "send again" for a failed or unconfirmed message: a new attempt.
   * Also for a message Meta accepted and then failed by status webhook (131000, 131049…):
   * its outbox row says `sent`, so the wamid of the failed attempt is dropped from the
   * message (the new send gets its own) and the resend counter in the callback tag moves
   * on — only with `afterSend` (an agent's retry); without it, any message Meta named is
   * refused (campaigns rely on that). Whether a retry can succeed at all is the caller's
   * question (send-recovery.ts).
   */
  requeue(
    workspaceId: number,
    messageId: number,
    opts: {
      afterSend?: boolean
      /** Payload fields to set for the new attempt (Messenger: the tag the window calls for now). */
      payload?: Record<string, unknown>
      context?: Record<string, unknown> | null
    } = {},
  ): MessageRow | undefined {
    return this.deps.events.transact((batch) => {
      const row = this.byMessage(messageId)
      if (!row || row.workspaceId !== workspaceId) return undefined
      const message = this.deps.store.runNow(this.deps.store.messages.messageRowById(messageId))
      if (!message) return undefined
      const failedAfterSend = opts.afterSend === true && row.state === 'sent' && message.status === 'failed'
      if (row.state !== 'failed' && row.state !== 'unknown' && !failedAfterSend) return undefined
      // Meta confirmed it after all (a status arrived): nothing to resend.
      if (!(message.status === 'failed' || message.status === 'unknown')) return undefined
      if (message.providerMessageId && !failedAfterSend) return undefined
      const now = this.deps.now()
      const payload = {
        ...row.payload,
        ...opts.payload,
        _parley: { ...((row.payload._parley as object | undefined) ?? {}), resend: resendOf(row) + 1 },
      }
      this.setOutbox(row.id, {
        state: 'queued',
        attempts: 0,
        nextAttemptAt: now,
        lastErrorCode: null,
        lastErrorText: null,
        providerMessageId: null,
        payload,
      })
      return this.setMessage(messageId, batch, () => ({
        status: 'queued',
        ...(opts.context !== undefined ? { context: opts.context } : {}),
        providerMessageId: null,
        sentAt: null,
        deliveredAt: null,
        readAt: null,
        failedAt: null,
        errorCode: null,
        errorTitle: null,
        errorDetail: null,
      }))
    })
  }

  /**
   * Ingest hook: a status for a wamid Parley has not stored. If it carries one of our
   * callback tags, it names the outbox row whose answer never came (crash, dropped
   * connection) or has not come yet: the wamid is assigned and the caller applies the
   * status as usual. Runs inside the webhook's transaction.
   */
  reconcileStatus(channel: ChannelRow, st: WaStatus, batch: EventBatch): MessageRow | undefined {
    const tag = this.parseCallbackData(st.bizOpaqueCallbackData)
    if (tag === undefined) return undefined
    const row = this.byId(tag.id)
    if (!row || row.channelId !== channel.id || resendOf(row) !== tag.resend) return undefined
    const message = this.deps.store.runNow(this.deps.store.messages.messageRowById(row.messageId))
    if (!message) return undefined
    if (message.providerMessageId !== null && message.providerMessageId !== st.providerId) return undefined
    return this.assignWamid(row, message, st.providerId, batch)
  }

  /**
   * Names the message with its wamid, marks the row sent (Meta has it, whatever our
   * call saw), and applies statuses that arrived before the name was known.
   */
  private assignWamid(row: OutboxRow, message: MessageRow, wamid: string, batch: EventBatch): MessageRow | undefined {
    const other = this.deps.store.messageByProviderId(row.channelId, wamid)
    if (other && other.id !== message.id) return undefined // never two messages with one wamid
    this.setOutbox(row.id, { state: 'sent', providerMessageId: wamid, leaseUntil: null })
    const { store, writer } = this.deps
    const named = store.runNow(
      writer.updateMessage(null, message.id, {
        providerMessageId: wamid,
        ...(PRE_SENT.has(message.status) ? { status: 'sent' as const, errorCode: null, errorTitle: null, errorDetail: null } : {}),
      }),
    )
    // Taken (read and removed) in this transaction: applied here, or rolled back with it.
    const current = store.runNow(writer.applyPendingStatuses(named))
    this.deps.writer.messageChanged(batch, current)
    return current
  }

  private setOutbox(id: number, set: Partial<NewOutboxRow>): void {
    this.now(this.repo.update(id, { ...set, updatedAt: this.deps.now() }))
  }

  /**
   * A repository unit at once (issue 17: the repository is units, this class is still
   * synchronous SQLite), inside the caller's open transaction if there is one.
   */
  private now<T>(unit: Q<T>): T {
    return runSync(unit, sqliteConn(this.deps.db.$client))
  }

  /** "Cannot tell whether it was sent", naming the channel's service (WhatsApp or Messenger). */
  private ambiguousFor(channelId: number): string {
    return localReasons(this.deps.store.runNow(this.deps.store.channels.kindOf(channelId)) ?? 'whatsapp').ambiguous
  }

  /** Applies `patch(message)` (null: no change) and emits the update. */
  private setMessage(messageId: number, batch: EventBatch, patch: (m: MessageRow) => Partial<NewMessage> | null): MessageRow | undefined {
    const m = this.deps.store.runNow(this.deps.store.messages.messageRowById(messageId))
    if (!m) return undefined
    const p = patch(m)
    if (!p) return m
    return this.deps.store.runNow(this.deps.writer.updateMessage(batch, messageId, p))
  }
}

/**
 * How many times an agent has sent this row again (0: the first send). Kept in the stored
 * body under `_parley`, the outbox's own key: providers never send `_` keys (channels/provider.ts).
 */
function resendOf(row: Pick<OutboxRow, 'payload'>): number {
  const n = (row.payload._parley as { resend?: unknown } | undefined)?.resend
  return typeof n === 'number' ? n : 0
}
