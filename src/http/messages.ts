// Sending: POST a reply (text, template, image/document/audio/video, reaction, quoted reply) and
// "send again" for a failed or unconfirmed one where another attempt can succeed (the rule
// in src/events/send-recovery.ts; otherwise 422 with the reason). 202: stored and queued,
// not yet sent — the ticks arrive on the stream as `message.updated`. A conversation outside
// the caller's channels, or an upload that is not theirs to send, answers 404 (issue 13);
// quoted and reacted-to messages must be of the same conversation (the domain checks).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { canSeeMedia, conversationInScope } from './scope.ts'

const Params = Type.Union([
  Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 50 }),
  Type.Record(Type.String(), Type.String({ maxLength: 1024 })),
])

const SendBody = Type.Object(
  {
    // The browser's id for its optimistic bubble; a retried POST with it sends nothing new.
    clientMessageId: Type.String({ minLength: 1, maxLength: 100 }),
    type: Type.Optional(
      Type.Union([
        Type.Literal('text'),
        Type.Literal('template'),
        Type.Literal('image'),
        Type.Literal('document'),
        Type.Literal('audio'),
        Type.Literal('video'),
        Type.Literal('reaction'),
      ]),
    ),
    // Lengths are checked by the domain, which names the limit in its error.
    text: Type.Optional(Type.String({ maxLength: 65536 })),
    previewUrl: Type.Optional(Type.Boolean()),
    replyToMessageId: Type.Optional(Type.Integer({ minimum: 1 })),
    template: Type.Optional(
      Type.Object({
        name: Type.String({ minLength: 1, maxLength: 512 }),
        language: Type.String({ minLength: 1, maxLength: 20 }),
        bodyParams: Type.Optional(Params),
        headerParams: Type.Optional(Params),
      }),
    ),
    mediaId: Type.Optional(Type.Integer({ minimum: 1 })),
    caption: Type.Optional(Type.String({ maxLength: 65536 })),
    reaction: Type.Optional(Type.Object({ messageId: Type.Integer({ minimum: 1 }), emoji: Type.String({ maxLength: 32 }) })),
    // Messenger: a person's follow-up with the HUMAN_AGENT tag (after Meta's code 10).
    humanAgent: Type.Optional(Type.Boolean()),
    // Issue 14, the send guard: the newest message the agent had on screen; anything that
    // matters after it holds the reply (409 CONVERSATION_CHANGED with `newer`) unless `force`.
    seenMessageId: Type.Optional(Type.Integer({ minimum: 0 })),
    force: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

export async function messageRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { replies } = opts.services.sending
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.post(
    '/api/conversations/:id/messages',
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }), body: SendBody } },
    async (req, reply) => {
      await conversationInScope(opts.services, req.access, req.params.id)
      if (req.body.mediaId !== undefined) {
        const { media } = opts.services.sending
        const mediaId = req.body.mediaId
        const upload = await opts.services.units.read(() => media.uploadUnit(req.session.workspaceId, mediaId))
        if (upload && !(await canSeeMedia(opts.services, req.access, upload))) throw Errors.notFound('Upload')
      }
      const { message } = await replies.send({ workspaceId: req.session.workspaceId, userId: req.session.userId }, req.params.id, req.body)
      return reply.status(202).send({ message })
    },
  )

  r.post(
    '/api/conversations/:id/messages/:messageId/retry',
    { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }), messageId: Type.Integer({ minimum: 1 }) }) } },
    async (req, reply) => {
      await conversationInScope(opts.services, req.access, req.params.id)
      const message = await replies.retry(req.session.workspaceId, req.params.id, req.params.messageId)
      return reply.status(202).send({ message })
    },
  )
}
