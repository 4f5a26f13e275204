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
// Two ways to run:
//  - `memory` (one process, SQLite): the streams this process holds are all there is; a
//    person's last stream closing starts the grace here, and users.streaming/seen_at carry
//    it across a restart. Unchanged since issue 13.
//  - `shared` (issue 17: several processes behind a load balancer, any of which may hold
//    any person's streams): each process keeps its own row per person in presence_nodes
//    (streaming, seen_at) and heartbeats the rows of the people it holds streams of. A
//    person is online while any process's row of theirs was seen within the grace: a stream
//    held on B keeps them online when their stream on A closes, and a process that dies
//    stops heartbeating, so its people go offline one grace after its last heartbeat (the
//    same blip as a restart). Each heartbeat also reads everyone's rows, so this process's
//    view of the others is at most one heartbeat old; its own streams count at once.
//    Every process tells its own listeners about changes of its own view, with where the
//    change came from, so work that should happen once per arrival (draining the pool) can
//    run only where the first stream opened ('here').
import type { PresenceRepo } from '../../store/presence.ts'
import type { UnitRunner } from '../../store/runner.ts'

/**
 * Someone became online or offline in this process's view. `where`: 'here' when a stream
 * this process holds made them online (their first anywhere, as far as it knows), or when
 * this process held one of their streams within the grace before they went offline;
 * 'elsewhere' when it learnt it from another process's rows (shared mode only).
 */
export type PresenceListener = (userId: number, online: boolean, where: 'here' | 'elsewhere') => void

/** Default heartbeat: often enough that the others' view is seconds old, never more than a quarter of the grace. */
export const PRESENCE_HEARTBEAT_MS = 5_000

export interface PresenceOptions {
  /** How long after the last stream closes a person still counts as online. */
  offlineAfterMs: number
  /** A listener threw: reported here, and the other listeners still run. */
  onListenerError?: (err: unknown) => void
  /** Presence's memory across restarts; none: in memory only. One process (either database). */
  memory?: {
    repo: Pick<PresenceRepo, 'mark' | 'recent'>
    /** Each mark is a transaction of its own, in order (fire and forget); the start reads through it. */
    runner: Pick<UnitRunner, 'transact' | 'read'>
    /** A mark failed: reported here, never thrown at the stream hub (the next mark writes the truth again). */
    onError?: (err: unknown) => void
  }
  /** Several processes on one database (issue 17): rows per process in presence_nodes. Not with `memory`. */
  shared?: {
    repo: Pick<PresenceRepo, 'putNodeRows' | 'heartbeat' | 'releaseNode' | 'sweepNodeRows' | 'onlineAcrossNodes'>
    /** This process's name among the others (PARLEY_NODE_ID). */
    nodeId: string
    /** Each write and each heartbeat is a transaction of its own. */
    runner: Pick<UnitRunner, 'transact'>
    /** Between heartbeats; default PRESENCE_HEARTBEAT_MS capped at a quarter of the grace; 0: none (tests call heartbeat()). */
    heartbeatMs?: number
    /** A write or a heartbeat failed (the view stays as it was; the next heartbeat writes the whole truth again). */
    onError?: (err: unknown) => void
  }
  now?: () => number
}

interface Person {
  workspaceId: number
  /** Set while the person has no stream and the grace runs. */
  offlineTimer: NodeJS.Timeout | undefined
}

/** Shared mode: a person as this process's streams know them. */
interface Held {
  workspaceId: number
  streaming: boolean
  /** When their last stream here closed (while not streaming). */
  closedAt: number
  /** Asks for a heartbeat when the grace after that close ends. */
  graceTimer: NodeJS.Timeout | undefined
}

export class Presence {
  private readonly people = new Map<number, Person>()
  private readonly listeners: PresenceListener[] = []
  private stopped = false

  private readonly now: () => number

  // Shared mode.
  private readonly held = new Map<number, Held>()
  /** Writes and heartbeats, one at a time and in order: a close is never overtaken by an earlier open. */
  private chain: Promise<void> = Promise.resolve()
  /** A heartbeat queued and not begun yet: later requests join it. */
  private queuedBeat: Promise<void> | undefined
  private beatTimer: NodeJS.Timeout | undefined

  constructor(private readonly opts: PresenceOptions) {
    if (opts.memory && opts.shared) throw new Error('Presence: memory (one process) or shared (several), not both')
    this.now = opts.now ?? Date.now
  }

  /**
   * At start: the people who were online when the process stopped count as online for
   * the grace (no event: nothing changed for anyone), unless a stream of theirs opens.
   * Shared mode: this process's rows from a former life under the same node id hold no
   * stream any more, and the view is read from every process's rows (no event either);
   * the heartbeat starts. The promise settles when that first read is done.
   */
  async start(): Promise<void> {
    const memory = this.opts.memory
    if (memory) {
      const since = this.now() - this.opts.offlineAfterMs
      for (const { userId, workspaceId } of await memory.runner.read(() => memory.repo.recent(since))) {
        // A stream that opened while this was read already counts them (and a stop ends it all).
        if (this.people.has(userId) || this.stopped) continue
        const person: Person = { workspaceId, offlineTimer: undefined }
        this.people.set(userId, person)
        this.startGrace(userId, person)
      }
    }
    const shared = this.opts.shared
    if (!shared) return
    const every = shared.heartbeatMs ?? Math.max(50, Math.min(PRESENCE_HEARTBEAT_MS, Math.floor(this.opts.offlineAfterMs / 4)))
    if (every > 0) {
      this.beatTimer = setInterval(() => void this.heartbeat(), every)
      this.beatTimer.unref()
    }
    this.enqueue(() => shared.runner.transact(() => shared.repo.releaseNode(shared.nodeId)))
    return this.heartbeat({ quiet: true })
  }

  /** From the stream hub: a person's first stream opened (true) or their last one closed (false). */
  streams(userId: number, workspaceId: number, open: boolean): void {
    if (this.stopped) return
    if (this.opts.shared) return this.sharedStreams(userId, workspaceId, open)
    const memory = this.opts.memory
    if (memory) {
      const at = this.now()
      // In the chain: an open's row is never overwritten by an earlier close's (PostgreSQL's
      // transactions may otherwise interleave; on SQLite each runs at once anyway).
      this.enqueue(() => memory.runner.transact(() => memory.repo.mark(userId, open, at)))
    }
    const person = this.people.get(userId)
    if (open) {
      if (person) {
        // Back within the grace: nothing happened as far as anyone else is concerned.
        clearTimeout(person.offlineTimer)
        person.offlineTimer = undefined
        return
      }
      this.people.set(userId, { workspaceId, offlineTimer: undefined })
      this.emit(userId, true, 'here')
      return
    }
    if (!person || person.offlineTimer) return
    this.startGrace(userId, person)
  }

  private startGrace(userId: number, person: Person): void {
    person.offlineTimer = setTimeout(() => {
      this.people.delete(userId)
      this.emit(userId, false, 'here')
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

  /**
   * At shutdown: no grace timer outlives the app. Shared mode: the writes in flight finish,
   * then this process's rows say it holds no stream since now (so its people get the grace
   * from now, and stay online wherever else they have a stream); the promise settles then.
   */
  stop(): Promise<void> {
    if (this.stopped) return this.chain
    this.stopped = true
    for (const p of this.people.values()) clearTimeout(p.offlineTimer)
    this.people.clear()
    clearInterval(this.beatTimer)
    for (const h of this.held.values()) clearTimeout(h.graceTimer)
    this.held.clear()
    const shared = this.opts.shared
    // Memory mode: the marks in flight finish (the app closes the database after this).
    if (!shared) return this.chain
    const at = this.now()
    return this.enqueue(() => shared.runner.transact(() => shared.repo.releaseNode(shared.nodeId, at)))
  }

  /**
   * Shared mode: one heartbeat — this process's rows written again from what it holds, long
   * stale rows of any process swept, and the view read from every process's rows (changes
   * told to the listeners). Runs on its own timer; tests with an injected clock call it.
   */
  heartbeat(opts: { quiet?: boolean } = {}): Promise<void> {
    const shared = this.opts.shared
    if (!shared || this.stopped) return Promise.resolve()
    if (this.queuedBeat) return this.queuedBeat
    const beat = this.enqueue(async () => {
      if (this.queuedBeat === beat) this.queuedBeat = undefined
      if (this.stopped) return
      const at = this.now()
      const grace = this.opts.offlineAfterMs
      const holding: Array<{ userId: number; workspaceId: number }> = []
      for (const [userId, h] of this.held) if (h.streaming) holding.push({ userId, workspaceId: h.workspaceId })
      const { repo, nodeId } = shared
      const online = await shared.runner.transact(function* () {
        yield* repo.heartbeat(nodeId, holding, at)
        // Twice the grace: a row is swept only long after it stopped counting for anyone.
        yield* repo.sweepNodeRows(at - 2 * grace)
        return yield* repo.onlineAcrossNodes(at - grace)
      })
      if (!this.stopped) this.applyView(online, opts.quiet === true)
    })
    this.queuedBeat = beat
    return beat
  }

  private sharedStreams(userId: number, workspaceId: number, open: boolean): void {
    const shared = this.opts.shared!
    const at = this.now()
    let h = this.held.get(userId)
    if (!h) this.held.set(userId, (h = { workspaceId, streaming: open, closedAt: at, graceTimer: undefined }))
    h.workspaceId = workspaceId
    h.streaming = open
    h.closedAt = at
    clearTimeout(h.graceTimer)
    h.graceTimer = undefined
    const row = { userId, workspaceId, streaming: open, seenAt: at }
    this.enqueue(() => shared.runner.transact(() => shared.repo.putNodeRows(shared.nodeId, [row])))
    if (open) {
      if (!this.people.has(userId)) {
        this.people.set(userId, { workspaceId, offlineTimer: undefined })
        this.emit(userId, true, 'here')
      }
      return
    }
    // The grace ends: whether they are offline is for every process's rows to say.
    h.graceTimer = setTimeout(() => void this.heartbeat(), this.opts.offlineAfterMs)
    h.graceTimer.unref()
  }

  /** The view from the rows, with what this process's own streams say on top (its writes may lag). */
  private applyView(rows: ReadonlyArray<{ userId: number; workspaceId: number }>, quiet: boolean): void {
    const now = this.now()
    const next = new Map<number, { workspaceId: number; here: boolean }>()
    for (const r of rows) next.set(r.userId, { workspaceId: r.workspaceId, here: false })
    const heldRecently = new Set<number>()
    for (const [userId, h] of this.held) {
      if (h.streaming || now - h.closedAt < this.opts.offlineAfterMs) {
        next.set(userId, { workspaceId: h.workspaceId, here: true })
        heldRecently.add(userId)
      } else {
        // Past the grace here: this process forgets them; its row ages out with the others.
        clearTimeout(h.graceTimer)
        this.held.delete(userId)
        heldRecently.add(userId)
      }
    }
    for (const userId of [...this.people.keys()]) {
      if (next.has(userId)) continue
      this.people.delete(userId)
      if (!quiet) this.emit(userId, false, heldRecently.has(userId) ? 'here' : 'elsewhere')
    }
    for (const [userId, n] of next) {
      const p = this.people.get(userId)
      if (p) {
        p.workspaceId = n.workspaceId
        continue
      }
      this.people.set(userId, { workspaceId: n.workspaceId, offlineTimer: undefined })
      if (!quiet) this.emit(userId, true, n.here ? 'here' : 'elsewhere')
    }
  }

  /** Runs `task` after the ones before it; a failure is reported and the chain goes on. */
  private enqueue(task: () => Promise<unknown>): Promise<void> {
    const run = this.chain.then(task).then(
      () => {},
      (err: unknown) => (this.opts.shared ?? this.opts.memory)?.onError?.(err),
    )
    this.chain = run
    return run
  }

  private emit(userId: number, online: boolean, where: 'here' | 'elsewhere'): void {
    for (const l of this.listeners) {
      try {
        l(userId, online, where)
      } catch (err) {
        this.opts.onListenerError?.(err)
      }
    }
  }
}
