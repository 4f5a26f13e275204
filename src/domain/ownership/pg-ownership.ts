// Work ownership across several processes on PostgreSQL (issue 17; scale-out.md §3).
//
// Every renewal round (every `renewMs`) a process:
// 1. renews its heartbeat lease `node:<id>` — first, so that its expiry is never later than
//    its names': when a dead process's names have expired, it no longer counts as live and
//    the others take its names in the same round;
// 2. renews every lease it holds in one statement; a name whose renewal fails is dropped AT
//    ONCE (onLost): someone else may own it now;
// 3. counts the live processes (heartbeats) and takes free or expired names up to its fair
//    share, ceil(names / live processes); a process above its share (a newcomer joined) gives
//    the excess up, so the work spreads. A name left free for a whole `graceMs` (everyone was
//    at its share, e.g. after a handOver) is taken by anyone, so no name stays unowned.
//
// Besides the database's verdict, each held name has a LOCAL deadline: the moment before the
// last successful renewal was sent, plus the TTL, on this process's monotonic clock. The
// database set its expiry from its own clock at a later moment, so the local deadline
// comes first; owns() answers false from it on. This is what makes a process that was paused
// (GC, SIGSTOP, a VM migration) or cut off from the database stop acting before anyone else
// can take its names: it never needs a round trip to know it must stop. Only durations are
// measured locally; the lease times themselves are on the database's clock (leases.ts).
import type pg from 'pg'
import { acquireLease, freeLeases, liveOwners, pruneLeases, releaseLease, renewLeases } from '../../store/pg/leases.ts'
import { type LossReason, type LostInfo, type Ownership, OwnershipListeners } from './ownership.ts'

/**
 * Production lease length. Long enough that a GC pause, a slow statement (lock_timeout is 5 s)
 * or one missed round does not move a number; short enough that a dead process's numbers are
 * owned elsewhere well within the 20 s of issue 17 (TTL + one round ≈ 20 s at worst).
 */
export const LEASE_TTL_MS = 15_000
/** Production renewal period: three rounds per TTL, so one failed round loses nothing. */
export const LEASE_RENEW_MS = 5_000

const HEARTBEAT_PREFIX = 'node:'
/** Heartbeats of processes gone for this long are deleted at a start (each start has a new node id). */
const HEARTBEAT_KEEP_MS = 24 * 3600_000

export interface PgOwnershipOptions {
  /** This process (PARLEY_NODE_ID): the leases' owner. */
  nodeId: string
  names?: Iterable<string>
  /** Lease length (default LEASE_TTL_MS). */
  ttlMs?: number
  /** Period of the renewal rounds (default LEASE_RENEW_MS); well below ttlMs. */
  renewMs?: number
  /** How long a freed name waits for a process under its share before anyone takes it (default renewMs). */
  graceMs?: number
  /** How long a name this process gave up is left to the others (default ttlMs). */
  holdOffMs?: number
  /** A monotonic clock in ms for the local deadlines (default performance.now). */
  now?: () => number
  onError(err: unknown, what: string): void
}

interface Held {
  fence: number
  /** Local clock: owns() is false from here on unless a renewal moved it. */
  deadline: number
}

export class PgOwnership implements Ownership {
  readonly nodeId: string
  private readonly ttlMs: number
  private readonly renewMs: number
  private readonly graceMs: number
  private readonly holdOffMs: number
  private readonly now: () => number
  private readonly heartbeat: string
  private readonly names = new Set<string>()
  private readonly owned = new Map<string, Held>()
  /** Names given up on purpose, not to be taken back before the time (local clock). */
  private readonly holdOff = new Map<string, number>()
  private readonly listeners: OwnershipListeners
  private heartbeatFence: number | undefined
  private round: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private lapseTimer: NodeJS.Timeout | undefined
  private running = false
  /** wake() was asked while a round ran: the next round starts at once. */
  private wakeAgain = false
  /** What the last round saw, for health pages and the tests. */
  lastRound = { liveNodes: 0, share: 0 }

  constructor(
    private readonly pool: Pick<pg.Pool, 'query'>,
    private readonly opts: PgOwnershipOptions,
  ) {
    this.nodeId = opts.nodeId
    this.ttlMs = opts.ttlMs ?? LEASE_TTL_MS
    this.renewMs = opts.renewMs ?? LEASE_RENEW_MS
    if (!(this.renewMs < this.ttlMs))
      throw new Error(`lease renewal period (${this.renewMs} ms) must be shorter than the TTL (${this.ttlMs} ms)`)
    this.graceMs = opts.graceMs ?? this.renewMs
    this.holdOffMs = opts.holdOffMs ?? this.ttlMs
    this.now = opts.now ?? (() => performance.now())
    this.heartbeat = `${HEARTBEAT_PREFIX}${opts.nodeId}`
    this.listeners = new OwnershipListeners(opts.onError)
    for (const n of opts.names ?? []) this.names.add(n)
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    await pruneLeases(this.pool, HEARTBEAT_PREFIX, HEARTBEAT_KEEP_MS).catch((err) => this.opts.onError(err, 'pruning old heartbeats'))
    await this.runRound()
  }

  owns(name: string): boolean {
    const h = this.owned.get(name)
    if (!h) return false
    if (this.now() >= h.deadline) {
      // Answer false now; the listeners hear of it outside the caller's code.
      queueMicrotask(() => this.lapse())
      return false
    }
    return true
  }

  fence(name: string): number | undefined {
    return this.owns(name) ? this.owned.get(name)!.fence : undefined
  }

  held(): Array<{ name: string; fence: number }> {
    return [...this.owned.keys()].filter((n) => this.owns(n)).map((name) => ({ name, fence: this.owned.get(name)!.fence }))
  }

  setNames(names: Iterable<string>): void {
    const next = new Set(names)
    for (const n of [...this.owned.keys()]) if (!next.has(n)) void this.giveUp(n, 'removed')
    const added = [...next].some((n) => !this.names.has(n))
    this.names.clear()
    for (const n of next) this.names.add(n)
    // A new number's sends must not wait for the next period (up to renewMs): look now.
    if (added) this.wake()
  }

  onGained(fn: (name: string, fence: number) => void): () => void {
    return this.listeners.addGained(fn)
  }

  onLost(fn: (name: string, info: LostInfo) => void): () => void {
    return this.listeners.addLost(fn)
  }

  async handOver(name: string): Promise<boolean> {
    if (!this.owns(name)) return false
    this.holdOff.set(name, this.now() + this.holdOffMs)
    await this.giveUp(name, 'handed-over')
    return true
  }

  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    clearTimeout(this.lapseTimer)
    await this.round
    const gone = [...this.owned.keys()].map((n) => this.giveUp(n, 'stopped'))
    const hb = this.heartbeatFence
    this.heartbeatFence = undefined
    if (hb !== undefined) gone.push(this.release(this.heartbeat, hb))
    await Promise.all(gone)
    clearTimeout(this.lapseTimer)
  }

  /**
   * Runs a round now instead of at the next period: e.g. on a hint that another process
   * released a name (a handOver), so that the move leaves the name unowned for less than a
   * period. Does nothing while a round is running.
   */
  wake(): void {
    if (!this.running) return
    // A round running now may have read the names before the change: one more right after it.
    if (this.round) {
      this.wakeAgain = true
      return
    }
    clearTimeout(this.timer)
    void this.runRound()
  }

  private runRound(): Promise<void> {
    this.round = this.renewAndBalance()
      .catch((err) => this.opts.onError(err, 'a lease renewal round'))
      .finally(() => {
        this.round = undefined
        this.scheduleLapse()
        if (this.running) {
          const again = this.wakeAgain
          this.wakeAgain = false
          this.timer = setTimeout(() => void this.runRound(), again ? 0 : this.renewMs)
          this.timer.unref()
        }
      })
    return this.round
  }

  private async renewAndBalance(): Promise<void> {
    this.lapse()
    const t0 = this.now()
    // 1. The heartbeat (acquire: it keeps ours, or takes it back if it expired while we were away).
    this.heartbeatFence = await acquireLease(this.pool, this.heartbeat, this.nodeId, this.ttlMs)

    // 2. Renew what we hold.
    const toRenew = [...this.owned].map(([name, h]) => ({ name, fence: h.fence }))
    const renewed = await renewLeases(this.pool, this.nodeId, toRenew, this.ttlMs)
    for (const { name, fence } of toRenew) {
      const h = this.owned.get(name)
      if (!h || h.fence !== fence) {
        // Dropped while the renewal was in flight (lapsed, handed over): if the database
        // renewed it, nobody here works on it, so let the others have it now.
        if (renewed.has(name) && !h) void this.release(name, fence)
        continue
      }
      if (renewed.has(name)) h.deadline = Math.max(h.deadline, t0 + this.ttlMs)
      else this.drop(name, 'renew-failed')
    }
    if (!this.running) return

    // 3. Balance.
    const live = await liveOwners(this.pool, HEARTBEAT_PREFIX)
    const liveNodes = Math.max(1, live.length + (live.includes(this.nodeId) ? 0 : 1))
    const share = Math.ceil(this.names.size / liveNodes)
    this.lastRound = { liveNodes, share }
    const now = this.now()
    for (const [n, until] of this.holdOff) if (until <= now) this.holdOff.delete(n)

    const mine = [...this.owned.keys()]
    if (mine.length > share) {
      // Give up the ones we rank lowest: each process ranks names differently (rendezvous
      // hashing), so what one gives up another prefers, and the assignment stays stable.
      const excess = mine.sort((a, b) => this.rank(a) - this.rank(b)).slice(0, mine.length - share)
      for (const n of excess) {
        this.holdOff.set(n, now + this.holdOffMs)
        await this.giveUp(n, 'handed-over')
      }
      return
    }
    const wanted = [...this.names].filter((n) => !this.owned.has(n) && !this.holdOff.has(n))
    if (wanted.length === 0) return
    // Under our share: anything free. At it: only names left free for a whole grace period.
    const under = mine.length < share
    const free = await freeLeases(this.pool, wanted, under ? 0 : this.graceMs)
    free.sort((a, b) => this.rank(b) - this.rank(a))
    const room = under ? share - mine.length : free.length
    let taken = 0
    for (const name of free) {
      if (taken >= room || !this.running) break
      if (await this.take(name)) taken++
    }
  }

  private async take(name: string): Promise<boolean> {
    const t = this.now()
    const fence = await acquireLease(this.pool, name, this.nodeId, this.ttlMs)
    if (fence === undefined) return false // another process was quicker
    if (!this.running || !this.names.has(name)) {
      await this.release(name, fence)
      return false
    }
    this.owned.set(name, { fence, deadline: t + this.ttlMs })
    this.listeners.emitGained(name, fence)
    return true
  }

  /** Stops the work here first (onLost), then frees the lease: the two never overlap. */
  private async giveUp(name: string, reason: LossReason): Promise<void> {
    const h = this.owned.get(name)
    if (!h) return
    this.drop(name, reason)
    await this.release(name, h.fence)
  }

  private async release(name: string, fence: number): Promise<void> {
    try {
      await releaseLease(this.pool, name, this.nodeId, fence)
    } catch (err) {
      // Not fatal: the lease expires by itself after the TTL.
      this.opts.onError(err, `releasing the lease ${name}`)
    }
  }

  private drop(name: string, reason: LossReason, at = this.now()): void {
    const h = this.owned.get(name)
    if (!h) return
    this.owned.delete(name)
    // owns() already answered false from the deadline on (a renewal that failed after a slow
    // round trip is noticed late): the ownership ended there.
    this.listeners.emitLost(name, { fence: h.fence, reason, at: Math.min(at, h.deadline) })
  }

  /** Drops every name past its local deadline. */
  private lapse(): void {
    const now = this.now()
    for (const [name, h] of [...this.owned]) if (now >= h.deadline) this.drop(name, 'expired')
    this.scheduleLapse()
  }

  /** onLost fires at the deadline itself, even if nobody calls owns() and no round runs. */
  private scheduleLapse(): void {
    clearTimeout(this.lapseTimer)
    if (this.owned.size === 0) return
    const first = Math.min(...[...this.owned.values()].map((h) => h.deadline))
    this.lapseTimer = setTimeout(() => this.lapse(), Math.max(0, first - this.now()))
    this.lapseTimer.unref()
  }

  /** Rendezvous hashing (FNV-1a of node and name): this process's preference for a name. */
  private rank(name: string): number {
    let h = 0x811c9dc5
    const s = `${this.nodeId}\u0000${name}`
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    return h >>> 0
  }
}
