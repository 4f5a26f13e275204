// Snooze (issue 14): a conversation leaves Open until a time, and comes back — status
// `open`, a line in the timeline, `conversation.updated` — when that time comes or the
// customer writes, whichever is first.
//
// The time lives in the row (conversations.snoozed_until), never only in a timer, so a
// restart loses nothing: one Wakeup looks at the earliest snoozed_until
// (conversations_snoozed_idx), wakes everything due, and sleeps until the next one. It
// runs once at start, so a snooze that came due while Parley was down wakes then. It is
// re-armed by every snooze and never sleeps longer than RECHECK_MS: Node's timers cannot
// wait past 24.8 days (a longer setTimeout fires at once), and a wall clock that jumps
// (a laptop waking, NTP) is noticed within that time.
//
// The customer's message ends a snooze in the writer (status open, snoozed_until null, in
// its transaction); `customerWrote` adds the line "Snooze ended: the customer wrote"
// right below their message, in the same transaction.
//
// Issue 17: the snooze and the wake-up are units of work, and the timer runs them through
// the unit log and runner it is given (either database). With several processes on
// PostgreSQL each runs this timer; a wake is the conditional UPDATE of SnoozeRepo.wake
// (still snoozed and due), so a snooze ends once, with one line and one event, whichever
// process gets there first. The line, the DTO and the snooze itself are the inbox writer's.
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { ConversationDTO, SystemLineData } from '../../events/types.ts'
import type { InboxRepos } from '../../store/inbox-store.ts'
import type { SnoozeRepo } from '../../store/snooze.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import { Errors } from '../../errors.ts'
import type { CustomerWrote } from '../effects.ts'
import { Wakeup } from '../wakeup.ts'
import { systemLineText } from './conversation-status.ts'
import type { InboxWriter } from './writer.ts'

/** How far ahead a snooze may reach: a year (and a day, so "a year from today" fits). */
export const SNOOZE_MAX_MS = 366 * 86_400_000
// The longest the timer sleeps: one index seek a minute costs nothing, and a snooze is
// never a minute late however the wall clock moved.
const RECHECK_MS = 60_000
// Snoozes woken in one transaction; more due (a long downtime) are woken in further passes.
const WAKE_BATCH = 200

export interface SnoozeDeps {
  repo: SnoozeRepo
  store: Pick<InboxRepos, 'conversations' | 'users'>
  writer: InboxWriter
  /** The wake-up's transactions, with their events. */
  unitLog: UnitLog
  /** The wake-up's reads (the next time to look). */
  units: UnitRunner
  /** The workspace's timezone, for the stored text of a snooze line. */
  timeZoneOf: (workspaceId: number) => Q<string | undefined>
  now: () => number
  onError?: (err: unknown) => void
}

export class Snoozes {
  private readonly wakeup: Wakeup

  constructor(private readonly deps: SnoozeDeps) {
    this.wakeup = new Wakeup(() => this.pass(), { now: deps.now })
  }

  /** At start: wakes what came due while Parley was down, then follows the earliest snooze. */
  start(): void {
    this.wakeup.start()
  }

  stop(): void {
    this.wakeup.stop()
  }

  /**
   * Looks now instead of at the next planned time (the clock moved: tests with a fake
   * clock). `after`, not `soon`: a planned time read on the old clock is not "earlier".
   */
  kick(): void {
    this.wakeup.after(0)
  }

  /**
   * Snoozes until `until` (ms): 422 SNOOZE_TIME_INVALID for a time not in the future or
   * more than a year away; 404 for a conversation not in this workspace. Snoozing again
   * moves the time (a new line); the same time again changes nothing. After it commits,
   * `snoozed(until)` re-arms this process's timer.
   */
  *snoozeUnit(batch: Emitter, who: { workspaceId: number; userId: number }, conversationId: number, until: number): Q<ConversationDTO> {
    const { store, writer } = this.deps
    const ws = who.workspaceId
    const now = this.deps.now()
    if (until <= now) throw Errors.snoozeInvalid('That time has already passed: choose a time in the future')
    if (until - now > SNOOZE_MAX_MS) throw Errors.snoozeInvalid('A snooze can last at most a year')
    const current = yield* store.conversations.conversationDTO(ws, conversationId)
    if (!current) throw Errors.notFound('Conversation')
    const data: SystemLineData = {
      action: 'snoozed',
      actor: { userId: who.userId, name: (yield* store.users.nameInWorkspace(ws, who.userId)) ?? 'An agent' },
      until,
    }
    const line = { text: systemLineText(data, yield* this.deps.timeZoneOf(ws)), data, userId: who.userId, now }
    return (yield* writer.snooze(batch, current, until, line)) ?? current
  }

  /** A snooze until `until` committed: the timer looks then (at the latest within RECHECK_MS). */
  snoozed(until: number): void {
    this.wakeup.soon(Math.min(RECHECK_MS, until - this.deps.now()))
  }

  /**
   * A customer's message on a snoozed conversation (effects.ts `onCustomerWrote`): the line
   * "Snooze ended: the customer wrote" below their message, in its transaction.
   */
  *customerWroteUnit(e: Pick<CustomerWrote, 'before' | 'after' | 'batch'>): Q<void> {
    if (e.before.status !== 'snoozed') return
    const ws = e.after.workspaceId
    const { store, writer } = this.deps
    const conversation = yield* store.conversations.conversationDTO(ws, e.after.id)
    if (!conversation) return
    const data: SystemLineData = { action: 'unsnoozed', actor: null, reason: 'customer' }
    yield* writer.recordSystemLine(e.batch, conversation, {
      workspaceId: ws,
      text: systemLineText(data),
      data,
      userId: null,
      now: this.deps.now(),
    })
  }

  /** Wakes every snooze that is due; returns when to look again. */
  private async pass(): Promise<number> {
    try {
      const n = await this.deps.unitLog.transact((batch) => this.wakeDueUnit(batch, this.deps.now()))
      if (n === WAKE_BATCH) return 0
      const next = await this.deps.units.read(() => this.deps.repo.nextDue())
      return next === undefined ? RECHECK_MS : Math.min(RECHECK_MS, Math.max(0, next - this.deps.now()))
    } catch (err) {
      this.deps.onError?.(err)
      return RECHECK_MS
    }
  }

  /**
   * Wakes up to WAKE_BATCH snoozes due at `now`, each claimed by its conditional UPDATE:
   * one another process (or the customer) ended first is skipped. Returns how many were
   * due (a full batch: look again at once).
   */
  *wakeDueUnit(batch: Emitter, now: number): Q<number> {
    const { repo, store, writer } = this.deps
    const due = yield* repo.due(now, WAKE_BATCH)
    for (const row of due) {
      const woken = yield* repo.wake(row.id, now)
      if (!woken) continue
      const data: SystemLineData = { action: 'unsnoozed', actor: null, reason: 'due' }
      const line = { text: systemLineText(data), data, userId: null, now }
      // The line below the conversation's messages and conversation.updated: the writer's.
      const conversation = (yield* store.conversations.conversationDTO(woken.workspaceId, woken.id))!
      yield* writer.recordSystemLine(batch, conversation, { workspaceId: woken.workspaceId, ...line })
      writer.conversationChanged(batch, woken.workspaceId, conversation)
    }
    return due.length
  }
}
