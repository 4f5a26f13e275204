// Fan-out of committed events to open SSE connections.
//
// Rules (shared/reference/realtime.md): serialize once and write the same bytes to
// every recipient; subscribe before replay so nothing falls between history and live;
// a reader that does not keep up is closed (it replays on reconnect) instead of
// holding memory or slowing the others; one timer for all heartbeats.
//
// Per-user streams (issue 13): a connection carries what its person may see (Access)
// and gets exactly the events canSeeEvent allows, in id order (a filtered-out id is
// simply not sent). Connections are indexed by audience — a workspace's admins, each
// channel's members, each user — so an event for one channel touches only the streams
// that may see it, and each distinct set of visible events is framed once per flush:
// no serialization and no permission query per stream per event.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { LoggedEvent } from './event-log.ts'
import type { ReplayAudience } from '../store/events.ts'
import type { ResetPayload } from './types.ts'
import { type Access, canSeeChannel, canSeeEvent, replayAudienceOf } from '../domain/accounts/access.ts'

/**
 * The log a hub serves (issue 17): SQLite's EventLog (one process, reads at once) or
 * PostgreSQL's PgEventLog (this process's tailer publishes; replay pages are awaited).
 */
export interface HubLog {
  readonly epoch: string
  /** The highest id this process has published (fed to the hub). */
  readonly head: number
  readonly prunedThrough: number
  cursor(id?: number): string
  read(
    workspaceId: number,
    afterId: number,
    upToId: number,
    limit: number,
    audience?: ReplayAudience,
  ): LoggedEvent[] | Promise<LoggedEvent[]>
  /**
   * Several processes: resolves true once this process has published through `id` (a cursor
   * another process handed out, ahead of this one's tailer), false if the log has no such
   * event or it took longer than `timeoutMs`. Absent on SQLite: one process, head is the log's.
   */
  caughtUp?(id: number, timeoutMs: number): Promise<boolean>
}

// How long a stream waits for this process to reach a cursor another process handed out.
// The tailer is woken at once; its poll (EVENT_POLL_MS) is the fallback well inside this.
const CATCH_UP_MS = 5000

export interface StreamSubscriber {
  userId: number
  workspaceId: number
  sessionId: string
  /** Unix ms; the stream closes when the token expires. */
  expiresAt: number
  /** What this person may see, read when the stream opened and again at each resetUser. */
  access: Access
}

/**
 * Reads a stream's access again (after a change of role or channels); undefined when its
 * session no longer holds (revoked, user deactivated): the stream is closed. Awaited
 * (issue 17: the read is a database round trip on PostgreSQL).
 */
export type AccessReader = (sub: StreamSubscriber) => Promise<Access | undefined>

/** A person's first stream opened (`open`: true) or their last one closed (false). */
export type UserStreamsListener = (userId: number, workspaceId: number, open: boolean) => void

/** Who may see an ephemeral frame: one channel's audience, one person, or (neither) the whole workspace. */
export interface EphemeralAudience {
  channelId?: number
  userId?: number
}

/** What a stream is told once it is live (after its replay): the current ephemeral state (issue 14's presence). */
export type EphemeralSnapshot = (sub: StreamSubscriber) => Array<{ type: string; payload: unknown; audience: EphemeralAudience }>

export interface HubOptions {
  heartbeatMs: number
  pingMs: number
  maxBufferedBytes: number
  drainTimeoutMs: number
  /** Replay page size: bounds how long one replay holds the event loop. */
  replayPageSize?: number
  /**
   * Fan-out happens at once when the hub is idle, and at most once per this many ms
   * under load: at 1,000 streams, one write per stream per group commit was ~40% of
   * the server's time (bench, workload 2). 0 (the default) fans out every commit
   * before its webhooks are answered, so "answered 200" implies "on every stream";
   * a window breaks that ordering, which callers (and tests) rely on today.
   */
  coalesceMs?: number
  /**
   * Open streams one session may hold (issue 11, point 20: 500 were accepted). Past it
   * the session's oldest stream is closed rather than the new one refused: the oldest is
   * the likeliest to be a half-dead socket (a sleeping laptop's tab), and if it is alive
   * it reconnects and replays what it missed from its cursor. Unbounded when absent.
   */
  maxStreamsPerSession?: number
  /**
   * Ephemeral frames (presence) are written at most once per this many ms per stream,
   * gathered. Written one by one, 200 agents typing every 3 s made 13,400 socket writes a
   * second on 200 streams and message-event delivery p99 went from 141 ms to 14 s (bench
   * workload 14, --quick). 0: each frame at once.
   */
  ephemeralCoalesceMs?: number
}

// Presence is "within a second" (issue 14): a quarter of it gathers a burst of typing.
const DEFAULT_EPHEMERAL_COALESCE_MS = 250
// Presence writes per turn of the event loop (writeEphemeral).
const EPHEMERAL_WRITE_SLICE = 25

interface Conn extends StreamSubscriber {
  res: ServerResponse
  /**
   * Where the hub writes: the response's socket, with the chunked framing done once
   * per batch instead of by ServerResponse per connection (a fan-out to 1,000 local
   * sockets: 13.3 ms through res.write, 10.3 ms this way, 9.4 ms for bare write(2)).
   */
  socket: Socket
  /** HTTP/1.1 chunked (the usual case); an HTTP/1.0 peer (nginx's default upstream) gets raw bytes. */
  chunked: boolean
  /** Live events that arrived while history was being replayed. */
  pending: LoggedEvent[] | null
  pendingBytes: number
  /** Committed before this stream's cursor but not fanned out yet: skip, never send twice. */
  skipThrough: number
  blockedSince: number
  closed: boolean
  /** The person's access changed while history was replayed: a reset follows the replay. */
  resetAfterReplay: boolean
  /** `pending` holds live events while the access is read again (resetUser), not for a replay. */
  held: boolean
  /** The last access read started (resetUser) and the last one applied: they differ while one is in flight. */
  accessSeq: number
  accessApplied: number
  /** Scratch of one flush: the flush that last touched this stream, and what it sees in it. */
  mark: number
  key: string
}

/** One workspace's open streams, indexed by who may see what. */
interface Room {
  all: Set<Conn>
  /** Streams of admins: every channel. */
  admins: Set<Conn>
  /** Streams of agents, by each channel they are a member of. */
  byChannel: Map<number, Set<Conn>>
  /** Every stream of a person (their own events, resets, presence). */
  byUser: Map<number, Set<Conn>>
}

/** The events one group of streams sees in a flush, framed once for all of them. */
interface Group {
  events: LoggedEvent[]
  bytes: Buffer
  framed: Buffer | undefined
}

function addTo<K>(map: Map<K, Set<Conn>>, key: K, c: Conn): void {
  let set = map.get(key)
  if (!set) map.set(key, (set = new Set()))
  set.add(c)
}

/** Removes; true when the set became empty (and was dropped). */
function removeFrom<K>(map: Map<K, Set<Conn>>, key: K, c: Conn): boolean {
  const set = map.get(key)
  if (!set?.delete(c) || set.size > 0) return false
  map.delete(key)
  return true
}

const CRLF = Buffer.from('\r\n')

/**
 * One HTTP/1.1 chunk (the response was sent with `Transfer-Encoding: chunked`): the
 * same bytes for every connection, so it is framed once per batch.
 */
export function httpChunk(data: string | Buffer): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`, 'latin1'), body, CRLF])
}

const HEARTBEAT = Buffer.from(': hb\n\n')
const HEARTBEAT_CHUNK = httpChunk(HEARTBEAT)

export function frameOf(epoch: string, ev: LoggedEvent): string {
  return `id: ${epoch}:${ev.id}\nevent: ${ev.type}\ndata: ${ev.data}\n\n`
}

/** A live-only frame: no `id:` line, so it is not a position in the log. */
export function ephemeralFrameOf(type: string, payload: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`
}

export type CursorCheck = { ok: true; afterId: number } | { ok: false; reason: ResetPayload['reason'] }

export class StreamHub {
  private readonly rooms = new Map<number, Room>()
  /** Each session's open streams, oldest first (a Set keeps insertion order). Touched on open and close only. */
  private readonly bySession = new Map<string, Set<Conn>>()
  private readonly maxPerSession: number
  private timer: NodeJS.Timeout | undefined
  private lastPingAt = 0
  private lastBeatAt = 0
  /** Committed events not fanned out yet, and the highest id that has been. */
  private queued: LoggedEvent[] = []
  private flushedThrough: number
  private flushTimer: NodeJS.Timeout | undefined
  private lastFlushAt = -Infinity
  private readonly coalesceMs: number
  private readonly pageSize: number
  private flushSeq = 0
  private accessOf: AccessReader | undefined
  private readonly userListeners: UserStreamsListener[] = []
  private snapshotOf: EphemeralSnapshot | undefined
  /** Ephemeral frames not written yet, per workspace, by key (insertion order kept). */
  private ephemeral = new Map<number, Map<string, { audience: EphemeralAudience; frame: string }>>()
  private ephemeralSeq = 0
  private ephemeralTimer: NodeJS.Timeout | undefined
  private lastEphemeralAt = -Infinity
  private readonly ephemeralMs: number

  constructor(
    private readonly log: HubLog,
    private readonly opts: HubOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.pageSize = opts.replayPageSize ?? 1000
    this.coalesceMs = opts.coalesceMs ?? 0
    this.ephemeralMs = opts.ephemeralCoalesceMs ?? DEFAULT_EPHEMERAL_COALESCE_MS
    this.maxPerSession = opts.maxStreamsPerSession ?? Infinity
    this.flushedThrough = log.head
  }

  get size(): number {
    let n = 0
    for (const room of this.rooms.values()) n += room.all.size
    return n
  }

  /** How a stream's access is read again at resetUser (the stream route knows sessions). */
  readAccessWith(reader: AccessReader): void {
    this.accessOf = reader
  }

  /** Presence (app.ts): called when a person's first stream opens and when their last one closes. */
  onUserStreams(listener: UserStreamsListener): void {
    this.userListeners.push(listener)
  }

  /** What a newly live stream is told of the ephemeral state (presence, app.ts). */
  ephemeralSnapshotWith(snapshot: EphemeralSnapshot): void {
    this.snapshotOf = snapshot
  }

  /** Whether this person has an open stream. */
  hasStreams(userId: number, workspaceId: number): boolean {
    return this.rooms.get(workspaceId)?.byUser.has(userId) ?? false
  }

  start(): void {
    if (this.timer) return
    this.lastPingAt = this.lastBeatAt = this.now()
    this.timer = setInterval(() => this.tick(), Math.min(this.opts.heartbeatMs, 1000))
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    clearTimeout(this.ephemeralTimer)
    this.ephemeralTimer = undefined
    this.ephemeral.clear()
    for (const room of [...this.rooms.values()]) for (const c of [...room.all]) this.close(c)
  }

  checkCursor(raw: string): CursorCheck {
    const m = /^([A-Za-z0-9_-]{1,32}):(\d{1,15})$/.exec(raw.trim())
    if (!m) return { ok: false, reason: 'unknown_cursor' }
    if (m[1] !== this.log.epoch) return { ok: false, reason: 'other_epoch' }
    const id = Number(m[2])
    if (id > this.log.head) return { ok: false, reason: 'ahead_of_log' }
    if (id < this.log.prunedThrough) return { ok: false, reason: 'pruned' }
    return { ok: true, afterId: id }
  }

  /**
   * Registers a stream (already answered 200 with SSE headers) and replays from the
   * cursor. Live events are buffered from this moment, before history is read, and
   * flushed after it above the replay's high-water mark: no gap, no duplicate.
   *
   * The high-water mark is what has been fanned out, not the log's head: events
   * committed but still queued for fan-out reach this stream through the fan-out,
   * and those at or below its cursor are skipped there.
   */
  open(res: ServerResponse, sub: StreamSubscriber, cursor: string | undefined): void {
    const socket = res.socket
    if (!socket || !res.headersSent) {
      // The hub writes to the socket itself: the headers must be out and the socket there.
      res.destroy()
      return
    }
    const chunked = res.chunkedEncoding
    const conn: Conn = {
      ...sub,
      res,
      socket,
      chunked,
      pending: null,
      pendingBytes: 0,
      skipThrough: this.log.head,
      blockedSince: 0,
      closed: false,
      resetAfterReplay: false,
      held: false,
      accessSeq: 0,
      accessApplied: 0,
      mark: 0,
      key: '',
    }
    const sessionStreams = this.bySession.get(sub.sessionId)
    if (sessionStreams) {
      for (const old of sessionStreams) {
        if (sessionStreams.size < this.maxPerSession) break
        this.close(old)
      }
    }
    let mine = this.bySession.get(sub.sessionId)
    if (!mine) this.bySession.set(sub.sessionId, (mine = new Set()))
    mine.add(conn)
    let room = this.rooms.get(sub.workspaceId)
    if (!room) this.rooms.set(sub.workspaceId, (room = { all: new Set(), admins: new Set(), byChannel: new Map(), byUser: new Map() }))
    const first = !room.byUser.has(sub.userId)
    // The person's streams share one Access while it is the same (memory per stream).
    const sibling = first ? undefined : room.byUser.get(sub.userId)!.values().next().value
    if (sibling && sameAccess(sibling.access, conn.access)) conn.access = sibling.access
    room.all.add(conn)
    addTo(room.byUser, sub.userId, conn)
    this.index(room, conn)
    res.on('close', () => this.remove(conn))
    if (first) for (const l of this.userListeners) l(sub.userId, sub.workspaceId, true)
    socket.on('drain', () => (conn.blockedSince = 0))

    if (cursor === undefined) return this.sendSnapshot(conn)
    const check = this.checkCursor(cursor)
    if (!check.ok && check.reason === 'ahead_of_log' && this.log.caughtUp) {
      // Live events are buffered meanwhile, as during a replay, and flushed above it.
      conn.pending = []
      void this.catchUpThenReplay(conn, cursor)
      return
    }
    if (!check.ok) {
      this.sendCursorReset(conn, check.reason)
      return this.sendSnapshot(conn)
    }
    conn.skipThrough = check.afterId
    if (check.afterId >= this.flushedThrough) return this.sendSnapshot(conn)
    conn.pending = []
    void this.replay(conn, check.afterId, this.flushedThrough)
  }

  /** A cursor from another process: wait for this one's tailer to reach it, then replay as usual. */
  private async catchUpThenReplay(conn: Conn, cursor: string): Promise<void> {
    const m = /:(\d+)$/.exec(cursor.trim())
    const reached = await this.log.caughtUp!(Number(m![1]), CATCH_UP_MS).catch(() => false)
    if (conn.closed) return
    const check = this.checkCursor(cursor)
    if (!reached || !check.ok) {
      conn.pending = null
      conn.pendingBytes = 0
      this.sendCursorReset(conn, check.ok ? 'ahead_of_log' : check.reason)
      if (this.holdWhileReading(conn)) return
      return this.sendSnapshot(conn)
    }
    conn.skipThrough = check.afterId
    void this.replay(conn, check.afterId, this.flushedThrough)
  }

  /** Files a stream under the audiences it belongs to (by its access). */
  private index(room: Room, c: Conn): void {
    if (c.access.channelIds === null) room.admins.add(c)
    else for (const ch of c.access.channelIds) addTo(room.byChannel, ch, c)
  }

  private unindex(room: Room, c: Conn): void {
    room.admins.delete(c)
    if (c.access.channelIds !== null) for (const ch of c.access.channelIds) removeFrom(room.byChannel, ch, c)
  }

  private async replay(conn: Conn, afterId: number, highWater: number): Promise<void> {
    let from = afterId
    try {
      while (!conn.closed && from < highWater) {
        // Read with the stream's audience (in SQL): a forged or old cursor replays only
        // what this person may see. Per page: a reset may change it mid-replay.
        const read = this.log.read(conn.workspaceId, from, highWater, this.pageSize, replayAudienceOf(conn.access))
        // SQLite answers at once (no extra turn per page); PostgreSQL's page is awaited.
        const page = Array.isArray(read) ? read : await read
        if (page.length === 0) break
        let chunk = ''
        for (const ev of page) chunk += frameOf(this.log.epoch, ev)
        from = page[page.length - 1]!.id
        if (!conn.socket.write(conn.chunked ? httpChunk(chunk) : chunk)) await this.drained(conn)
      }
    } catch {
      this.close(conn)
      return
    }
    if (conn.closed) return
    // Its access is being read again: held (not live under the old access) until that
    // read is applied, which sends the reset.
    if (this.holdWhileReading(conn)) return
    const pending = conn.pending ?? []
    conn.pending = null
    conn.pendingBytes = 0
    if (conn.resetAfterReplay) {
      // Its access changed meanwhile: the client refetches; what was buffered under the
      // old access is not sent (everything buffered is at or below the reset's cursor).
      conn.resetAfterReplay = false
      this.sendReset(conn, 'access_changed')
      return
    }
    let chunk = ''
    for (const ev of pending) if (ev.id > highWater) chunk += frameOf(this.log.epoch, ev)
    if (chunk) this.write(conn, chunk)
    this.sendSnapshot(conn)
  }

  /**
   * Live-only frames (issue 14: who is viewing or typing), with NO `id:` line — a
   * browser's EventSource keeps its last event id, so they never move a cursor — written
   * only to the streams of the audience, found from the same indexes as events. Never in
   * the event log, so never replayed: a stream still replaying skips them and gets the
   * current state (the snapshot) when its replay ends.
   *
   * Gathered like events under load: the first frame after a quiet spell goes out at
   * once, later ones within `ephemeralCoalesceMs`, each stream getting one write with
   * all of its frames. A frame with a `key` replaces an unsent one with the same key
   * (a person's newer state in the same conversation): only the latest matters.
   */
  publishEphemeral(workspaceId: number, type: string, payload: unknown, audience: EphemeralAudience = {}, key?: string): void {
    if (!this.rooms.has(workspaceId)) return
    let q = this.ephemeral.get(workspaceId)
    if (!q) this.ephemeral.set(workspaceId, (q = new Map()))
    const k = key === undefined ? `#${++this.ephemeralSeq}` : `k${key}`
    q.delete(k)
    q.set(k, { audience, frame: ephemeralFrameOf(type, payload) })
    if (this.ephemeralTimer) return
    const wait = this.lastEphemeralAt + this.ephemeralMs - this.now()
    if (wait <= 0) this.flushEphemeral()
    else {
      this.ephemeralTimer = setTimeout(() => this.flushEphemeral(), wait)
      this.ephemeralTimer.unref()
    }
  }

  /**
   * Writes the gathered frames: frames are grouped by audience, each stream touched gets
   * a key naming the audiences it is in, and streams with the same key share one buffer
   * (the admins all share one; a channel's members another), as in fanOut.
   */
  private flushEphemeral(): void {
    clearTimeout(this.ephemeralTimer)
    this.ephemeralTimer = undefined
    this.lastEphemeralAt = this.now()
    const all = this.ephemeral
    this.ephemeral = new Map()
    for (const [workspaceId, q] of all) {
      const room = this.rooms.get(workspaceId)
      if (!room) continue
      const byAudience = new Map<string, { audience: EphemeralAudience; frames: string }>()
      for (const { audience, frame } of q.values()) {
        const a = `${audience.userId ?? ''}/${audience.channelId ?? ''}`
        const got = byAudience.get(a)
        if (got) got.frames += frame
        else byAudience.set(a, { audience, frames: frame })
      }
      const seq = ++this.flushSeq
      const touched: Conn[] = []
      const parts: string[] = []
      const touch = (c: Conn, part: string) => {
        if (c.pending || c.closed) return
        if (c.mark !== seq) {
          c.mark = seq
          c.key = part
          touched.push(c)
        } else c.key += part
      }
      for (const { audience, frames } of byAudience.values()) {
        const part = `${parts.push(frames) - 1},`
        const { channelId, userId } = audience
        if (userId !== undefined) {
          const mine = room.byUser.get(userId)
          if (mine) for (const c of mine) if (channelId === undefined || canSeeChannel(c.access, channelId)) touch(c, part)
        } else if (channelId !== undefined) {
          for (const c of room.admins) touch(c, part)
          const members = room.byChannel.get(channelId)
          if (members) for (const c of members) touch(c, part)
        } else {
          for (const c of room.all) touch(c, part)
        }
      }
      const groups = new Map<string, { bytes: Buffer; framed: Buffer | undefined }>()
      const writes: Array<{ c: Conn; g: { bytes: Buffer; framed: Buffer | undefined } }> = []
      for (const c of touched) {
        let g = groups.get(c.key)
        if (!g) {
          let text = ''
          for (const i of c.key.split(',')) if (i !== '') text += parts[Number(i)]
          groups.set(c.key, (g = { bytes: Buffer.from(text), framed: undefined }))
        }
        writes.push({ c, g })
      }
      this.writeEphemeral(writes, 0)
    }
  }

  /**
   * Presence is never urgent next to a customer's message: its writes go out a slice at a
   * time, yielding between slices, so a message event that arrives meanwhile is fanned out
   * without waiting behind hundreds of presence writes (issue 14's benchmark row).
   */
  private writeEphemeral(writes: Array<{ c: Conn; g: { bytes: Buffer; framed: Buffer | undefined } }>, from: number): void {
    const end = Math.min(from + EPHEMERAL_WRITE_SLICE, writes.length)
    for (let i = from; i < end; i++) {
      const { c, g } = writes[i]!
      if (c.pending || c.closed) continue
      this.write(c, g.bytes, c.chunked ? (g.framed ??= httpChunk(g.bytes)) : undefined)
    }
    if (end < writes.length) setImmediate(() => this.writeEphemeral(writes, end))
  }

  /** The current ephemeral state, to a stream that just became live (filtered by what it may see). */
  private sendSnapshot(conn: Conn): void {
    if (!this.snapshotOf || conn.closed) return
    let chunk = ''
    for (const { type, payload, audience } of this.snapshotOf(conn)) {
      if (audience.userId !== undefined && audience.userId !== conn.userId) continue
      if (audience.channelId !== undefined && !canSeeChannel(conn.access, audience.channelId)) continue
      chunk += ephemeralFrameOf(type, payload)
    }
    if (chunk) this.write(conn, chunk)
  }

  private drained(conn: Conn): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        conn.socket.off('drain', ok)
        reject(new Error('drain timeout'))
      }, this.opts.drainTimeoutMs)
      const ok = () => {
        clearTimeout(t)
        resolve()
      }
      conn.socket.once('drain', ok)
    })
  }

  /** After each commit, with its events in id order (registered in app.ts's side effects). */
  publish(events: readonly LoggedEvent[]): void {
    if (events.length === 0) return
    for (const ev of events) this.queued.push(ev)
    if (this.flushTimer) return
    const wait = this.lastFlushAt + this.coalesceMs - this.now()
    if (wait <= 0) this.flush()
    else this.flushTimer = setTimeout(() => this.flush(), wait)
  }

  private flush(): void {
    this.flushTimer = undefined
    this.lastFlushAt = this.now()
    const events = this.queued
    if (events.length === 0) return
    this.queued = []
    this.flushedThrough = events[events.length - 1]!.id
    // One pass per workspace per flush: the commits of many webhooks become one write
    // per connection.
    const perWorkspace = new Map<number, LoggedEvent[]>()
    for (const ev of events) {
      if (!this.rooms.has(ev.workspaceId)) continue
      let list = perWorkspace.get(ev.workspaceId)
      if (!list) perWorkspace.set(ev.workspaceId, (list = []))
      list.push(ev)
    }
    for (const [workspaceId, evs] of perWorkspace) {
      const room = this.rooms.get(workspaceId)
      if (room) this.fanOut(room, evs)
    }
  }

  /**
   * Sends one workspace's events of a flush. Who sees what is found from the audience
   * indexes, never by testing every stream: a channel's event touches its members'
   * streams and the admins', a person's event their streams. Each touched stream gets a
   * key naming what it sees in this flush; streams with the same key share one frame
   * string, built once from the first of them (canSeeEvent once per group per event).
   */
  private fanOut(room: Room, evs: LoggedEvent[]): void {
    let wholeWorkspace = true
    for (const ev of evs) if (ev.channelId !== null || ev.userId !== null) wholeWorkspace = false
    if (wholeWorkspace) {
      const group = this.group(evs)
      for (const conn of room.all) this.deliver(conn, group)
      return
    }
    // The usual flush: a message or two in one conversation, so one channel. Its
    // audience is the admins and that channel's members (disjoint sets), and they all see
    // every event of it: the same loop as a whole-workspace event, over fewer streams.
    const channel = evs[0]!.channelId
    let oneChannel = channel !== null
    for (const ev of evs) if (ev.userId !== null || ev.channelId !== channel) oneChannel = false
    if (oneChannel) {
      const group = this.group(evs)
      for (const conn of room.admins) this.deliver(conn, group)
      const members = room.byChannel.get(channel!)
      if (members) for (const conn of members) this.deliver(conn, group)
      return
    }
    const seq = ++this.flushSeq
    const touched: Conn[] = []
    const touch = (c: Conn, part: string) => {
      if (c.mark !== seq) {
        c.mark = seq
        c.key = part
        touched.push(c)
      } else c.key += part
    }
    let workspaceWide = false
    const channels = new Set<number>()
    const personal: LoggedEvent[] = []
    for (const ev of evs) {
      if (ev.userId !== null) personal.push(ev)
      else if (ev.channelId !== null) channels.add(ev.channelId)
      else workspaceWide = true
    }
    if (workspaceWide) for (const c of room.all) touch(c, '')
    for (const ch of channels) {
      const part = `c${ch},`
      for (const c of room.admins) touch(c, part)
      const members = room.byChannel.get(ch)
      if (members) for (const c of members) touch(c, part)
    }
    for (const ev of personal) {
      const mine = room.byUser.get(ev.userId!)
      if (!mine) continue
      const part = `e${ev.id},`
      for (const c of mine) if (ev.channelId === null || canSeeChannel(c.access, ev.channelId)) touch(c, part)
    }
    if (touched.length === 0) return
    // The common case, one event or one audience: one group, no lookups.
    const only = touched[0]!.key
    let oneGroup = true
    for (const c of touched) if (c.key !== only) oneGroup = false
    if (oneGroup) {
      const group = this.group(evs.filter((ev) => canSeeEvent(touched[0]!.access, ev)))
      for (const c of touched) this.deliver(c, group)
      return
    }
    const groups = new Map<string, Group>()
    for (const c of touched) {
      let group = groups.get(c.key)
      if (!group) groups.set(c.key, (group = this.group(evs.filter((ev) => canSeeEvent(c.access, ev)))))
      this.deliver(c, group)
    }
  }

  private group(events: LoggedEvent[]): Group {
    let frames = ''
    for (const ev of events) frames += frameOf(this.log.epoch, ev)
    return { events, bytes: Buffer.from(frames), framed: undefined }
  }

  /** One flush's events for one stream: buffered while it replays, else written. */
  private deliver(conn: Conn, group: Group): void {
    const evs = group.events
    if (evs.length === 0) return
    if (conn.pending) {
      for (const ev of evs) conn.pending.push(ev)
      conn.pendingBytes += group.bytes.length
      if (conn.pendingBytes > this.opts.maxBufferedBytes) this.close(conn)
    } else if (conn.skipThrough >= evs[0]!.id) {
      // Opened while these were queued, with a cursor among them (rare): its own bytes.
      let own = ''
      for (const ev of evs) if (ev.id > conn.skipThrough) own += frameOf(this.log.epoch, ev)
      if (own) this.write(conn, own)
    } else {
      this.write(conn, group.bytes, conn.chunked ? (group.framed ??= httpChunk(group.bytes)) : undefined)
    }
  }

  /** Writes event-stream bytes; `framed` is the same bytes as one HTTP chunk, when the caller has it. */
  private write(conn: Conn, chunk: string | Buffer, framed?: Buffer): void {
    if (conn.closed || chunk.length === 0) return
    // What is still queued from earlier writes: past the bound the client is not
    // reading. Closing frees the memory; its cursor lets it replay later. The check
    // is on the backlog, not the new chunk, so one large batch never cuts a reader
    // that keeps up; what a connection holds stays under the bound plus one batch.
    if (conn.socket.writableLength > this.opts.maxBufferedBytes) {
      this.close(conn)
      return
    }
    // An empty chunk would end a chunked response: never written (checked above).
    const ok = conn.socket.write(conn.chunked ? (framed ?? httpChunk(chunk)) : chunk)
    if (!ok && conn.blockedSince === 0) conn.blockedSince = this.now()
  }

  /** Closes every stream of a session (logout) or of a user (disabled, password change). */
  closeWhere(pred: (s: StreamSubscriber) => boolean): number {
    let n = 0
    for (const room of [...this.rooms.values()])
      for (const c of [...room.all])
        if (pred(c)) {
          this.close(c)
          n++
        }
    return n
  }

  /** A person was deactivated: their streams close now (the client sees its session is gone). */
  closeUser(userId: number): number {
    let n = 0
    for (const c of this.streamsOf(userId)) {
      this.close(c)
      n++
    }
    return n
  }

  /**
   * A person's role or channels changed: each of their open streams reads its access
   * again and gets `reset` (reason access_changed), so the client refetches what it
   * shows; from the reset on it carries exactly what the new access allows. A stream
   * whose session no longer holds is closed. Resolves to how many streams were reset
   * (each read is awaited; a stream is held meanwhile, so nothing reaches it under the old access).
   */
  async resetUser(userId: number): Promise<number> {
    const reads = this.streamsOf(userId).map((c) => {
      const seq = ++c.accessSeq
      // Until the new access is applied nothing goes out under the old one: live events
      // are held (a replaying stream's own buffer holds them already; its end checks).
      if (!c.pending) this.hold(c)
      return this.readAccess(c).then((access) => this.applyAccess(c, seq, access))
    })
    let n = 0
    for (const applied of await Promise.all(reads)) if (applied) n++
    return n
  }

  private async readAccess(c: Conn): Promise<Access | undefined> {
    try {
      return this.accessOf ? await this.accessOf(c) : undefined
    } catch {
      // A failed read is no access: the client reconnects and authenticates afresh.
      return undefined
    }
  }

  /** A read of a stream's access is in: applied unless the stream closed or a later read was started (the last wins). */
  private applyAccess(c: Conn, seq: number, access: Access | undefined): boolean {
    if (c.closed || seq !== c.accessSeq) return false
    c.accessApplied = seq
    if (!access) {
      // Without a way to read it (or a session), the stream cannot stay: the client
      // reconnects and authenticates afresh.
      this.close(c)
      return false
    }
    const room = this.rooms.get(c.workspaceId)!
    this.unindex(room, c)
    c.access = access
    this.index(room, c)
    if (c.held) {
      // What was held came under the old access and is at or below the reset's cursor:
      // not sent; the client refetches. Ephemeral frames held back too: the snapshot.
      c.held = false
      c.pending = null
      c.pendingBytes = 0
      this.sendReset(c, 'access_changed')
      this.sendSnapshot(c)
    } else if (c.pending) c.resetAfterReplay = true
    else this.sendReset(c, 'access_changed')
    return true
  }

  private hold(c: Conn): void {
    c.pending = []
    c.pendingBytes = 0
    c.held = true
  }

  /** At a replay's end: held instead of going live when a read of its access is in flight. */
  private holdWhileReading(c: Conn): boolean {
    if (c.accessApplied === c.accessSeq) return false
    c.resetAfterReplay = false
    this.hold(c)
    return true
  }

  private streamsOf(userId: number): Conn[] {
    const out: Conn[] = []
    for (const room of this.rooms.values()) {
      const mine = room.byUser.get(userId)
      if (mine) out.push(...mine)
    }
    return out
  }

  /**
   * An in-band reset at what has been fanned out: everything at or below it was sent or
   * filtered, everything above comes live under the stream's current access.
   */
  /** A cursor this stream cannot resume from: start again from the log's head. */
  private sendCursorReset(conn: Conn, reason: ResetPayload['reason']): void {
    const reset: ResetPayload = { reason, cursor: this.log.cursor() }
    this.write(conn, `id: ${reset.cursor}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`)
  }

  private sendReset(conn: Conn, reason: ResetPayload['reason']): void {
    const reset: ResetPayload = { reason, cursor: this.log.cursor(this.flushedThrough) }
    this.write(conn, `id: ${reset.cursor}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`)
  }

  private tick(): void {
    const now = this.now()
    const ping = now - this.lastPingAt >= this.opts.pingMs
    if (ping) this.lastPingAt = this.lastBeatAt = now
    const beat = !ping && now - this.lastBeatAt >= this.opts.heartbeatMs
    if (beat) this.lastBeatAt = now
    const heartbeat = beat ? HEARTBEAT : null
    const pingFrame = ping ? Buffer.from(`event: ping\ndata: {"t":${now}}\n\n`) : null
    const pingChunk = pingFrame ? httpChunk(pingFrame) : undefined
    for (const room of this.rooms.values()) {
      for (const c of room.all) {
        if (c.expiresAt <= now) {
          this.close(c)
        } else if (c.blockedSince !== 0 && now - c.blockedSince > this.opts.drainTimeoutMs) {
          this.close(c)
        } else if (!c.pending) {
          if (pingFrame) this.write(c, pingFrame, pingChunk)
          else if (heartbeat) this.write(c, heartbeat, HEARTBEAT_CHUNK)
        }
      }
    }
  }

  private close(conn: Conn): void {
    if (conn.closed) return
    conn.closed = true
    conn.pending = null
    this.remove(conn)
    // destroy, not end: a client that does not read would never let end() finish.
    conn.res.destroy()
  }

  private remove(conn: Conn): void {
    conn.closed = true
    const room = this.rooms.get(conn.workspaceId)
    if (room?.all.delete(conn)) {
      this.unindex(room, conn)
      const last = removeFrom(room.byUser, conn.userId, conn)
      if (room.all.size === 0) this.rooms.delete(conn.workspaceId)
      if (last) for (const l of this.userListeners) l(conn.userId, conn.workspaceId, false)
    }
    const mine = this.bySession.get(conn.sessionId)
    if (mine?.delete(conn) && mine.size === 0) this.bySession.delete(conn.sessionId)
  }
}

function sameAccess(a: Access, b: Access): boolean {
  if (a === b) return true
  if (a.role !== b.role || a.userId !== b.userId || a.workspaceId !== b.workspaceId) return false
  if (a.channelIds === null || b.channelIds === null) return a.channelIds === b.channelIds
  if (a.channelIds.size !== b.channelIds.size) return false
  for (const ch of a.channelIds) if (!b.channelIds.has(ch)) return false
  return true
}
