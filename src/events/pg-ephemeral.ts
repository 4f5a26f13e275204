// Viewing and typing across processes (issues 14 and 17): a relay for ephemeral frames.
//
// A person's signal reaches the process the load balancer sent it to; the people who may
// see the conversation can hold their streams on any process. The frame that process's
// ConversationPresence sends (workspace, channel, conversation, person, state, expiresAt)
// is published with pg_notify on channel `parley_ephemeral`, and every process hands the
// frames it hears to its stream hub (publishEphemeral). Nothing is written to any table:
// the event log never sees presence, and nothing is replayed.
//
// Its own frames: delivered locally at once, in publish(), and skipped when they come back
// through the database — a typing indicator reaches the streams next to the person without
// a round trip, and still does while the database or the listening connection is down.
// Each payload carries this process's tag to recognize them.
//
// Lost by design: a frame published while a listening connection is down is not heard by
// that process (frames are seconds-lived; the browser refreshes viewing every 5 s and the
// next frame carries the state again). The connection is reopened on its own, with a
// growing pause, like the event log's (pg-event-log.ts). NOTIFY payloads are limited to
// 8000 bytes: frames waiting to go out are packed several to a NOTIFY under that, and a
// newer frame for the same conversation and person replaces an unsent older one.
import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { PgListener } from '../store/pg/listener.ts'
import type { PresenceFrame } from './types.ts'

export const EPHEMERAL_CHANNEL = 'parley_ephemeral'
/** PostgreSQL's limit is 8000 bytes; a margin for the envelope. */
const MAX_PAYLOAD_BYTES = 7900
/** Frames waiting for a NOTIFY beyond this are dropped, oldest first (a database that stalls must not grow memory). */
const MAX_PENDING = 2000
/** A person's display name as relayed: enough to show, short enough that a frame always fits. */
const MAX_NAME_CHARS = 200

/** One frame for the streams of one channel's audience. */
export interface EphemeralSignal {
  workspaceId: number
  channelId: number
  frame: PresenceFrame
}

export interface PgEphemeralOptions {
  /** The server (not through a transaction pooler: LISTEN needs a session). */
  url: string
  /** Publishes the NOTIFYs (any pooled connection). */
  pool: Pick<pg.Pool, 'query'>
  /** This process's name (PARLEY_NODE_ID): the listening connection shows `parley-ephemeral:<id>`. */
  nodeId: string
  /** Where frames go, this process's own and the others': the hub's publishEphemeral. */
  deliver: (signal: EphemeralSignal) => void
  /** Another process stopped and released its leases (hintReleased): ownership looks now. */
  onReleased?: () => void
  onError?: (err: unknown, what: string) => void
}

/**
 * The wire form, kept short: n = sender's tag, s = [workspace, channel, frame][];
 * r = 1: the sender released its leases (a hint, no frames).
 */
interface Wire {
  n: string
  s: Array<[number, number, PresenceFrame]>
  r?: 1
}

export class PgEphemeralRelay {
  /** Frames heard from other processes (tests, metrics). */
  received = 0
  /** NOTIFYs sent (each packs one or more frames). */
  notifies = 0
  private readonly tag = randomBytes(6).toString('base64url')
  private readonly listener: PgListener
  private stopped = false
  private readonly pending = new Map<string, EphemeralSignal>()
  private sending = false

  constructor(private readonly opts: PgEphemeralOptions) {
    this.listener = new PgListener(opts.url, `parley-ephemeral:${opts.nodeId}`, EPHEMERAL_CHANNEL, {
      notified: (payload) => this.heard(payload),
      onError: (err, when) =>
        opts.onError?.(err, when === 'dropped' ? 'the ephemeral listening connection' : 'reopening the ephemeral listening connection'),
    })
  }

  /** Whether the listening connection is up. */
  get connected(): boolean {
    return this.listener.connected
  }

  /** How many times the listening connection came back after a drop. */
  get reconnects(): number {
    return this.listener.reconnects
  }

  async start(): Promise<void> {
    await this.listener.start()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.pending.clear()
    await this.listener.stop()
  }

  /** A frame from this process: delivered here now, and to the other processes through the database. */
  publish(signal: EphemeralSignal): void {
    if (this.stopped) return
    try {
      this.opts.deliver(signal)
    } catch (err) {
      this.opts.onError?.(err, 'delivering an ephemeral frame')
    }
    const frame = signal.frame
    const key = `${signal.workspaceId}:${frame.conversationId}:${frame.user.id}`
    // Re-inserted at the end: the order of the frames goes out as they were published.
    this.pending.delete(key)
    this.pending.set(key, {
      ...signal,
      frame: { ...frame, user: { id: frame.user.id, name: frame.user.name.slice(0, MAX_NAME_CHARS) } },
    })
    while (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value!)
    if (!this.sending) void this.flush()
  }

  /**
   * Tells the other processes this one has released its leases (a graceful stop): they look
   * at once instead of at their next round (up to LEASE_RENEW_MS), so a number moves in a
   * round trip on a rolling restart. A hint only: lost, the next round takes the names anyway.
   */
  async hintReleased(): Promise<void> {
    const wire: Wire = { n: this.tag, s: [], r: 1 }
    try {
      await this.opts.pool.query('SELECT pg_notify($1, $2)', [EPHEMERAL_CHANNEL, JSON.stringify(wire)])
    } catch (err) {
      this.opts.onError?.(err, 'hinting that leases were released')
    }
  }

  /** One NOTIFY at a time; what piles up meanwhile goes in the next ones, packed under the limit. */
  private async flush(): Promise<void> {
    this.sending = true
    try {
      while (this.pending.size > 0 && !this.stopped) {
        const payload = this.pack()
        try {
          await this.opts.pool.query('SELECT pg_notify($1, $2)', [EPHEMERAL_CHANNEL, payload])
          this.notifies++
        } catch (err) {
          // Lost, as any ephemeral frame may be; the next signal carries the state again.
          this.opts.onError?.(err, 'publishing an ephemeral frame')
        }
      }
    } finally {
      this.sending = false
    }
  }

  /** Takes the oldest pending frames that fit in one payload (at least one: each fits alone). */
  private pack(): string {
    const wire: Wire = { n: this.tag, s: [] }
    let bytes = Buffer.byteLength(JSON.stringify(wire))
    for (const [key, s] of this.pending) {
      const item = JSON.stringify([s.workspaceId, s.channelId, s.frame])
      const size = Buffer.byteLength(item) + 1
      if (wire.s.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) break
      wire.s.push([s.workspaceId, s.channelId, s.frame])
      bytes += size
      this.pending.delete(key)
    }
    return JSON.stringify(wire)
  }

  private heard(payload: string | undefined): void {
    let wire: Wire
    try {
      wire = JSON.parse(payload ?? '') as Wire
    } catch {
      return // not ours: anyone with access to the database may NOTIFY on the channel
    }
    if (!wire || wire.n === this.tag || !Array.isArray(wire.s)) return
    if (wire.r === 1) {
      try {
        this.opts.onReleased?.()
      } catch (err) {
        this.opts.onError?.(err, 'acting on released leases')
      }
    }
    for (const item of wire.s) {
      const signal = signalOf(item)
      if (!signal) continue
      this.received++
      try {
        this.opts.deliver(signal)
      } catch (err) {
        this.opts.onError?.(err, 'delivering an ephemeral frame')
      }
    }
  }
}

const STATES = new Set(['viewing', 'typing', 'idle'])
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0

/** A received item checked field by field: what the hub gets is always a well-formed frame. */
function signalOf(item: unknown): EphemeralSignal | undefined {
  if (!Array.isArray(item) || item.length !== 3) return undefined
  const [workspaceId, channelId, f] = item as [unknown, unknown, Partial<PresenceFrame> | null]
  if (!isId(workspaceId) || !isId(channelId) || !f || typeof f !== 'object') return undefined
  if (!isId(f.conversationId) || !f.user || !isId(f.user.id) || typeof f.user.name !== 'string') return undefined
  if (!STATES.has(f.state as string) || typeof f.expiresAt !== 'number' || !Number.isFinite(f.expiresAt)) return undefined
  if (f.mode !== undefined && f.mode !== 'reply' && f.mode !== 'note') return undefined
  const frame: PresenceFrame = {
    conversationId: f.conversationId,
    user: { id: f.user.id, name: f.user.name },
    state: f.state as PresenceFrame['state'],
    ...(f.mode ? { mode: f.mode } : {}),
    expiresAt: f.expiresAt,
  }
  return { workspaceId, channelId, frame }
}
