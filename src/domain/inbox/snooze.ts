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
import type { EventLog } from '../../events/event-log.ts'
import type { ConversationDTO, SystemLineData } from '../../events/types.ts'
import type { InboxStore } from '../../store/inbox-store.ts'
import type { SnoozeRepo } from '../../store/snooze.ts'
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
  store: InboxStore
  writer: InboxWriter
  events: EventLog
  /** The workspace's timezone, for the stored text of a snooze line. */
  timeZoneOf: (workspaceId: number) => string | undefined
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
   * moves the time (a new line); the same time again changes nothing.
   */
  snooze(who: { workspaceId: number; userId: number }, conversationId: number, until: number): ConversationDTO {
    const { store, writer, events } = this.deps
    const ws = who.workspaceId
    const now = this.deps.now()
    if (until <= now) throw Errors.snoozeInvalid('That time has already passed: choose a time in the future')
    if (until - now > SNOOZE_MAX_MS) throw Errors.snoozeInvalid('A snooze can last at most a year')
    const done = events.transact((batch) => {
      const current = store.conversation(ws, conversationId)
      if (!current) throw Errors.notFound('Conversation')
      const data: SystemLineData = {
        action: 'snoozed',
        actor: { userId: who.userId, name: store.userName(ws, who.userId) ?? 'An agent' },
        until,
      }
      const line = { text: systemLineText(data, this.deps.timeZoneOf(ws)), data, userId: who.userId, now }
      return writer.snooze(batch, current, until, line) ?? current
    })
    this.wakeup.soon(Math.min(RECHECK_MS, until - now))
    return done
  }

  /** A customer's message on a snoozed conversation (in its transaction): the line below it. */
  readonly customerWrote = (e: CustomerWrote): void => {
    if (e.before.status !== 'snoozed') return
    const ws = e.after.workspaceId
    const conversation = this.deps.store.conversation(ws, e.after.id)
    if (!conversation) return
    const data: SystemLineData = { action: 'unsnoozed', actor: null, reason: 'customer' }
    this.deps.writer.recordSystemLine(e.batch, conversation, {
      workspaceId: ws,
      text: systemLineText(data),
      data,
      userId: null,
      now: this.deps.now(),
    })
  }

  /** Wakes every snooze that is due; returns when to look again. */
  private pass(): number {
    try {
      const n = this.wakeDue()
      if (n === WAKE_BATCH) return 0
      const next = this.deps.repo.nextDue()
      return next === undefined ? RECHECK_MS : Math.min(RECHECK_MS, Math.max(0, next - this.deps.now()))
    } catch (err) {
      this.deps.onError?.(err)
      return RECHECK_MS
    }
  }

  private wakeDue(): number {
    const { repo, store, writer, events } = this.deps
    return events.transact((batch) => {
      const now = this.deps.now()
      const due = repo.due(now, WAKE_BATCH)
      for (const row of due) {
        const current = store.conversation(row.workspaceId, row.id)
        if (!current) continue
        const data: SystemLineData = { action: 'unsnoozed', actor: null, reason: 'due' }
        writer.wake(batch, current, { text: systemLineText(data), data, userId: null, now })
      }
      return due.length
    })
  }
}
