// GET /api/search (issue 15): conversations matching what a person typed, one result per
// conversation (its newest matching message), newest first, in keyset pages. Scoped in
// SQL to the caller's workspace and channels (store/search.ts). A result found by the
// contact's name or number has messageId null and the contact as its snippet.
//
// Each result: {conversationId, messageId, snippet, highlights, timestamp, conversation}.
// `snippet` is plain text; `highlights` are [start, end) UTF-16 offsets into it of the
// matched words, for the browser to wrap in <mark> as text nodes — never HTML.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import type { ConversationDTO } from '../events/types.ts'
import { channelFilterOf } from '../domain/accounts/access.ts'
import { hasMessageFilters, matchExpression, parseQuery, phoneDigits } from '../domain/search/query.ts'
import { snippetOf } from '../domain/search/snippet.ts'
import { searchTextOf } from '../domain/search/text.ts'
import { SearchRepo } from '../store/search.ts'
import { decodeCursor, keysetPage } from './paging.ts'

/** One result of GET /api/search (the web client reads this shape). */
export interface SearchResult {
  conversationId: number
  messageId: number | null
  snippet: string
  highlights: Array<[number, number]>
  timestamp: number
  conversation: ConversationDTO
}

const DEFAULT_PAGE = 20
const MAX_PAGE = 50

export async function searchRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { store, db } = opts.services
  const repo = new SearchRepo(db)
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.get(
    '/api/search',
    {
      schema: {
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 500 })),
          cursor: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
        }),
      },
    },
    async (req) => {
      const parsed = parseQuery(req.query.q ?? '')
      if (!parsed.ok) throw Errors.badQuery(parsed.message)
      const { terms, filters } = parsed.query
      const limit = req.query.limit ?? DEFAULT_PAGE
      const after = req.query.cursor ? decodeCursor(req.query.cursor, 2) : undefined
      const ws = req.session.workspaceId
      const viewer = { userId: req.access.userId }
      const match = matchExpression(terms)
      // Contacts are found by their name or number, unless the query asks about messages (from:, before:, after:).
      const contacts = !hasMessageFilters(filters)
      const hits = repo.search({
        workspaceId: ws,
        channelIds: channelFilterOf(req.access),
        userId: req.access.userId,
        match,
        contactMatch: contacts ? match : null,
        phone: contacts ? phoneDigits(terms) : null,
        filters,
        after: after && { key: after[0]!, conversationId: after[1]! },
        limit: limit + 1,
      })
      const { page, nextCursor } = keysetPage(hits, limit, (last) => [last.key, last.conversationId])
      const results = page.flatMap((hit): SearchResult[] => {
        const conversation = store.runNow(store.conversations.conversationDTOFor(viewer, ws, hit.conversationId))
        if (!conversation) return []
        const message = hit.messageId !== null ? store.runNow(store.messages.messageRowById(hit.messageId)) : undefined
        if (message) {
          const { snippet, highlights } = snippetOf(searchTextOf(message) ?? '', terms)
          return [
            { conversationId: hit.conversationId, messageId: message.id, snippet, highlights, timestamp: message.timestamp, conversation },
          ]
        }
        // Found by the contact (or by filters alone): the contact's name and number, at the conversation's last activity.
        const k = repo.contactOf(hit.conversationId)
        const label = [
          k?.name,
          k?.profileName !== k?.name ? k?.profileName : null,
          k?.phone ?? (k?.kind === 'whatsapp' ? k.externalId : null),
        ]
          .filter((s): s is string => typeof s === 'string' && s !== '')
          .join(' · ')
        const { snippet, highlights } = snippetOf(label, terms)
        return [
          {
            conversationId: hit.conversationId,
            messageId: null,
            snippet,
            highlights,
            timestamp: conversation.lastActivityAt,
            conversation,
          },
        ]
      })
      return { results, nextCursor }
    },
  )
}
