// Who is viewing or typing (issue 14): the browser tells, the others see it live on their
// streams as `presence` frames without an id. 204 whatever the throttle decided: a
// throttled typing signal is accepted and simply not fanned out.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import { conversationInScopeUnit } from '../domain/inbox/conversation-status.ts'

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
      const { store, auth, conversationPresence: presence } = services
      const { access } = req
      const conversationId = req.params.id
      // One read: the scope (outside the caller's channels: 404, as if the conversation did
      // not exist) and, for a person new here, the name the others will see.
      const { channelId, name } = await services.units.read(function* () {
        const channelId = yield* conversationInScopeUnit(store, access, conversationId)
        const name = presence.knowsName(access.userId) ? undefined : (yield* auth.userUnit(access.userId))?.name
        return { channelId, name }
      })
      presence.signal({
        workspaceId: req.access.workspaceId,
        channelId,
        conversationId: req.params.id,
        userId: req.access.userId,
        state: req.body.state,
        ...(req.body.mode ? { mode: req.body.mode } : {}),
        ...(name !== undefined ? { name } : {}),
      })
      return reply.code(204).send()
    },
  )
}
