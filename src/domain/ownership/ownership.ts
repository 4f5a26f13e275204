// Work ownership (issue 17): which process works on a phone number, a Messenger page or a
// campaign. With several processes on PostgreSQL each name (`channel:<id>`, `campaign:<id>`)
// is owned by one process at a time through a lease row (pg-ownership.ts), so the in-process
// per-number token bucket keeps working unchanged and the rate holds across processes
// (scale-out.md §3). With SQLite there is one process and it owns everything (LocalOwnership).
//
// The contract for whoever does the work (the sender, the campaign runner):
// - act on a name only while `owns(name)` answers true, and check it right before each act;
// - `onLost(name)` means stop now: another process may take it over;
// - `onGained(name, fence)` means start (resume from the database: the previous owner's
//   progress is committed there); the fence is higher than any earlier owner's.
// This module knows nothing else of the app; the lead wires it into sending and campaigns.

/** The name of a phone number's or a Messenger page's work (the outbox sends per channel). */
export function channelName(channelId: number): string {
  return `channel:${channelId}`
}

/** The name of a campaign's work (the campaign runner). */
export function campaignName(campaignId: number): string {
  return `campaign:${campaignId}`
}

/** What an owned name is about; undefined for any other name (heartbeats, a typo). */
export function parseOwnedName(name: string): { kind: 'channel' | 'campaign'; id: number } | undefined {
  const m = /^(channel|campaign):([1-9][0-9]*)$/.exec(name)
  if (!m) return undefined
  const id = Number(m[2])
  return Number.isSafeInteger(id) ? { kind: m[1] as 'channel' | 'campaign', id } : undefined
}

/**
 * `owns(id)` for one kind of name, as the outbox worker and the campaign runner take it
 * (e.g. `owns: ownsOf(ownership, channelName)`).
 */
export function ownsOf(ownership: Pick<Ownership, 'owns'>, nameOf: (id: number) => string): (id: number) => boolean {
  return (id) => ownership.owns(nameOf(id))
}

/** Why a name stopped being owned. */
export type LossReason =
  /** The lease could not be renewed (it is not ours with that fence any more). */
  | 'renew-failed'
  /** Its local deadline passed without a renewal (database unreachable, the process paused). */
  | 'expired'
  /** Given away on purpose: handOver(), or shed because this process held more than its share. */
  | 'handed-over'
  /** No longer among the names to own (setNames). */
  | 'removed'
  /** The ownership stopped (process shutting down). */
  | 'stopped'

export interface LostInfo {
  fence: number
  reason: LossReason
  /** When owns() turned false, on the ownership's clock (for an expiry: the deadline itself). */
  at: number
}

export interface Ownership {
  readonly nodeId: string
  /** Takes the first names (PostgreSQL: registers this process and takes its share). */
  start(): Promise<void>
  /** True only while this process may act on `name`; check right before each act. */
  owns(name: string): boolean
  /** The fence of a name owned now, to tag writes with (undefined if not owned). */
  fence(name: string): number | undefined
  /** The names owned now, with their fences. */
  held(): Array<{ name: string; fence: number }>
  /** The whole set of names to be owned by some process (every process should be given the same set). */
  setNames(names: Iterable<string>): void
  onGained(fn: (name: string, fence: number) => void): () => void
  onLost(fn: (name: string, info: LostInfo) => void): () => void
  /** Gives `name` up so that another process takes it (to force a move). False if not owned. */
  handOver(name: string): Promise<boolean>
  /** Gives everything up (others take it at once, without waiting for an expiry). */
  stop(): Promise<void>
}

/** Listener lists shared by both implementations; a throwing listener must not stop the others. */
export class OwnershipListeners {
  private gained: Array<(name: string, fence: number) => void> = []
  private lost: Array<(name: string, info: LostInfo) => void> = []
  constructor(private readonly onError: (err: unknown, what: string) => void) {}

  addGained(fn: (name: string, fence: number) => void): () => void {
    this.gained.push(fn)
    return () => {
      this.gained = this.gained.filter((f) => f !== fn)
    }
  }

  addLost(fn: (name: string, info: LostInfo) => void): () => void {
    this.lost.push(fn)
    return () => {
      this.lost = this.lost.filter((f) => f !== fn)
    }
  }

  emitGained(name: string, fence: number): void {
    for (const fn of this.gained) {
      try {
        fn(name, fence)
      } catch (err) {
        this.onError(err, `an onGained listener (${name})`)
      }
    }
  }

  emitLost(name: string, info: LostInfo): void {
    for (const fn of this.lost) {
      try {
        fn(name, info)
      } catch (err) {
        this.onError(err, `an onLost listener (${name})`)
      }
    }
  }
}

/**
 * One process (SQLite: a lock file refuses a second one on the same data directory): it owns
 * every name, at once and for good. Same interface, so the sender and the campaign runner
 * are written once.
 */
export class LocalOwnership implements Ownership {
  private readonly names = new Set<string>()
  private readonly fences = new Map<string, number>()
  private readonly owned = new Set<string>()
  private readonly listeners: OwnershipListeners
  private started = false

  constructor(
    readonly nodeId: string,
    names: Iterable<string> = [],
    private readonly opts: { now?: () => number; onError?: (err: unknown, what: string) => void } = {},
  ) {
    for (const n of names) this.names.add(n)
    this.listeners = new OwnershipListeners(opts.onError ?? (() => {}))
  }

  async start(): Promise<void> {
    this.started = true
    for (const n of this.names) this.take(n)
  }

  owns(name: string): boolean {
    return this.owned.has(name)
  }

  fence(name: string): number | undefined {
    return this.owned.has(name) ? this.fences.get(name) : undefined
  }

  held(): Array<{ name: string; fence: number }> {
    return [...this.owned].map((name) => ({ name, fence: this.fences.get(name)! }))
  }

  setNames(names: Iterable<string>): void {
    const next = new Set(names)
    for (const n of [...this.owned]) if (!next.has(n)) this.drop(n, 'removed')
    this.names.clear()
    for (const n of next) this.names.add(n)
    if (this.started) for (const n of next) if (!this.owned.has(n)) this.take(n)
  }

  onGained(fn: (name: string, fence: number) => void): () => void {
    return this.listeners.addGained(fn)
  }

  onLost(fn: (name: string, info: LostInfo) => void): () => void {
    return this.listeners.addLost(fn)
  }

  /** There is no other process: the work stops and starts again here, with a new fence. */
  async handOver(name: string): Promise<boolean> {
    if (!this.owned.has(name)) return false
    this.drop(name, 'handed-over')
    if (this.started && this.names.has(name)) this.take(name)
    return true
  }

  async stop(): Promise<void> {
    this.started = false
    for (const n of [...this.owned]) this.drop(n, 'stopped')
  }

  private take(name: string): void {
    const fence = (this.fences.get(name) ?? 0) + 1
    this.fences.set(name, fence)
    this.owned.add(name)
    this.listeners.emitGained(name, fence)
  }

  private drop(name: string, reason: LossReason): void {
    this.owned.delete(name)
    this.listeners.emitLost(name, { fence: this.fences.get(name)!, reason, at: (this.opts.now ?? Date.now)() })
  }
}
