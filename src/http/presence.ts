// Who is viewing or typing (issue 14): the browser tells, the others see it live on their
// streams as `presence` frames without an id. 204 whatever the throttle decided: a
// throttled typing signal is accepted and simply not fanned out.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import { conversationInScope } from './scope.ts'

export async function presenceRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { services } = opts
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.post(
    '/api/conversations/:id/presence',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object(
          {
            state: Type.Union([Type.Literal('viewing'), Type.Literal('typing'), Type.Literal('idle')]),
            mode: Type.Optional(Type.Union([Type.Literal('reply'), Type.Literal('note')])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      // Outside the caller's channels: 404, as if the conversation did not exist.
      const channelId = await conversationInScope(services, req.access, req.params.id)
      services.conversationPresence.signal({
        workspaceId: req.access.workspaceId,
        channelId,
        conversationId: req.params.id,
        userId: req.access.userId,
        state: req.body.state,
        ...(req.body.mode ? { mode: req.body.mode } : {}),
      })
      return reply.code(204).send()
    },
  )
}
