// The inbox's state: a factory of signals and computeds (no fetch, no DOM), so it runs
// the same in a browser and in a unit test. Every stream event goes through the one
// `applyEvent`; REST pages go through the `apply*Page` functions. Both obey one rule:
//
//   each conversation and message remembers the event id its copy is current to
//   (`asOf`); an event applies only if its id is above it, a REST snapshot (which
//   carries the event id it was read at) only if it is not older.
//
// That makes applying idempotent (a replayed or relayed event is a no-op), makes the
// order of REST answers and stream events irrelevant, and lets a slow page load never
// overwrite a newer live update (realtime.md rules 5 and 14).
import { batch, computed, signal, type Signal } from '@preact/signals'
import { failureReason, type ChannelKind, type ConversationDTO, type MessageDTO, type ResetPayload } from '../../../src/events/types.ts'
import { parseEventId } from './event-id.ts'
import {
  addCounts,
  assigneeOf,
  concernsMe,
  countsDelta,
  matchesView,
  type Assignee,
  type AssignView,
  type LineData,
  type ViewCounts,
} from './team.ts'
import type { ConnectionState, StreamEvent } from '../api/stream.ts'

export type StatusFilter = 'open' | 'pending' | 'snoozed' | 'resolved' | 'all'
/** The channel filter: every channel (''), every channel of a kind, or one number or page. */
export type ChannelFilter = '' | `kind:${ChannelKind}` | `ch:${number}`
// The stream's shapes belong to the api (it delivers them); the state applies them.
export type { ConnectionState, StreamEvent } from '../api/stream.ts'

export type ApplyResult = 'applied' | 'duplicate' | 'ignored' | 'reset'

/** A message typed by this agent and not yet confirmed by the server. */
export interface PendingMessage {
  clientMessageId: string
  conversationId: number
  text: string
  /** What the bubble shows for non-text sends (a template's name, a file's name). */
  label: string | null
  replyToMessageId: number | null
  createdAt: number
  state: 'sending' | 'failed'
  error: string | null
  /** The request body, kept so a retry resends exactly the same (idempotent) request. */
  body: Record<string, unknown>
  path: string
  /** An attachment still to upload before the message can be sent. */
  file?: File | null
}

export interface Thread {
  conversationId: number
  byId: Map<number, MessageDTO>
  asOf: Map<number, number>
  /** Message ids in ascending order: the order the server pages them in. */
  ids: number[]
  byClientId: Map<string, number>
  byProviderId: Map<string, number>
  pending: Map<string, PendingMessage>
  /** Bumped on every change; the view's computeds read it. */
  version: Signal<number>
  status: Signal<'loading' | 'ready' | 'error'>
  olderCursor: string | null
  hasOlder: Signal<boolean>
  loadingOlder: Signal<boolean>
  /**
   * Issue 15: a thread opened around a message (a search result) does not reach the live
   * end yet: `newerCursor` pages on from `upTo`, its newest loaded message, and what the
   * stream brings beyond it is held but not shown until the pages in between are in.
   */
  newerCursor: string | null
  hasNewer: Signal<boolean>
  loadingNewer: Signal<boolean>
  upTo: number
}

export interface ListPaging {
  key: string
  nextCursor: string | null
  /** Sort key of the last conversation of the last page loaded for this view. */
  frontier: { at: number; id: number } | null
  complete: boolean
  loading: boolean
}

/** How many event ids are remembered for dedupe (the per-entity `asOf` is the real guard). */
const SEEN_EVENTS = 5000
/** Events older than the newest known state compare by number within one epoch. */
const UNKNOWN = -1

export function listKey(
  filter: StatusFilter,
  query: string,
  channel: ChannelFilter = '',
  view: AssignView = 'all',
  label: number | null = null,
): string {
  return `${filter}|${channel}|${view}|${query.trim().toLowerCase()}${label === null ? '' : `|label:${label}`}`
}

/** Whether a conversation belongs to the channel filter (the server's `channel=` / `kind=`). */
export function matchesChannel(c: ConversationDTO, channel: ChannelFilter): boolean {
  if (channel === '') return true
  if (channel.startsWith('kind:')) return c.channelKind === channel.slice(5)
  return c.channelId === Number(channel.slice(3))
}

/** The channel filter as the list API's query parameters. */
export function channelParams(channel: ChannelFilter): { channel?: number; kind?: ChannelKind } {
  if (channel === '') return {}
  if (channel.startsWith('kind:')) return { kind: channel.slice(5) as ChannelKind }
  return { channel: Number(channel.slice(3)) }
}

/** Most recent activity first; ties by id, as the server pages them. */
export function compareConversations(a: ConversationDTO, b: ConversationDTO): number {
  return b.lastActivityAt - a.lastActivityAt || b.id - a.id
}

/** Mirrors the server's search (store/inbox-store.ts contactSearch) for instant results. */
export function matchesQuery(c: ConversationDTO, rawQuery: string): boolean {
  const q = rawQuery.trim().toLowerCase()
  if (!q) return true
  if ((c.contact.name ?? '').toLowerCase().includes(q)) return true
  const digits = q.replace(/\D/g, '')
  if (/^[\d\s+()./-]+$/.test(q) && digits) {
    return (c.contact.phone ?? '').includes(digits) || c.contact.externalId.includes(digits)
  }
  return false
}

export function createInboxState(opts: { now?: () => number } = {}) {
  const now = opts.now ?? Date.now

  // --- stream position -------------------------------------------------------
  /**
   * The cursor the stream resumes from: the bootstrap page's event id, then the id of
   * every event received. Later REST snapshots never move it (their state is newer,
   * but other state held here is only as new as the stream).
   */
  const cursor = signal<string | null>(null)
  const connection = signal<ConnectionState>('connecting')
  const lastSyncedAt = signal<number | null>(null)
  const seen = new Set<string>()

  // --- conversations ---------------------------------------------------------
  const conversations = new Map<number, ConversationDTO>()
  const convAsOf = new Map<number, number>()
  const convVersion = signal(0)
  const filter = signal<StatusFilter>('open')
  const query = signal('')
  /** Issue 15: the search box over the list; while it holds a query, search results replace the list (SearchResults.tsx). */
  const search = signal('')
  const channel = signal<ChannelFilter>('')
  /** Mine, Unassigned or All (issue 13), combined with the status and channel filters. */
  const view = signal<AssignView>('all')
  /** Issue 14: only conversations carrying this label (the list's `?label=`); null: any. */
  const label = signal<number | null>(null)
  /** Who is signed in: "Mine", the unread rule of their own reads, what concerns them. */
  const me = signal<number | null>(null)
  /**
   * The views' counts (GET /api/conversations/counts), moved by events whose change is
   * known here; `countsStale` is bumped when one is not (the app refetches them).
   */
  const counts = signal<ViewCounts | null>(null)
  const countsStale = signal(0)
  /** Names of the people seen (assignees, system lines, user.updated): the picker names channel members with them. */
  const knownNames = new Map<number, string>()
  const paging = signal<ListPaging>({ key: listKey('open', ''), nextCursor: null, frontier: null, complete: false, loading: false })
  /**
   * The newest `message.updated` (by event id) of each conversation's last message. The
   * server sends no conversation event when only a status changes, so the list's preview
   * status comes from here while it is newer than the conversation copy held.
   */
  const lastStatus = new Map<number, { messageId: number; n: number; status: string; error: string | null }>()
  const selectedId = signal<number | null>(null)

  // --- messages --------------------------------------------------------------
  const threads = new Map<number, Thread>()

  const messageListeners = new Set<(m: MessageDTO, c: ConversationDTO) => void>()
  const assignedListeners = new Set<(c: ConversationDTO, by: { id: number; name: string } | null) => void>()

  const epochOf = (): string | null => parseEventId(cursor.value)?.epoch ?? null

  function remember(id: string) {
    seen.add(id)
    if (seen.size > SEEN_EVENTS) seen.delete(seen.values().next().value as string)
  }

  /** Event id → its number, if it is from the database this state is current to. */
  function seqOf(id: string | null): number | null {
    const pos = parseEventId(id)
    if (!pos) return null
    const epoch = epochOf()
    return epoch === null || epoch === pos.epoch ? pos.n : null
  }

  function putConversation(dto: ConversationDTO, asOf: number): boolean {
    const prev = convAsOf.get(dto.id) ?? UNKNOWN
    if (prev > asOf) return false
    conversations.set(dto.id, withLastStatus(dto, asOf))
    convAsOf.set(dto.id, asOf)
    const a = assigneeOf(dto)
    if (a) knownNames.set(a.id, a.name)
    return true
  }

  /**
   * A conversation as an event carries it: one copy shared by everyone who may see it,
   * so its `unreadCount` is nobody's in particular. The count held here is this
   * person's own (issue 13, "unread per person"): it goes up by one for a customer's
   * message (not a reaction) and only to what `ownUnread` says for their own read; an
   * assignment, a status change or a label never moves it. The views' counts follow.
   */
  function putEventConversation(dto: ConversationDTO, n: number, opts: { inbound?: boolean; ownUnread?: number } = {}): boolean {
    const prev = conversations.get(dto.id)
    const held = prev?.unreadCount ?? 0
    const unreadCount = opts.ownUnread ?? (opts.inbound ? held + 1 : held)
    const next = unreadCount === dto.unreadCount ? dto : { ...dto, unreadCount }
    if (!putConversation(next, n)) return false
    const c = counts.value
    if (c) {
      const d = countsDelta(prev, next, me.value)
      if (d === null) countsStale.value++
      else if (d.mine || d.unassigned || d.all) counts.value = addCounts(c, d)
    }
    return true
  }

  /** The copy with its last message's status from a newer `message.updated`, if one was seen. */
  function withLastStatus(dto: ConversationDTO, asOf: number): ConversationDTO {
    const l = lastStatus.get(dto.id)
    if (!l || l.messageId !== dto.lastMessageId || l.n <= asOf) return dto
    return { ...dto, lastMessageStatus: l.status, lastMessageError: l.error }
  }

  function newThread(conversationId: number): Thread {
    return {
      conversationId,
      byId: new Map(),
      asOf: new Map(),
      ids: [],
      byClientId: new Map(),
      byProviderId: new Map(),
      pending: new Map(),
      version: signal(0),
      status: signal('loading'),
      olderCursor: null,
      hasOlder: signal(false),
      loadingOlder: signal(false),
      newerCursor: null,
      hasNewer: signal(false),
      loadingNewer: signal(false),
      upTo: 0,
    }
  }

  function insertId(ids: number[], id: number) {
    // New messages almost always go last; binary search for the rest.
    if (ids.length === 0 || ids[ids.length - 1]! < id) {
      ids.push(id)
      return
    }
    let lo = 0
    let hi = ids.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (ids[mid]! < id) lo = mid + 1
      else hi = mid
    }
    if (ids[lo] !== id) ids.splice(lo, 0, id)
  }

  /**
   * asOf null: a copy whose event id is unknown (the answer to a send). It only fills a
   * gap: it never overwrites a copy the stream already delivered.
   */
  function putMessage(t: Thread, m: MessageDTO, asOf: number | null): boolean {
    const had = t.byId.has(m.id)
    if (asOf === null) {
      if (had) {
        if (m.clientMessageId) t.pending.delete(m.clientMessageId)
        return false
      }
      asOf = UNKNOWN
    } else if ((t.asOf.get(m.id) ?? UNKNOWN) > asOf) {
      return false
    }
    t.byId.set(m.id, m)
    t.asOf.set(m.id, asOf)
    if (!had) insertId(t.ids, m.id)
    if (m.clientMessageId) {
      t.byClientId.set(m.clientMessageId, m.id)
      // The optimistic bubble becomes the real one in the same render: never doubled.
      t.pending.delete(m.clientMessageId)
    }
    if (m.providerMessageId) t.byProviderId.set(m.providerMessageId, m.id)
    return true
  }

  const bumpThread = (t: Thread) => t.version.value++
  const bumpList = () => convVersion.value++

  // --- the one entry point for stream events ----------------------------------

  function applyEvent(ev: StreamEvent): ApplyResult {
    if (ev.type === 'ping') {
      lastSyncedAt.value = now()
      return 'ignored'
    }
    if (ev.type === 'reset') {
      const payload = ev.data as Partial<ResetPayload> | null
      beginReset(ev.id ?? payload?.cursor ?? null)
      return 'reset'
    }
    const pos = parseEventId(ev.id)
    if (!pos) return 'ignored'
    const epoch = epochOf()
    // Another database's event without a reset first: the state here cannot be
    // trusted against it. Start over from that event.
    if (epoch !== null && pos.epoch !== epoch) {
      beginReset(ev.id)
      return 'reset'
    }
    if (seen.has(ev.id!)) return 'duplicate'
    remember(ev.id!)
    const n = pos.n
    let changed = false
    batch(() => {
      const at = parseEventId(cursor.value)
      if (!at || n > at.n) cursor.value = ev.id
      lastSyncedAt.value = now()
      const data = ev.data as Record<string, unknown>
      switch (ev.type) {
        case 'message.created': {
          const { message, conversation } = data as { message: MessageDTO; conversation: ConversationDTO }
          // News only if this copy of the conversation was older than the event (a
          // page read later already showed it) and the message is not on screen yet.
          const inbound = message.direction === 'in' && message.type !== 'reaction'
          const newer = putEventConversation(conversation, n, { inbound })
          if (newer) (changed = true), bumpList()
          if (message.direction === 'system') learnNames(message.data as LineData | null)
          const t = threads.get(message.conversationId)
          const fresh = newer && !t?.byId.has(message.id)
          if (t && putMessage(t, message, n)) (changed = true), bumpThread(t)
          if (fresh) for (const l of messageListeners) l(message, conversation)
          break
        }
        case 'message.updated': {
          const { message } = data as { message: MessageDTO }
          const t = threads.get(message.conversationId)
          if (t && putMessage(t, message, n)) (changed = true), bumpThread(t)
          if (updateLastStatus(message, n)) (changed = true), bumpList()
          break
        }
        case 'conversation.updated': {
          // `readBy`: the answer to a person's own read (their audience only, issue 13):
          // then its count is theirs. Any other update leaves this person's unread alone.
          const { conversation, readBy } = data as { conversation: ConversationDTO; readBy?: number }
          const own = readBy !== undefined && readBy === me.value ? conversation.unreadCount : undefined
          if (putEventConversation(conversation, n, { ownUnread: own })) (changed = true), bumpList()
          break
        }
        case 'message.deleted': {
          // Issue 14: its author deleted a note. The message's event id stays behind (asOf)
          // as a tombstone: a page read before the deletion does not bring it back.
          const { messageId, conversationId } = data as { messageId: number; conversationId: number }
          const t = threads.get(conversationId)
          if (t && t.byId.delete(messageId)) {
            t.ids = t.ids.filter((id) => id !== messageId)
            t.asOf.set(messageId, n)
            changed = true
            bumpThread(t)
          } else if (t) t.asOf.set(messageId, n)
          break
        }
        case 'user.updated': {
          // A teammate's name (or a new one): the picker names channel members with it.
          const u = (data as { user?: { id?: unknown; name?: unknown } }).user
          if (typeof u?.id === 'number' && typeof u.name === 'string') knownNames.set(u.id, u.name)
          break
        }
        case 'conversation.assigned': {
          // To this person only (a `{userId}` audience): something was assigned to them.
          // `by`: the person who did it ({userId, name}), or null when Parley assigned it automatically.
          const { conversation, by } = data as { conversation: ConversationDTO; by?: { userId?: number; name?: string } | null }
          const who = typeof by?.userId === 'number' ? { id: by.userId, name: by.name ?? '' } : null
          const newer = putEventConversation(conversation, n)
          if (newer) (changed = true), bumpList()
          // Only news if it is (still) this person's: never someone else's event, never a stale one.
          const mine = me.value === null || assigneeOf(conversation)?.id === me.value
          if (newer && mine) for (const l of assignedListeners) l(conversations.get(conversation.id) ?? conversation, who)
          break
        }
      }
    })
    return changed ? 'applied' : 'ignored'
  }

  /** The people a system line names (who did it, to whom): known by name from then on. */
  function learnNames(d: LineData | null) {
    for (const p of [d?.actor, d?.target]) if (typeof p?.userId === 'number' && typeof p.name === 'string') knownNames.set(p.userId, p.name)
  }

  /** A status change of a conversation's last message reaches the list's preview (a failed send). */
  function updateLastStatus(m: MessageDTO, n: number): boolean {
    const c = conversations.get(m.conversationId)
    if (!c || c.lastMessageId !== m.id) return false
    const prev = lastStatus.get(c.id)
    if (prev && prev.messageId === m.id && prev.n >= n) return false
    const error = failureReason(m.status, m.error)
    lastStatus.set(c.id, { messageId: m.id, n, status: m.status, error })
    if (c.lastMessageStatus === m.status && c.lastMessageError === error) return false
    const next = withLastStatus(c, convAsOf.get(c.id) ?? UNKNOWN)
    if (next === c) return false
    conversations.set(c.id, next)
    return true
  }

  /** After a reset the old database's event ids mean nothing: forget them, keep the data on screen until the refetch replaces it. */
  function beginReset(newCursor: string | null) {
    seen.clear()
    convAsOf.clear()
    lastStatus.clear()
    for (const t of threads.values()) t.asOf.clear()
    cursor.value = newCursor
  }

  // --- REST snapshots --------------------------------------------------------

  /**
   * One page of the conversation list, read at `eventId`. `replace` (after a reset or
   * a resync) drops what the page does not confirm, except changes that streamed in
   * after it was read.
   */
  function applyConversationPage(
    page: ConversationDTO[],
    eventId: string,
    view: { key: string; nextCursor: string | null; first: boolean },
    opts: { replace?: boolean } = {},
  ) {
    const E = seqOf(eventId) ?? parseEventId(eventId)?.n ?? 0
    batch(() => {
      if (cursor.value === null) cursor.value = eventId
      if (opts.replace) {
        const keep = new Set(page.map((c) => c.id))
        for (const [id, asOf] of convAsOf) if (asOf > E) keep.add(id)
        for (const id of [...conversations.keys()]) {
          if (!keep.has(id)) {
            conversations.delete(id)
            convAsOf.delete(id)
          }
        }
      }
      for (const c of page) {
        const prev = conversations.get(c.id)
        if (putConversation(c, E)) checkCounts(prev, conversations.get(c.id))
      }
      bumpList()
      if (view.key === paging.value.key) {
        const last = page[page.length - 1]
        paging.value = {
          key: view.key,
          nextCursor: view.nextCursor,
          frontier: last ? { at: last.lastActivityAt, id: last.id } : view.first ? null : paging.value.frontier,
          complete: view.nextCursor === null,
          loading: false,
        }
      }
    })
  }

  /** A single conversation read at `eventId` (GET /api/conversations/:id, POST …/read). */
  function applyConversation(dto: ConversationDTO, eventId: string | null) {
    const E = eventId === null ? null : seqOf(eventId)
    if (E === null) {
      // No cursor (answer to a write): only fills a gap.
      if (conversations.has(dto.id)) return
      conversations.set(dto.id, dto)
      bumpList()
      return
    }
    const prev = conversations.get(dto.id)
    if (putConversation(dto, E)) {
      checkCounts(prev, conversations.get(dto.id))
      bumpList()
    }
  }

  /**
   * A change the agent made here (the badge cleared on open), shown before the server
   * confirms it. Its event id stays: the server's own event still applies over it.
   */
  function applyLocalConversationPatch(id: number, patch: Partial<ConversationDTO> & { assignee?: Assignee | null }) {
    const c = conversations.get(id)
    if (!c) return
    const next = { ...c, ...patch }
    conversations.set(id, next)
    moveCounts(c, next)
    bumpList()
  }

  /** This person's own change (resolve, assign), shown before the server confirms it, moves the counts at once. */
  function moveCounts(prev: ConversationDTO, next: ConversationDTO) {
    const c = counts.value
    const d = c && countsDelta(prev, next, me.value)
    if (c && d && (d.mine || d.unassigned || d.all)) counts.value = addCounts(c, d)
  }

  /**
   * A REST copy that moves a held conversation between views: the counts (read at
   * another moment, with no event id) cannot be moved by it with certainty: refetch.
   */
  function checkCounts(prev: ConversationDTO | undefined, next: ConversationDTO | undefined) {
    if (!counts.value || !prev || !next || prev === next) return
    const d = countsDelta(prev, next, me.value)
    if (d && (d.mine || d.unassigned || d.all)) countsStale.value++
  }

  function thread(conversationId: number): Thread {
    let t = threads.get(conversationId)
    if (!t) threads.set(conversationId, (t = newThread(conversationId)))
    return t
  }

  /**
   * A page of messages read at `eventId`: the newest page (`older: false`) or one further
   * back; with `newerCursor`, one that knows what lies after it (issue 15: around a
   * message, `older: true`; newer than the thread, `older: false`).
   */
  function applyMessagePage(
    conversationId: number,
    messages: MessageDTO[],
    eventId: string,
    page: { older: boolean; nextCursor: string | null; newerCursor?: string | null },
    opts: { replace?: boolean } = {},
  ) {
    const E = seqOf(eventId) ?? parseEventId(eventId)?.n ?? 0
    const t = thread(conversationId)
    batch(() => {
      if (opts.replace) {
        const keep = new Set(messages.map((m) => m.id))
        for (const [id, asOf] of t.asOf) if (asOf > E) keep.add(id)
        t.ids = t.ids.filter((id) => keep.has(id))
        for (const id of [...t.byId.keys()]) {
          if (!keep.has(id)) {
            t.byId.delete(id)
            t.asOf.delete(id)
          }
        }
      }
      for (const m of messages) {
        putMessage(t, m, E)
        if (m.direction === 'system') learnNames(m.data as LineData | null)
      }
      if (page.older || t.status.value !== 'ready' || opts.replace) {
        t.olderCursor = page.nextCursor
        t.hasOlder.value = page.nextCursor !== null
      }
      if (page.newerCursor !== undefined) {
        t.newerCursor = page.newerCursor
        t.upTo = messages[messages.length - 1]?.id ?? t.upTo
        t.hasNewer.value = page.newerCursor !== null
      } else if (!page.older) t.hasNewer.value = false
      t.status.value = 'ready'
      t.loadingOlder.value = t.loadingNewer.value = false
      bumpThread(t)
    })
  }

  /** A message answered by a write (no event id): fills a gap, never overwrites. */
  function applySentMessage(m: MessageDTO) {
    const t = thread(m.conversationId)
    putMessage(t, m, null)
    bumpThread(t)
  }

  function addPending(p: PendingMessage) {
    const t = thread(p.conversationId)
    // A retry of a message the server already confirmed has nothing to add.
    if (t.byClientId.has(p.clientMessageId)) return
    t.pending.set(p.clientMessageId, p)
    bumpThread(t)
  }

  function updatePending(conversationId: number, clientMessageId: string, patch: Partial<PendingMessage>) {
    const t = threads.get(conversationId)
    const p = t?.pending.get(clientMessageId)
    if (!t || !p) return
    t.pending.set(clientMessageId, { ...p, ...patch })
    bumpThread(t)
  }

  function removePending(conversationId: number, clientMessageId: string) {
    const t = threads.get(conversationId)
    if (t?.pending.delete(clientMessageId)) bumpThread(t)
  }

  /** After a reset, threads other than the open one are dropped and reload when opened. */
  function dropThreadsExcept(keepId: number | null) {
    for (const [id, t] of threads) {
      if (id === keepId) continue
      // Unsent drafts of other conversations survive as pending bubbles only if any.
      if (t.pending.size === 0) threads.delete(id)
      else {
        t.byId.clear()
        t.asOf.clear()
        t.ids = []
        t.status.value = 'loading'
        bumpThread(t)
      }
    }
  }

  // --- derived state ---------------------------------------------------------

  const conversationList = computed<ConversationDTO[]>(() => {
    convVersion.value
    const f = filter.value
    const q = query.value
    const ch = channel.value
    const v = view.value
    const lb = label.value
    const who = me.value
    const p = paging.value
    const frontier = p.key === listKey(f, q, ch, v, lb) && !p.complete ? p.frontier : null
    const out: ConversationDTO[] = []
    for (const c of conversations.values()) {
      if (f !== 'all' && c.status !== f) continue
      if (!matchesChannel(c, ch)) continue
      if (!matchesView(c, v, who)) continue
      if (lb !== null && !(c.labels ?? []).some((l) => l.id === lb)) continue
      if (!matchesQuery(c, q)) continue
      // Below the last loaded page, other conversations may be missing: show only what
      // is known to be in order; scrolling loads the rest.
      if (frontier && compareConversations(c, { lastActivityAt: frontier.at, id: frontier.id } as ConversationDTO) > 0) continue
      out.push(c)
    }
    return out.sort(compareConversations)
  })

  /** The title's count: unread messages of what concerns this person (theirs and the unassigned). */
  const unreadTotal = computed(() => {
    convVersion.value
    const who = me.value
    let n = 0
    for (const c of conversations.values()) if (concernsMe(c, who)) n += c.unreadCount
    return n
  })

  const selected = computed(() => {
    convVersion.value
    const id = selectedId.value
    return id === null ? null : (conversations.get(id) ?? null)
  })

  return {
    now,
    cursor,
    connection,
    lastSyncedAt,
    filter,
    query,
    search,
    channel,
    view,
    label,
    me,
    counts,
    countsStale,
    knownNames: knownNames as ReadonlyMap<number, string>,
    paging,
    selectedId,
    selected,
    conversationList,
    unreadTotal,
    convVersion,
    conversation: (id: number) => conversations.get(id),
    conversationCount: () => conversations.size,
    threads,
    thread,
    applyEvent,
    beginReset,
    applyConversationPage,
    applyConversation,
    applyLocalConversationPatch,
    applyMessagePage,
    applySentMessage,
    addPending,
    updatePending,
    removePending,
    dropThreadsExcept,
    /** Called once per new message from the stream (for notifications). */
    onMessage(listener: (m: MessageDTO, c: ConversationDTO) => void) {
      messageListeners.add(listener)
      return () => messageListeners.delete(listener)
    },
    /** Called once per conversation assigned to this person (`conversation.assigned`), with who did it. */
    onAssigned(listener: (c: ConversationDTO, by: { id: number; name: string } | null) => void) {
      assignedListeners.add(listener)
      return () => assignedListeners.delete(listener)
    },
  }
}

export type InboxState = ReturnType<typeof createInboxState>

/** The messages of a thread in display order, confirmed first, then this agent's pending ones. */
export function threadItems(t: Thread): { messages: MessageDTO[]; pending: PendingMessage[] } {
  t.version.value
  const messages: MessageDTO[] = []
  const upTo = t.hasNewer.value ? t.upTo : Infinity
  for (const id of t.ids) {
    if (id > upTo) break
    const m = t.byId.get(id)
    if (m) messages.push(m)
  }
  return { messages, pending: [...t.pending.values()] }
}
