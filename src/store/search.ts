// Full-text search's reads (issue 15). The index (message_search, contact_search,
// contact_phone_search) is written by triggers (migrations/sqlite/0013_search.sql, 0019_search_pending.sql), inside the
// transaction that stores the message or contact. Here: one page of conversations that
// match, each with its newest matching message, scoped in SQL to the workspace and the
// caller's channels — a conversation outside them is never read, not even counted.
//
// Order and paging: each conversation's key is its newest matching message's id (ids grow
// with arrival, so newest first); a conversation found by its contact's name or number
// has the key of its last message. Both kinds of hit are grouped per conversation and its
// highest key wins (a tie goes to the message); the key doubles with the kind in its low
// bit (key * 2 + 1 for a message), so (key2, conversation id) is one total order and the
// keyset cursor is exactly that pair. A conversation's key does not depend on the page,
// so no conversation appears twice across pages.
//
// Written as units of work (issue 17). SQLite keeps the walk over FTS5 described above;
// PostgreSQL (migrations/pg …_search: a tsvector per message and per contact with GIN indexes
// in the `search` schema, kept by triggers in the writer's own transaction) answers every query
// with the one grouped statement (searchBySql), whose answer is the same by construction:
// test/search-paging.test.ts proves the walk equals it, test/search-dialects.test.ts that both
// databases agree. SQL texts depend only on the query's shape (which filters are present, how
// many channels), so SQLite's statement cache (one per text) stays small.
import type { Db } from './db.ts'
import { type Dialect, sqliteConn } from './conn.ts'
import type { SearchFilters, Term } from '../domain/search/query.ts'
import { all, dialect, get, type Q, runSync } from './unit.ts'

export interface SearchSpec {
  workspaceId: number
  /** The caller's channels; null: every channel (an admin). */
  channelIds: readonly number[] | null
  /** The caller, for assignee:me. */
  userId: number
  /** FTS5 MATCH expression over messages (quoted terms only), or null for a filter-only query. */
  match: string | null
  /** Same expression for contacts' names; null when contacts are not searched. */
  contactMatch: string | null
  /**
   * The parsed terms `match` was built from: PostgreSQL builds its tsquery from them (the
   * search.query function of its migration), never from FTS5 syntax. Needed there when
   * `match` or `contactMatch` is not null.
   */
  terms?: readonly Term[]
  /** Digits for the contacts' phone index (trigram, 3+), or null. */
  phone: string | null
  filters: SearchFilters
  /** Keyset: results strictly after this (key2, conversation id). */
  after?: { key: number; conversationId: number }
  limit: number
}

export interface SearchHit {
  conversationId: number
  /** The matching message; null when the conversation was found by its contact. */
  messageId: number | null
  /** key2 of the cursor (see the header). */
  key: number
}

export interface SearchContact {
  name: string | null
  profileName: string | null
  phone: string | null
  externalId: string
  kind: string
}

/** What a snippet is cut from (domain/search/text.ts searchTextOf), with media and data as stored (JSON text). */
export interface SearchMessageRow {
  direction: string
  type: string
  text: string | null
  media: string | null
  data: string | null
  timestamp: number
}

export class SearchQueryError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SearchQueryError'
  }
}

const CONTACT_OF = `SELECT k.name, k.profile_name AS "profileName", k.phone, k.external_id AS "externalId", k.kind
  FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ? AND c.workspace_id = ?`
const MESSAGE_OF = `SELECT m.direction, m.type, m.text, m.media, m.data, m."timestamp" AS "timestamp"
  FROM messages m WHERE m.id = ? AND m.workspace_id = ?`
// PostgreSQL: the terms' tsquery once per statement (an InitPlan), which the GIN index then uses.
const PG_QUERY = '(SELECT search.query(?::text[], ?::boolean))'

/** The arguments of search.query (migrations/pg …_search): each term's text, and whether the last is a prefix. */
function pgQueryParams(spec: SearchSpec): [string[], boolean] {
  if (!spec.terms) throw new SearchQueryError('a PostgreSQL search with words needs the parsed terms (SearchSpec.terms)')
  const last = spec.terms[spec.terms.length - 1]
  return [spec.terms.map((t) => t.text), last?.kind === 'word' && last.prefix]
}

/** Case-insensitive name equality: SQLite's NOCASE as before; PostgreSQL lower() on both sides. */
const sameName = (d: Dialect, column: string): string => (d === 'sqlite' ? `${column} = ? COLLATE NOCASE` : `lower(${column}) = lower(?)`)

/** `column` is one of the channels: an IN list on SQLite (as before), one array parameter on PostgreSQL. */
function inChannels(d: Dialect, column: string, ids: readonly number[], params: unknown[]): string {
  if (d === 'postgres') {
    params.push([...ids])
    return `${column} = ANY(?::bigint[])`
  }
  params.push(...ids)
  return `${column} IN (${ids.map(() => '?').join(', ')})`
}

const hasMessageFilters = (spec: SearchSpec) =>
  spec.filters.from !== undefined || spec.filters.before !== undefined || spec.filters.after !== undefined

export class SearchQueries {
  /** Conditions on `c` (conversations): workspace, channels, and the conversation filters. */
  private conversationWhere(d: Dialect, spec: SearchSpec, params: unknown[]): string {
    const w = ['c.workspace_id = ?']
    params.push(spec.workspaceId)
    if (spec.channelIds !== null) {
      // An agent without channels sees nothing (`IN ()` is not SQL).
      if (spec.channelIds.length === 0) w.push('1 = 0')
      else w.push(inChannels(d, 'c.channel_id', spec.channelIds, params))
    }
    const f = spec.filters
    if (f.channel !== undefined) {
      w.push(`c.channel_id IN (SELECT id FROM channels WHERE workspace_id = ? AND ${sameName(d, 'name')})`)
      params.push(spec.workspaceId, f.channel)
    }
    if (f.label !== undefined) {
      w.push(
        `EXISTS (SELECT 1 FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = c.id AND l.workspace_id = ? AND ${sameName(d, 'l.name')})`,
      )
      params.push(spec.workspaceId, f.label)
    }
    if (f.assignee?.kind === 'me') {
      w.push('c.assignee_id = ?')
      params.push(spec.userId)
    } else if (f.assignee?.kind === 'none') w.push('c.assignee_id IS NULL')
    else if (f.assignee?.kind === 'name') {
      w.push(`c.assignee_id IN (SELECT id FROM users WHERE workspace_id = ? AND ${sameName(d, 'name')})`)
      params.push(spec.workspaceId, f.assignee.name)
    }
    if (f.status !== undefined) {
      w.push('c.status = ?')
      params.push(f.status)
    }
    return w.join(' AND ')
  }

  /** Conditions on `m` (messages): who wrote it and when. */
  private messageWhere(d: Dialect, spec: SearchSpec, params: unknown[]): string {
    const w: string[] = []
    const f = spec.filters
    if (f.from?.kind === 'customer') w.push(`m.direction = 'in'`)
    // An agent's words: their replies and their notes.
    else if (f.from?.kind === 'agent') w.push(`(m.direction = 'out' OR m.type = 'note')`)
    else if (f.from?.kind === 'agentName') {
      w.push(
        `(m.direction = 'out' OR m.type = 'note') AND m.sender_user_id IN (SELECT id FROM users WHERE workspace_id = ? AND ${sameName(d, 'name')})`,
      )
      params.push(spec.workspaceId, f.from.name)
    }
    if (f.before !== undefined) {
      w.push('m.timestamp < ?')
      params.push(f.before)
    }
    if (f.after !== undefined) {
      w.push('m.timestamp >= ?')
      params.push(f.after)
    }
    return w.length ? ` AND ${w.join(' AND ')}` : ''
  }

  /** The workspace and the caller's channels, on `m` (a message carries its conversation's channel). */
  private messageScope(d: Dialect, spec: SearchSpec, params: unknown[], unindexed = false): string {
    // Unindexed (a unary +): a walk newest first by id, which the planner would otherwise trade
    // for the workspace's or channel's index and a sort of every row in it.
    const p = unindexed ? '+' : ''
    params.push(spec.workspaceId)
    if (spec.channelIds === null) return `${p}m.workspace_id = ?`
    if (spec.channelIds.length === 0) return `${p}m.workspace_id = ? AND 1 = 0`
    return `${p}m.workspace_id = ? AND ${inChannels(d, `${p}m.channel_id`, spec.channelIds, params)}`
  }

  /**
   * Words given: walk the matches newest first (FTS5 reads its doclist backwards) in
   * batches, and stop as soon as the page is full — a common word costs a page, not all of
   * its hits. A conversation counts at its first (newest) match; after a cursor, one that
   * still has a match (or its contact's key) at or above the cursor was on an earlier page.
   * Contacts found by name or number are merged in by their key.
   * PostgreSQL: the grouped statement (a GIN index reads its matches in no order to walk).
   */
  *search(spec: SearchSpec): Q<SearchHit[]> {
    const d = yield* dialect()
    if (d === 'postgres') return yield* this.searchBySql(spec)
    const match = spec.match
    const messageFilters = hasMessageFilters(spec)
    // Conversation filters alone: one statement over the conversations. Filters about
    // messages without words walk the messages newest first like words do (grouping every
    // matching message of the workspace first read them all: 0.5 s on a million).
    if (match === null && !messageFilters) return yield* this.searchBySql(spec)
    const K = spec.after?.key ?? Number.MAX_SAFE_INTEGER
    const C = spec.after?.conversationId ?? Number.MAX_SAFE_INTEGER
    const before = (k: number, cid: number) => k < K || (k === K && cid < C)
    // Contacts found by name or number, with the conversation filters, by key.
    const contactKey = new Map<number, number>()
    if (!messageFilters && (spec.contactMatch !== null || spec.phone !== null)) {
      for (const h of yield* this.searchBySql({ ...spec, match: null, after: undefined, limit: 10_000 }))
        contactKey.set(h.conversationId, h.key)
    }
    const contacts = [...contactKey.entries()].filter(([cid, k]) => before(k, cid)).sort((a, b) => b[1] - a[1] || b[0] - a[0])
    const convFilters =
      spec.filters.channel !== undefined ||
      spec.filters.label !== undefined ||
      spec.filters.assignee !== undefined ||
      spec.filters.status !== undefined
    // The conversation filters join the walk itself (in its order: CROSS JOIN), so SQLite
    // skips the conversations they exclude instead of JavaScript asking about each one.
    const convParams: unknown[] = []
    const convJoin = convFilters
      ? { join: ' CROSS JOIN conversations c ON c.id = m.conversation_id', where: ` AND ${this.conversationWhere(d, spec, convParams)}` }
      : { join: '', where: '' }
    const msgParams: unknown[] = []
    const msgWhere = this.messageWhere(d, spec, msgParams)
    // A message search finds: the words, or (filters alone) any message the index holds.
    const found =
      match === null
        ? `m.type <> 'reaction' AND (m.direction <> 'system' OR m.type = 'note')`
        : 'EXISTS (SELECT 1 FROM message_search WHERE message_search MATCH ? AND rowid = m.id)'
    const matchParams = match === null ? [] : [match]
    const shownCheck = `SELECT 1 FROM messages m WHERE m.conversation_id = ? AND m.id >= ?${msgWhere} AND ${found} LIMIT 1`
    const bound = spec.after ? Math.ceil((K - 1) / 2) : Number.MAX_SAFE_INTEGER
    const scopeParams: unknown[] = []
    const scope = this.messageScope(d, spec, scopeParams, match === null)
    const stream =
      match === null
        ? `SELECT m.id AS id, m.conversation_id AS cid FROM messages m${convJoin.join}
              WHERE m.id < ? AND ${scope}${msgWhere} AND ${found}${convJoin.where} ORDER BY m.id DESC LIMIT ?`
        : `SELECT m.id AS id, m.conversation_id AS cid FROM message_search s CROSS JOIN messages m ON m.id = s.rowid${convJoin.join}
              WHERE message_search MATCH ? AND s.rowid < ? AND ${scope}${msgWhere}${convJoin.where} ORDER BY s.rowid DESC LIMIT ?`
    const seen = new Set<number>()
    const out: SearchHit[] = []
    function* consider(cid: number, key: number, messageId: number | null): Q<void> {
      if (seen.has(cid)) return
      seen.add(cid)
      if (spec.after) {
        const ck = contactKey.get(cid)
        if (ck !== undefined && !before(ck, cid)) return
        if ((yield* get(shownCheck, [cid, bound, ...msgParams, ...matchParams])) !== undefined) return
      }
      out.push({ conversationId: cid, messageId, key })
    }
    let ci = 0
    let below = bound
    const BATCH = 256
    while (out.length < spec.limit) {
      const rows = yield* all<{ id: number; cid: number }>(stream, [
        ...matchParams,
        below,
        ...scopeParams,
        ...msgParams,
        ...convParams,
        BATCH,
      ])
      for (const r of rows) {
        const key = r.id * 2 + 1
        while (
          ci < contacts.length &&
          out.length < spec.limit &&
          (contacts[ci]![1] > key || (contacts[ci]![1] === key && contacts[ci]![0] > r.cid))
        ) {
          yield* consider(contacts[ci]![0], contacts[ci]![1], null)
          ci++
        }
        if (out.length >= spec.limit) break
        yield* consider(r.cid, key, r.id)
        if (out.length >= spec.limit) break
      }
      if (rows.length < BATCH) break
      below = rows[rows.length - 1]!.id
    }
    while (ci < contacts.length && out.length < spec.limit) {
      yield* consider(contacts[ci]![0], contacts[ci]![1], null)
      ci++
    }
    return out
  }

  /** The same answer in one SQL statement: filter-only queries, the contacts' part of a search, and every search on PostgreSQL. */
  *searchBySql(spec: SearchSpec): Q<SearchHit[]> {
    const d = yield* dialect()
    // Matches are grouped per conversation on `messages` alone (scoped by its own workspace
    // and channel columns), and only the groups meet `conversations` for the conversation
    // filters: a common word's tens of thousands of hits never each join a second table.
    const params: unknown[] = []
    const parts: string[] = []
    const messageFilters = hasMessageFilters(spec)
    if (spec.match !== null) {
      const scope = this.messageScope(d, spec, params)
      if (d === 'sqlite') params.push(spec.match)
      else params.push(...pgQueryParams(spec))
      const msg = this.messageWhere(d, spec, params)
      parts.push(
        d === 'sqlite'
          ? `SELECT m.conversation_id AS cid, max(m.id) * 2 + 1 AS key2 FROM message_search s JOIN messages m ON m.id = s.rowid
          WHERE ${scope} AND message_search MATCH ?${msg} GROUP BY m.conversation_id`
          : `SELECT m.conversation_id AS cid, max(m.id) * 2 + 1 AS key2 FROM search.message_doc s JOIN messages m ON m.id = s.id
          WHERE ${scope} AND s.doc @@ ${PG_QUERY}${msg} GROUP BY m.conversation_id`,
      )
    } else if (messageFilters) {
      // Filters about messages without words: the newest searchable message that passes them.
      const scope = this.messageScope(d, spec, params)
      const msg = this.messageWhere(d, spec, params)
      parts.push(
        `SELECT m.conversation_id AS cid, max(m.id) * 2 + 1 AS key2 FROM messages m
          WHERE ${scope} AND m.type <> 'reaction' AND (m.direction <> 'system' OR m.type = 'note')${msg} GROUP BY m.conversation_id`,
      )
    } else if (spec.contactMatch === null && spec.phone === null) {
      // Conversation filters alone: every conversation that passes them, at its last message.
      parts.push('SELECT c.id AS cid, coalesce(c.last_message_id, 0) * 2 AS key2 FROM conversations c WHERE c.workspace_id = ?')
      params.push(spec.workspaceId)
    }
    if (!messageFilters && (spec.contactMatch !== null || spec.phone !== null)) {
      const who: string[] = []
      if (spec.contactMatch !== null) {
        if (d === 'sqlite') {
          who.push('SELECT rowid FROM contact_search WHERE contact_search MATCH ?')
          params.push(spec.contactMatch)
        } else {
          who.push(`SELECT id FROM search.contact_doc WHERE doc @@ ${PG_QUERY}`)
          params.push(...pgQueryParams(spec))
        }
      }
      if (spec.phone !== null) {
        if (d === 'sqlite') {
          who.push('SELECT rowid FROM contact_phone_search WHERE contact_phone_search MATCH ?')
          params.push(`"${spec.phone}"`)
        } else {
          // Digits only (phoneDigits), so nothing in them is a LIKE wildcard; pg_trgm's GIN index serves it.
          who.push('SELECT id FROM search.contact_doc WHERE digits LIKE ?')
          params.push(`%${spec.phone}%`)
        }
      }
      params.push(spec.workspaceId)
      // From the matching contacts to their conversations (CROSS JOIN keeps that order on SQLite:
      // the planner, without statistics, walked every conversation of the workspace instead).
      parts.push(
        d === 'sqlite'
          ? `SELECT c.id AS cid, coalesce(c.last_message_id, 0) * 2 AS key2 FROM (${who.join(' UNION ')}) k
          CROSS JOIN conversations c ON c.contact_id = k.rowid WHERE c.workspace_id = ?`
          : `SELECT c.id AS cid, coalesce(c.last_message_id, 0) * 2 AS key2 FROM (${who.join(' UNION ')}) k
          JOIN conversations c ON c.contact_id = k.id WHERE c.workspace_id = ?`,
      )
    }
    // Every hit, whatever found it, passes the workspace, the caller's channels and the conversation filters here.
    const conv = this.conversationWhere(d, spec, params)
    let having = ''
    if (spec.after) {
      having = 'HAVING (max(h.key2), h.cid) < (?, ?)'
      params.push(spec.after.key, spec.after.conversationId)
    }
    params.push(spec.limit)
    const sql = `SELECT h.cid AS cid, max(h.key2) AS key2 FROM (${parts.join(' UNION ALL ')}) h JOIN conversations c ON c.id = h.cid
      WHERE ${conv} GROUP BY h.cid ${having} ORDER BY key2 DESC, cid DESC LIMIT ?`
    const rows = yield* all<{ cid: number; key2: number }>(sql, params)
    return rows.map((r) => ({
      conversationId: r.cid,
      messageId: r.key2 % 2 === 1 ? (r.key2 - 1) / 2 : null,
      key: r.key2,
    }))
  }

  /** The contact of a conversation of the workspace (a result found by the contact). */
  *contactOf(workspaceId: number, conversationId: number): Q<SearchContact | undefined> {
    return yield* get<SearchContact>(CONTACT_OF, [conversationId, workspaceId])
  }

  /** What a message result's snippet is cut from; undefined for another workspace's message. */
  *messageOf(workspaceId: number, messageId: number): Q<SearchMessageRow | undefined> {
    return yield* get<SearchMessageRow>(MESSAGE_OF, [messageId, workspaceId])
  }
}

/**
 * The same reads at once on one SQLite connection, for code that is still synchronous
 * (bench/search-probe.ts, test/search-paging.test.ts): each call runs the unit with runSync.
 */
export class SearchRepo {
  private readonly units = new SearchQueries()
  constructor(private readonly db: Db) {}

  private now<T>(unit: Q<T>): T {
    return runSync(unit, sqliteConn(this.db.$client))
  }

  search(spec: SearchSpec): SearchHit[] {
    return this.now(this.units.search(spec))
  }

  searchBySql(spec: SearchSpec): SearchHit[] {
    return this.now(this.units.searchBySql(spec))
  }

  contactOf(workspaceId: number, conversationId: number): SearchContact | undefined {
    return this.now(this.units.contactOf(workspaceId, conversationId))
  }
}
