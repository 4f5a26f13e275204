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
import { parseQuery } from '../domain/search/query.ts'
import { Search } from '../domain/search/search.ts'
import { SearchQueries } from '../store/search.ts'
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
  const { store, units } = opts.services
  const search = new Search(new SearchQueries())
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
      const limit = req.query.limit ?? DEFAULT_PAGE
      const after = req.query.cursor ? decodeCursor(req.query.cursor, 2) : undefined
      const ws = req.session.workspaceId
      const viewer = { userId: req.access.userId }
      const channelIds = channelFilterOf(req.access)
      const found = await units.read(() =>
        search.findUnit({
          workspaceId: ws,
          channelIds,
          userId: req.access.userId,
          query: parsed.query,
          after: after && { key: after[0]!, conversationId: after[1]! },
          limit: limit + 1,
        }),
      )
      const { page, nextCursor } = keysetPage(found, limit, (last) => [last.hit.key, last.hit.conversationId])
      // The conversations as the inbox shows them, the page's in one read; a result found by
      // the contact is at the conversation's last activity.
      const conversations = await units.read(function* () {
        const out: Array<ConversationDTO | undefined> = []
        for (const f of page) out.push(yield* store.conversations.conversationDTOFor(viewer, ws, f.hit.conversationId))
        return out
      })
      const results = page.flatMap((f, i): SearchResult[] => {
        const conversation = conversations[i]
        if (!conversation) return []
        return [
          {
            conversationId: f.hit.conversationId,
            messageId: f.messageId,
            snippet: f.snippet,
            highlights: f.highlights,
            timestamp: f.timestamp ?? conversation.lastActivityAt,
            conversation,
          },
        ]
      })
      return { results, nextCursor }
    },
  )
}
