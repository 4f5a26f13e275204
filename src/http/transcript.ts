// Issue 15: GET /api/conversations/:id/transcript?format=html|text&notes=true|false — one
// conversation as a file to keep or print, for admins (an agent gets 403, before
// anything about the conversation is looked at). Authenticated by the session cookie or
// the Authorization header like every route: never a token in the URL, so nothing
// secret reaches a log line. Another workspace's conversation is a 404.
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { TRANSCRIPT_CSP } from '../domain/transcript/html.ts'
import { Transcripts } from '../domain/transcript/transcript.ts'
import { conversationInScope } from './scope.ts'

export async function transcriptRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { services } = opts
  const transcripts = new Transcripts({
    units: services.units,
    repos: services.store,
    settings: services.settings,
    now: services.clock.now,
  })
  const r = app.withTypeProvider<TypeBoxTypeProvider>()

  r.get(
    '/api/conversations/:id/transcript',
    {
      onRequest: app.authenticate,
      preValidation: app.requireAdmin,
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({
          format: Type.Optional(Type.Union([Type.Literal('html'), Type.Literal('text')])),
          notes: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
        }),
      },
    },
    async (req, reply) => {
      await conversationInScope(services, req.access, req.params.id)
      const format = req.query.format ?? 'html'
      // Internal notes leave the team only when asked for.
      const notes = req.query.notes === 'true'
      const file = await transcripts.export({
        workspaceId: req.session.workspaceId,
        userId: req.session.userId,
        conversationId: req.params.id,
        format,
        notes,
      })
      if (!file) throw Errors.notFound('Conversation')
      // Who took a copy of a customer's conversation, and which: worth a line (no text, no secrets).
      req.log.info({ conversationId: req.params.id, format, notes, userId: req.session.userId }, 'transcript exported')
      await services.units.transact(() =>
        services.audit.recordUnit({
          workspaceId: req.session.workspaceId,
          actor: { userId: req.session.userId, ip: req.ip },
          action: 'transcript.exported',
          target: { type: 'conversation', id: req.params.id },
          detail: { format, notes },
        }),
      )
      reply
        .header('content-type', file.contentType)
        .header('content-disposition', `attachment; filename="${file.filename}"`)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff')
      // The page is inert even if a browser renders it in place: no script, no fetch.
      if (format === 'html') reply.header('content-security-policy', TRANSCRIPT_CSP)
      return reply.send(Readable.from(file.body))
    },
  )
}
