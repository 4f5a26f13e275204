// Assign, hand over, take, unassign (issue 13): anyone who can see the conversation.
// 200 with the conversation as the list shows it; the change, its timeline line and the
// new assignee's notification reach the streams as events. One unit of work with its
// events (issue 17), through services.unitLog.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'

export async function assignmentRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { assignment, unitLog } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.post(
    '/api/conversations/:id/assign',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({ userId: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]) }, { additionalProperties: false }),
      },
    },
    async (req) => ({
      conversation: await unitLog.transact((batch) => assignment.assignUnit(batch, req.access, req.params.id, req.body.userId)),
    }),
  )
}
