// GET /api/templates: the approved templates of the workspace's WhatsApp number, with
// their parameters, for the composer when the 24-hour window is closed.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { conversationInScope } from './scope.ts'

export async function templateRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { replies, templates } = opts.services.sending
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.get(
    '/api/templates',
    {
      schema: {
        querystring: Type.Object({
          // The number the conversation is on (a workspace may have several).
          conversationId: Type.Optional(Type.Integer({ minimum: 1 })),
          refresh: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (req) => {
      const ws = req.session.workspaceId
      let channel: Awaited<ReturnType<typeof replies.channel>>
      if (req.query.conversationId !== undefined) {
        // Outside the caller's channels: 404, as for every conversation route (issue 13).
        channel = await replies.channel(await conversationInScope(opts.services, req.access, req.query.conversationId))
        if (channel?.kind !== 'whatsapp') channel = undefined
      } else {
        channel = await replies.whatsappChannel(ws)
      }
      if (!channel) throw Errors.noChannel()
      return { templates: await templates.list(channel, { refresh: req.query.refresh === true }) }
    },
  )
}
