// The outbox: one row per outbound message, and every transition of its state machine
//   queued → sending (attempt + lease) → sent (wamid) | failed (code, reason) | unknown
// committed with the message's own status and a `message.updated` event in one
// transaction. Issue 17: each operation is a unit of work (store/unit.ts) taking the unit's
// `Emitter`, so the same transitions run on SQLite and PostgreSQL; the worker
// (outbox-worker.ts) runs each in its own transaction through a UnitLog and does the HTTP
// calls between them, never inside. A unit is lazy: a call neither yielded nor run does nothing.
import type { Emitter } from '../../events/event-log.ts'
import type { ChannelRow, MessageRow, NewMessage } from '../../store/inbox-store.ts'
import type { MessagesRepo } from '../../store/messages.ts'
import type { ChannelsRepo } from '../../store/channels.ts'
import { OutboxRepo, type NewOutboxRow, type OutboxRow } from '../../store/outbox.ts'
import { dialect, type Q } from '../../store/unit.ts'
import type { MessageStatus } from '../../store/schema.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { OutboundMessage } from '../../channels/provider.ts'
import type { ChannelKind } from '../../events/types.ts'
import type { WaStatus } from '../../channels/whatsapp/parse.ts'
import { localReasons } from './meta-errors.ts'
import type { InboxWriter } from '../inbox/writer.ts'

export type { OutboxRow } from '../../store/outbox.ts'

/** Message states the worker owns; once Meta has spoken (sent, delivered, …) only statuses move it. */
const PRE_SENT = new Set<MessageStatus>(['pending', 'queued', 'sending', 'unknown'])

export interface OutboxDeps {
  /** Repositories only (no connection of their own): the outbox runs on whichever database its units run on. */
  repos: { messages: MessagesRepo; channels: Pick<ChannelsRepo, 'kindOf'> }
  /** Messages change only through the inbox writer (their status, their wamid). */
  writer: InboxWriter
  /**
   * The event log's epoch, read when a callback tag is made or read (PostgreSQL's log
   * learns it at start, after the outbox is built).
   */
  epoch: () => string
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
    return `parley:${this.deps.epoch()}:${row.id}${resend > 0 ? `.${resend}` : ''}`
  }

  parseCallbackData(data: string | null): { id: number; resend: number } | undefined {
    const m = data ? /^parley:([^:]+):(\d+)(?:\.(\d+))?$/.exec(data) : null
    if (!m || m[1] !== this.deps.epoch()) return undefined
    const id = Number(m[2])
    const resend = m[3] === undefined ? 0 : Number(m[3])
    return Number.isSafeInteger(id) && Number.isSafeInteger(resend) ? { id, resend } : undefined
  }

  /**
   * The outbox row of a message just inserted, in the caller's unit (the message is
   * inserted in the same one). The channel's provider writes the stored body
   * (channels/provider.ts), and the same provider sends it later; the outbox never reads
   * inside it but for its own `_parley`.
   *
   * Not a generator on purpose: the refusal is thrown at the call, before any step, so a
   * caller that only calls it (a bug) is stopped as loudly as one that yields it.
   */
  enqueue(
    message: MessageRow,
    channel: ChannelKind,
    send: Omit<OutboundMessage, 'messageId'>,
    opts: { priority?: number } = {},
  ): Q<OutboxRow> {
    // Issue 14: only an outbound message is ever sent. A note or a line of the team's
    // activity (direction `system`) or a customer's message here is a bug, refused loudly
    // and rolled back with the caller's transaction — never a request to Meta.
    if (message.direction !== 'out') throw new OutboxRefused(message)
    const now = this.deps.now()
    const kind = send.content.type
    const payload = this.deps.providers.for(channel).buildSend({ ...send, messageId: message.id })
    return this.repo.insert({
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
    })
  }

  byId(id: number): Q<OutboxRow | undefined> {
    return this.repo.byId(id)
  }

  byMessage(messageId: number): Q<OutboxRow | undefined> {
    return this.repo.byMessage(messageId)
  }

  /** The message's send, locked until the caller's transaction ends (PostgreSQL). */
  lockByMessage(messageId: number): Q<OutboxRow | undefined> {
    return this.repo.lockByMessage(messageId)
  }

  /**
   * Sends whose answer will never be recorded become `unknown`: Meta may or may not have
   * the message, and resending could deliver it twice, so each waits for a status webhook
   * (or an agent's explicit retry). One transaction for all of them.
   * - SQLite, at start (no `leaseBefore`): every row still `sending` (one process: none is
   *   this one's). With `leaseBefore`: the rows whose lease ran out before it.
   * - PostgreSQL: always only the rows whose lease ran out by the database's clock (another
   *   process may be sending the others right now), locked by expireLeases and moved here,
   *   in the same transaction: never a separate re-check, which another process could have
   *   re-queued in between.
   * `skip`: this process's own sends in flight (their answer is still coming).
   */
  *abandonSending(batch: Emitter, leaseBefore?: number, skip?: ReadonlySet<number>): Q<number> {
    const pg = (yield* dialect()) === 'postgres'
    const rows =
      !pg && leaseBefore === undefined ? yield* this.sendingRows() : yield* this.repo.expireLeases(leaseBefore ?? this.deps.now())
    let n = 0
    for (const row of rows) {
      if (skip?.has(row.id) || row.state !== 'sending') continue
      yield* this.setOutbox(row.id, { state: 'unknown', leaseUntil: null, lastErrorText: 'interrupted mid-send' })
      yield* this.setAmbiguous(row.messageId, batch)
      n++
    }
    return n
  }

  private *sendingRows(): Q<OutboxRow[]> {
    const rows: OutboxRow[] = []
    for (const id of yield* this.repo.sendingIds(null)) {
      const row = yield* this.repo.byId(id)
      if (row) rows.push(row)
    }
    return rows
  }

  dueChannels(now: number): Q<number[]> {
    return this.repo.dueChannels(now)
  }

  /** Earliest future retry, for the worker's timer. */
  nextDueAt(now: number): Q<number | null> {
    return this.repo.nextDueAt(now)
  }

  /** Moves up to `limit` eligible rows to `sending` with a lease (their messages too); committed before any call. */
  *claim(batch: Emitter, channelId: number, limit: number, leaseMs: number): Q<OutboxRow[]> {
    if (limit <= 0) return []
    const claimed = yield* this.repo.claimDue(channelId, this.deps.now(), limit, leaseMs)
    for (const row of claimed) {
      yield* this.setMessage(row.messageId, batch, (m) => (PRE_SENT.has(m.status) ? { status: 'sending' } : null))
    }
    return claimed
  }

  /**
   * The sender is still waiting for these sends' answers: their leases run `leaseMs` from now
   * again, so only a sender that stopped renewing (dead, or cut off from the database) has
   * its sends turned `unknown` by the others — within one lease, not a worst-case call's time.
   */
  renewLeases(ids: readonly number[], leaseMs: number): Q<number> {
    return this.repo.renewLeases(ids, this.deps.now(), leaseMs)
  }

  /** Meta accepted the message and named it. */
  *markSent(batch: Emitter, id: number, wamid: string): Q<void> {
    const row = yield* this.repo.lockById(id)
    if (!row) return
    // A status webhook may have settled it already (statuses can outrun the answer).
    if (row.state === 'sent' && row.providerMessageId === wamid) {
      yield* this.setOutbox(id, { leaseUntil: null })
      return
    }
    const message = yield* this.deps.repos.messages.messageRowById(row.messageId)
    if (!message) return
    yield* this.assignWamid(row, message, wamid, batch)
  }

  *markFailed(batch: Emitter, id: number, failure: Failure): Q<void> {
    const row = yield* this.repo.lockById(id)
    if (!row || (row.state !== 'sending' && row.state !== 'queued')) return
    const now = this.deps.now()
    yield* this.setOutbox(id, {
      state: 'failed',
      leaseUntil: null,
      lastErrorCode: failure.code,
      lastErrorText: failure.title ?? failure.reason,
    })
    yield* this.setMessage(row.messageId, batch, (m) =>
      PRE_SENT.has(m.status)
        ? { status: 'failed', failedAt: now, errorCode: failure.code, errorTitle: failure.title, errorDetail: failure.reason }
        : null,
    )
  }

  *markUnknown(batch: Emitter, id: number, why: string): Q<void> {
    const row = yield* this.repo.lockById(id)
    if (!row || row.state !== 'sending') return
    yield* this.setOutbox(id, { state: 'unknown', leaseUntil: null, lastErrorText: why })
    yield* this.setAmbiguous(row.messageId, batch)
  }

  /** Back to the queue after a transient error; the message shows as queued again. */
  *scheduleRetry(batch: Emitter, id: number, at: number, code: number | null, text: string, countAttempt = true): Q<void> {
    const row = yield* this.repo.lockById(id)
    if (!row || row.state !== 'sending') return
    yield* this.setOutbox(id, {
      state: 'queued',
      nextAttemptAt: at,
      leaseUntil: null,
      lastErrorCode: code,
      lastErrorText: text,
      // A throttle is the number's problem, not this message's: it does not use up attempts.
      ...(countAttempt ? {} : { attempts: Math.max(0, row.attempts - 1) }),
    })
    yield* this.setMessage(row.messageId, batch, (m) => (PRE_SENT.has(m.status) ? { status: 'queued' } : null))
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
  *resend(batch: Emitter, workspaceId: number, messageId: number, opts: RequeueOptions = {}): Q<MessageRow | undefined> {
    // Locked first (PostgreSQL): two resends of one message run one after the other, and the
    // second reads the state the first wrote — never both from the same `failed`.
    const row = yield* this.repo.lockByMessage(messageId)
    if (!row || row.workspaceId !== workspaceId) return undefined
    const message = yield* this.deps.repos.messages.messageRowById(messageId)
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
    yield* this.setOutbox(row.id, {
      state: 'queued',
      attempts: 0,
      nextAttemptAt: now,
      lastErrorCode: null,
      lastErrorText: null,
      providerMessageId: null,
      payload,
    })
    return yield* this.setMessage(messageId, batch, () => ({
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
  }

  /**
   * Ingest hook: a status for a wamid Parley has not stored. If it carries one of our
   * callback tags, it names the outbox row whose answer never came (crash, dropped
   * connection) or has not come yet: the wamid is assigned and the caller applies the
   * status as usual. Runs inside the webhook's unit of work.
   */
  *reconcileStatus(channel: Pick<ChannelRow, 'id'>, st: WaStatus, batch: Emitter): Q<MessageRow | undefined> {
    const tag = this.parseCallbackData(st.bizOpaqueCallbackData)
    if (tag === undefined) return undefined
    const row = yield* this.repo.lockById(tag.id)
    if (!row || row.channelId !== channel.id || resendOf(row) !== tag.resend) return undefined
    const message = yield* this.deps.repos.messages.messageRowById(row.messageId)
    if (!message) return undefined
    if (message.providerMessageId !== null && message.providerMessageId !== st.providerId) return undefined
    // Named meanwhile (PostgreSQL): the send's answer committed while this waited for the row's
    // lock, after this webhook had looked the wamid up. Nothing to assign, and no event: the
    // caller applies the status to the message as it is now, as if it had found it at once.
    if (row.state === 'sent' && row.providerMessageId === st.providerId && message.providerMessageId === st.providerId) return message
    return yield* this.assignWamid(row, message, st.providerId, batch)
  }

  /**
   * Names the message with its wamid, marks the row sent (Meta has it, whatever our
   * call saw), and applies statuses that arrived before the name was known.
   */
  private *assignWamid(row: OutboxRow, message: MessageRow, wamid: string, batch: Emitter): Q<MessageRow | undefined> {
    const other = yield* this.deps.repos.messages.messageByProviderId(row.channelId, wamid)
    if (other && other.id !== message.id) return undefined // never two messages with one wamid
    yield* this.setOutbox(row.id, { state: 'sent', providerMessageId: wamid, leaseUntil: null })
    const { writer } = this.deps
    const named = yield* writer.updateMessage(null, message.id, {
      providerMessageId: wamid,
      ...(PRE_SENT.has(message.status) ? { status: 'sent' as const, errorCode: null, errorTitle: null, errorDetail: null } : {}),
    })
    // Taken (read and removed) in this transaction: applied here, or rolled back with it.
    const current = yield* writer.applyPendingStatuses(named)
    writer.messageChanged(batch, current)
    return current
  }

  private *setOutbox(id: number, set: Partial<NewOutboxRow>): Q<void> {
    yield* this.repo.update(id, { ...set, updatedAt: this.deps.now() })
  }

  /**
   * The message of an interrupted or unanswered send: "cannot tell whether it was sent",
   * naming the channel's service (WhatsApp or Messenger); only while Parley owns its state.
   */
  private *setAmbiguous(messageId: number, batch: Emitter): Q<void> {
    const m = yield* this.deps.repos.messages.messageRowById(messageId)
    if (!m || !PRE_SENT.has(m.status)) return
    const kind = (yield* this.deps.repos.channels.kindOf(m.channelId)) ?? 'whatsapp'
    yield* this.deps.writer.updateMessage(batch, messageId, {
      status: 'unknown',
      errorCode: null,
      errorTitle: 'Not confirmed',
      errorDetail: localReasons(kind).ambiguous,
    })
  }

  /** Applies `patch(message)` (null: no change) and emits the update. */
  private *setMessage(messageId: number, batch: Emitter, patch: (m: MessageRow) => Partial<NewMessage> | null): Q<MessageRow | undefined> {
    const m = yield* this.deps.repos.messages.messageRowById(messageId)
    if (!m) return undefined
    const p = patch(m)
    if (!p) return m
    return yield* this.deps.writer.updateMessage(batch, messageId, p)
  }
}

export interface RequeueOptions {
  afterSend?: boolean
  /** Payload fields to set for the new attempt (Messenger: the tag the window calls for now). */
  payload?: Record<string, unknown>
  context?: Record<string, unknown> | null
}

/**
 * How many times an agent has sent this row again (0: the first send). Kept in the stored
 * body under `_parley`, the outbox's own key: providers never send `_` keys (channels/provider.ts).
 */
function resendOf(row: Pick<OutboxRow, 'payload'>): number {
  const n = (row.payload._parley as { resend?: unknown } | undefined)?.resend
  return typeof n === 'number' ? n : 0
}
