// Who is at work (issue 13): a person is online while they hold an open stream, and for
// a grace after their last one closes, so a network blip, a reload or one closed tab of
// several never flips them offline (Chatwoot flips agents offline from a backgrounded tab:
// chatwoot #5436). Offline means "no open stream for PRESENCE_OFFLINE_AFTER_SECONDS";
// automatic assignment counts only people who are online (and available).
//
// Fed by the stream hub (registered in app.ts). A restart — even a kill -9 — is a blip
// like any other: who held a stream when the process stopped (or closed their last one
// within the grace) stays online for the grace after the start, and their browser
// reconnects within seconds (store/presence.ts keeps that across restarts).
//
// Issue 17: per process by design. Each process knows the streams it holds; with several
// processes behind a load balancer a person online on node A is offline to node B's
// automatic assignment. Crossing processes would need the stream count per person in the
// database (or a heartbeat row per node and person, with expiry on the database clock) and
// the offline transition decided by one owner (a lease) so that it is emitted once.
// The memory across restarts is written through units (store/presence.ts, either database).
import type { PresenceRepo } from '../../store/presence.ts'
import type { Q } from '../../store/unit.ts'

/** Someone became online (their first stream) or offline (after the grace). */
export type PresenceListener = (userId: number, online: boolean) => void

export interface PresenceOptions {
  /** How long after the last stream closes a person still counts as online. */
  offlineAfterMs: number
  /** A listener threw: reported here, and the other listeners still run. */
  onListenerError?: (err: unknown) => void
  /** Presence's memory across restarts; none: in memory only. */
  memory?: {
    repo: Pick<PresenceRepo, 'mark' | 'recent'>
    /** Runs a unit at once (SQLite: runSync on the app's connection). */
    runNow: <T>(unit: Q<T>) => T
  }
  now?: () => number
}

interface Person {
  workspaceId: number
  /** Set while the person has no stream and the grace runs. */
  offlineTimer: NodeJS.Timeout | undefined
}

export class Presence {
  private readonly people = new Map<number, Person>()
  private readonly listeners: PresenceListener[] = []
  private stopped = false

  private readonly now: () => number

  constructor(private readonly opts: PresenceOptions) {
    this.now = opts.now ?? Date.now
  }

  /**
   * At start: the people who were online when the process stopped count as online for
   * the grace (no event: nothing changed for anyone), unless a stream of theirs opens.
   */
  start(): void {
    const memory = this.opts.memory
    if (!memory) return
    for (const { userId, workspaceId } of memory.runNow(memory.repo.recent(this.now() - this.opts.offlineAfterMs))) {
      if (this.people.has(userId)) continue
      const person: Person = { workspaceId, offlineTimer: undefined }
      this.people.set(userId, person)
      this.startGrace(userId, person)
    }
  }

  /** From the stream hub: a person's first stream opened (true) or their last one closed (false). */
  streams(userId: number, workspaceId: number, open: boolean): void {
    if (this.stopped) return
    const memory = this.opts.memory
    memory?.runNow(memory.repo.mark(userId, open, this.now()))
    const person = this.people.get(userId)
    if (open) {
      if (person) {
        // Back within the grace: nothing happened as far as anyone else is concerned.
        clearTimeout(person.offlineTimer)
        person.offlineTimer = undefined
        return
      }
      this.people.set(userId, { workspaceId, offlineTimer: undefined })
      this.emit(userId, true)
      return
    }
    if (!person || person.offlineTimer) return
    this.startGrace(userId, person)
  }

  private startGrace(userId: number, person: Person): void {
    person.offlineTimer = setTimeout(() => {
      this.people.delete(userId)
      this.emit(userId, false)
    }, this.opts.offlineAfterMs)
    person.offlineTimer.unref()
  }

  isOnline(userId: number): boolean {
    return this.people.has(userId)
  }

  /** The people of a workspace who are online (including those within the grace), ascending. */
  onlineUsers(workspaceId: number): number[] {
    const out: number[] = []
    for (const [userId, p] of this.people) if (p.workspaceId === workspaceId) out.push(userId)
    return out.sort((a, b) => a - b)
  }

  /** Called, in registration order, when someone becomes online or offline. */
  onChange(listener: PresenceListener): void {
    this.listeners.push(listener)
  }

  /** At shutdown: no grace timer outlives the app. */
  stop(): void {
    this.stopped = true
    for (const p of this.people.values()) clearTimeout(p.offlineTimer)
    this.people.clear()
  }

  private emit(userId: number, online: boolean): void {
    for (const l of this.listeners) {
      try {
        l(userId, online)
      } catch (err) {
        this.opts.onListenerError?.(err)
      }
    }
  }
}
