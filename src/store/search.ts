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
import type { Statement } from 'better-sqlite3'
import type { Db } from './db.ts'
import type { SearchFilters } from '../domain/search/query.ts'

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

export class SearchRepo {
  private readonly stmts = new Map<string, Statement>()
  private readonly contactStmt: Statement

  constructor(private readonly db: Db) {
    this.contactStmt = db.$client.prepare(
      `SELECT k.name, k.profile_name AS profileName, k.phone, k.external_id AS externalId, k.kind
         FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?`,
    )
  }

  private prepare(sql: string): Statement {
    let s = this.stmts.get(sql)
    if (!s) {
      s = this.db.$client.prepare(sql)
      // Query shapes are few (which filters are present), so this stays small.
      this.stmts.set(sql, s)
    }
    return s
  }

  /** Conditions on `c` (conversations): workspace, channels, and the conversation filters. */
  private conversationWhere(spec: SearchSpec, params: unknown[]): string {
    const w = ['c.workspace_id = ?']
    params.push(spec.workspaceId)
    if (spec.channelIds !== null) {
      // An agent without channels sees nothing (`IN ()` is not SQL).
      if (spec.channelIds.length === 0) w.push('0')
      else {
        w.push(`c.channel_id IN (${spec.channelIds.map(() => '?').join(', ')})`)
        params.push(...spec.channelIds)
      }
    }
    const f = spec.filters
    if (f.channel !== undefined) {
      w.push('c.channel_id IN (SELECT id FROM channels WHERE workspace_id = ? AND name = ? COLLATE NOCASE)')
      params.push(spec.workspaceId, f.channel)
    }
    if (f.label !== undefined) {
      w.push(
        'EXISTS (SELECT 1 FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = c.id AND l.workspace_id = ? AND l.name = ? COLLATE NOCASE)',
      )
      params.push(spec.workspaceId, f.label)
    }
    if (f.assignee?.kind === 'me') {
      w.push('c.assignee_id = ?')
      params.push(spec.userId)
    } else if (f.assignee?.kind === 'none') w.push('c.assignee_id IS NULL')
    else if (f.assignee?.kind === 'name') {
      w.push('c.assignee_id IN (SELECT id FROM users WHERE workspace_id = ? AND name = ? COLLATE NOCASE)')
      params.push(spec.workspaceId, f.assignee.name)
    }
    if (f.status !== undefined) {
      w.push('c.status = ?')
      params.push(f.status)
    }
    return w.join(' AND ')
  }

  /** Conditions on `m` (messages): who wrote it and when. */
  private messageWhere(spec: SearchSpec, params: unknown[]): string {
    const w: string[] = []
    const f = spec.filters
    if (f.from?.kind === 'customer') w.push(`m.direction = 'in'`)
    // An agent's words: their replies and their notes.
    else if (f.from?.kind === 'agent') w.push(`(m.direction = 'out' OR m.type = 'note')`)
    else if (f.from?.kind === 'agentName') {
      w.push(
        `(m.direction = 'out' OR m.type = 'note') AND m.sender_user_id IN (SELECT id FROM users WHERE workspace_id = ? AND name = ? COLLATE NOCASE)`,
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
  private messageScope(spec: SearchSpec, params: unknown[], unindexed = false): string {
    // Unindexed (a unary +): a walk newest first by id, which the planner would otherwise trade
    // for the workspace's or channel's index and a sort of every row in it.
    const p = unindexed ? '+' : ''
    params.push(spec.workspaceId)
    if (spec.channelIds === null) return `${p}m.workspace_id = ?`
    if (spec.channelIds.length === 0) return `${p}m.workspace_id = ? AND 0`
    params.push(...spec.channelIds)
    return `${p}m.workspace_id = ? AND ${p}m.channel_id IN (${spec.channelIds.map(() => '?').join(', ')})`
  }

  /**
   * Words given: walk the matches newest first (FTS5 reads its doclist backwards) in
   * batches, and stop as soon as the page is full — a common word costs a page, not all of
   * its hits. A conversation counts at its first (newest) match; after a cursor, one that
   * still has a match (or its contact's key) at or above the cursor was on an earlier page.
   * Contacts found by name or number are merged in by their key.
   */
  search(spec: SearchSpec): SearchHit[] {
    const match = spec.match
    const messageFilters = spec.filters.from !== undefined || spec.filters.before !== undefined || spec.filters.after !== undefined
    // Conversation filters alone: one statement over the conversations. Filters about
    // messages without words walk the messages newest first like words do (grouping every
    // matching message of the workspace first read them all: 0.5 s on a million).
    if (match === null && !messageFilters) return this.searchBySql(spec)
    const K = spec.after?.key ?? Number.MAX_SAFE_INTEGER
    const C = spec.after?.conversationId ?? Number.MAX_SAFE_INTEGER
    const before = (k: number, cid: number) => k < K || (k === K && cid < C)
    // Contacts found by name or number, with the conversation filters, by key.
    const contactKey = new Map<number, number>()
    if (!messageFilters && (spec.contactMatch !== null || spec.phone !== null)) {
      for (const h of this.searchBySql({ ...spec, match: null, after: undefined, limit: 10_000 })) contactKey.set(h.conversationId, h.key)
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
      ? { join: ' CROSS JOIN conversations c ON c.id = m.conversation_id', where: ` AND ${this.conversationWhere(spec, convParams)}` }
      : { join: '', where: '' }
    const msgParams: unknown[] = []
    const msgWhere = this.messageWhere(spec, msgParams)
    // A message search finds: the words, or (filters alone) any message the index holds.
    const found =
      match === null
        ? `m.type <> 'reaction' AND (m.direction <> 'system' OR m.type = 'note')`
        : 'EXISTS (SELECT 1 FROM message_search WHERE message_search MATCH ? AND rowid = m.id)'
    const matchParams = match === null ? [] : [match]
    const shownCheck = this.prepare(`SELECT 1 FROM messages m WHERE m.conversation_id = ? AND m.id >= ?${msgWhere} AND ${found} LIMIT 1`)
    const bound = spec.after ? Math.ceil((K - 1) / 2) : Number.MAX_SAFE_INTEGER
    const scopeParams: unknown[] = []
    const scope = this.messageScope(spec, scopeParams, match === null)
    const stream =
      match === null
        ? this.prepare(
            `SELECT m.id AS id, m.conversation_id AS cid FROM messages m${convJoin.join}
              WHERE m.id < ? AND ${scope}${msgWhere} AND ${found}${convJoin.where} ORDER BY m.id DESC LIMIT ?`,
          )
        : this.prepare(
            `SELECT m.id AS id, m.conversation_id AS cid FROM message_search s CROSS JOIN messages m ON m.id = s.rowid${convJoin.join}
              WHERE message_search MATCH ? AND s.rowid < ? AND ${scope}${msgWhere}${convJoin.where} ORDER BY s.rowid DESC LIMIT ?`,
          )
    const seen = new Set<number>()
    const out: SearchHit[] = []
    const consider = (cid: number, key: number, messageId: number | null) => {
      if (seen.has(cid)) return
      seen.add(cid)
      if (spec.after) {
        const ck = contactKey.get(cid)
        if (ck !== undefined && !before(ck, cid)) return
        if (shownCheck.get(cid, bound, ...msgParams, ...matchParams) !== undefined) return
      }
      out.push({ conversationId: cid, messageId, key })
    }
    let ci = 0
    let below = bound
    const BATCH = 256
    while (out.length < spec.limit) {
      const rows = stream.all(...matchParams, below, ...scopeParams, ...msgParams, ...convParams, BATCH) as { id: number; cid: number }[]
      for (const r of rows) {
        const key = r.id * 2 + 1
        while (
          ci < contacts.length &&
          out.length < spec.limit &&
          (contacts[ci]![1] > key || (contacts[ci]![1] === key && contacts[ci]![0] > r.cid))
        ) {
          consider(contacts[ci]![0], contacts[ci]![1], null)
          ci++
        }
        if (out.length >= spec.limit) break
        consider(r.cid, key, r.id)
        if (out.length >= spec.limit) break
      }
      if (rows.length < BATCH) break
      below = rows[rows.length - 1]!.id
    }
    while (ci < contacts.length && out.length < spec.limit) {
      consider(contacts[ci]![0], contacts[ci]![1], null)
      ci++
    }
    return out
  }

  /** The same answer in one SQL statement: filter-only queries, and the contacts' part of a search. */
  searchBySql(spec: SearchSpec): SearchHit[] {
    // Matches are grouped per conversation on `messages` alone (scoped by its own workspace
    // and channel columns), and only the groups meet `conversations` for the conversation
    // filters: a common word's tens of thousands of hits never each join a second table.
    const params: unknown[] = []
    const parts: string[] = []
    const messageFilters = spec.filters.from !== undefined || spec.filters.before !== undefined || spec.filters.after !== undefined
    if (spec.match !== null) {
      const scope = this.messageScope(spec, params)
      params.push(spec.match)
      const msg = this.messageWhere(spec, params)
      parts.push(
        `SELECT m.conversation_id AS cid, max(m.id) * 2 + 1 AS key2 FROM message_search s JOIN messages m ON m.id = s.rowid
          WHERE ${scope} AND message_search MATCH ?${msg} GROUP BY m.conversation_id`,
      )
    } else if (messageFilters) {
      // Filters about messages without words: the newest searchable message that passes them.
      const scope = this.messageScope(spec, params)
      const msg = this.messageWhere(spec, params)
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
        who.push('SELECT rowid FROM contact_search WHERE contact_search MATCH ?')
        params.push(spec.contactMatch)
      }
      if (spec.phone !== null) {
        who.push('SELECT rowid FROM contact_phone_search WHERE contact_phone_search MATCH ?')
        params.push(`"${spec.phone}"`)
      }
      params.push(spec.workspaceId)
      // From the matching contacts to their conversations (CROSS JOIN keeps that order: the
      // planner, without statistics, walked every conversation of the workspace instead).
      parts.push(
        `SELECT c.id AS cid, coalesce(c.last_message_id, 0) * 2 AS key2 FROM (${who.join(' UNION ')}) k
          CROSS JOIN conversations c ON c.contact_id = k.rowid WHERE c.workspace_id = ?`,
      )
    }
    // Every hit, whatever found it, passes the workspace, the caller's channels and the conversation filters here.
    const conv = this.conversationWhere(spec, params)
    let having = ''
    if (spec.after) {
      having = 'HAVING (max(h.key2), h.cid) < (?, ?)'
      params.push(spec.after.key, spec.after.conversationId)
    }
    params.push(spec.limit)
    const sql = `SELECT h.cid AS cid, max(h.key2) AS key2 FROM (${parts.join(' UNION ALL ')}) h JOIN conversations c ON c.id = h.cid
      WHERE ${conv} GROUP BY h.cid ${having} ORDER BY key2 DESC, cid DESC LIMIT ?`
    const rows = this.prepare(sql).all(...params) as { cid: number; key2: number }[]
    return rows.map((r) => ({
      conversationId: r.cid,
      messageId: r.key2 % 2 === 1 ? (r.key2 - 1) / 2 : null,
      key: r.key2,
    }))
  }

  contactOf(conversationId: number): SearchContact | undefined {
    return this.contactStmt.get(conversationId) as SearchContact | undefined
  }
}
