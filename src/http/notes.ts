// Internal notes and mentions (issue 14): write a note on a conversation (`@Name` mentions
// a teammate who can see its channel), delete one's own, and one's Mentions list with
// its unread state. A conversation outside the caller's channels answers 404.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import { idFromCursor, keysetPage } from './paging.ts'

// A note is for the team, not Meta: room for a proper handover, bounded all the same.
const NOTE_MAX_CHARS = 10_000
const DEFAULT_PAGE = 30
const MAX_PAGE = 100

export async function noteRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { notes } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.post(
    '/api/conversations/:id/notes',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object(
          {
            text: Type.String({ minLength: 1, maxLength: NOTE_MAX_CHARS, pattern: '\\S' }),
            // The people the composer's @ picker inserted (see domain/notes/notes.ts).
            mentions: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      // The conversation's scope (404 outside the caller's channels) is checked in the note's own unit.
      const { note } = await notes.create(req.access, req.params.id, { text: req.body.text.trim(), mentions: req.body.mentions })
      return reply.status(201).send({ note })
    },
  )

  r.delete(
    '/api/conversations/:id/notes/:noteId',
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }), noteId: Type.Integer({ minimum: 1 }) }) } },
    async (req, reply) => {
      await notes.delete(req.access, req.params.id, req.params.noteId)
      return reply.status(204).send()
    },
  )

  r.get(
    '/api/mentions',
    {
      schema: {
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
        }),
      },
    },
    async (req) => {
      const limit = req.query.limit ?? DEFAULT_PAGE
      const beforeId = req.query.cursor ? idFromCursor(req.query.cursor) : undefined
      const { mentions, unread } = await notes.list(req.access, { limit: limit + 1, beforeId })
      const { page, nextCursor } = keysetPage(mentions, limit, (last) => [last.id])
      return { mentions: page, nextCursor, unread }
    },
  )

  r.post(
    '/api/mentions/read',
    {
      // No body at all means "all of them", like `{}`.
      preValidation: async (req) => {
        req.body ??= {}
      },
      schema: {
        body: Type.Object(
          { ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 500 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => notes.markRead(req.access, req.body.ids ?? null),
  )
}
