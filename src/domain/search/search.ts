// Search as a unit of work (issue 17): one page of results for a parsed query, on SQLite or
// PostgreSQL alike — the hits (store/search.ts), then each one's snippet, cut in JavaScript from
// the stored text (snippet.ts), so both databases give the same snippets and highlights and the
// customer's text is never markup (no FTS5 snippet(), no ts_headline HTML).
import type { SearchHit, SearchQueries } from '../../store/search.ts'
import type { Q } from '../../store/unit.ts'
import { hasMessageFilters, matchExpression, type ParsedQuery, phoneDigits } from './query.ts'
import { type Snippet, snippetOf } from './snippet.ts'
import { searchTextOf } from './text.ts'

export interface SearchRequest {
  workspaceId: number
  /** The caller's channels; null: every channel (an admin). */
  channelIds: readonly number[] | null
  userId: number
  query: ParsedQuery
  /** Keyset: results strictly after this hit's (key, conversationId). */
  after?: { key: number; conversationId: number }
  /** How many hits to read (a page asks one more, to know there is a next page). */
  limit: number
}

export interface SearchFound extends Snippet {
  hit: SearchHit
  /** The matching message's id and time; null when found by the contact (or by conversation filters alone). */
  messageId: number | null
  timestamp: number | null
}

function parseJson(text: string | null): unknown {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

export class Search {
  constructor(private readonly repo: SearchQueries) {}

  /** Hits newest first with their snippets (a message gone since: the contact's label, as a contact hit). */
  *findUnit(r: SearchRequest): Q<SearchFound[]> {
    const { terms, filters } = r.query
    const match = matchExpression(terms)
    // Contacts are found by their name or number, unless the query asks about messages (from:, before:, after:).
    const contacts = !hasMessageFilters(filters)
    const hits = yield* this.repo.search({
      workspaceId: r.workspaceId,
      channelIds: r.channelIds,
      userId: r.userId,
      match,
      contactMatch: contacts ? match : null,
      terms,
      phone: contacts ? phoneDigits(terms) : null,
      filters,
      after: r.after,
      limit: r.limit,
    })
    const out: SearchFound[] = []
    for (const hit of hits) {
      const message = hit.messageId !== null ? yield* this.repo.messageOf(r.workspaceId, hit.messageId) : undefined
      if (message) {
        const text = searchTextOf({ ...message, media: parseJson(message.media), data: parseJson(message.data) })
        out.push({ hit, messageId: hit.messageId, timestamp: message.timestamp, ...snippetOf(text ?? '', terms) })
        continue
      }
      // Found by the contact (or by filters alone): the contact's name and number.
      const k = yield* this.repo.contactOf(r.workspaceId, hit.conversationId)
      const label = [
        k?.name,
        k?.profileName !== k?.name ? k?.profileName : null,
        k?.phone ?? (k?.kind === 'whatsapp' ? k.externalId : null),
      ]
        .filter((s): s is string => typeof s === 'string' && s !== '')
        .join(' · ')
      out.push({ hit, messageId: null, timestamp: null, ...snippetOf(label, terms) })
    }
    return out
  }
}
