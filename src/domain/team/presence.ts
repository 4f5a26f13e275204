// Who is at work (issue 13): a person is online while they hold an open stream, and for
// a grace after their last one closes, so a network blip, a reload or one closed tab of
// several never flips them offline (Chatwoot flips agents offline from a backgrounded tab:
// chatwoot #5436). Offline means "no open stream for PRESENCE_OFFLINE_AFTER_SECONDS";
// automatic assignment counts only people who are online (and available).
//
// Fed by the stream hub (registered in app.ts); in memory only: after a restart everyone
// is offline until their browser reconnects, which it does within seconds.

/** Someone became online (their first stream) or offline (after the grace). */
export type PresenceListener = (userId: number, online: boolean) => void

export interface PresenceOptions {
  /** How long after the last stream closes a person still counts as online. */
  offlineAfterMs: number
  /** A listener threw: reported here, and the other listeners still run. */
  onListenerError?: (err: unknown) => void
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

  constructor(private readonly opts: PresenceOptions) {}

  /** From the stream hub: a person's first stream opened (true) or their last one closed (false). */
  streams(userId: number, workspaceId: number, open: boolean): void {
    if (this.stopped) return
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
