// Snooze (issue 14): POST /api/conversations/:id/snooze {until} (Unix ms) → 200
// {conversation}, snoozed until then; it comes back when the time comes or the customer
// writes (domain/inbox/snooze.ts). Ending a snooze by hand is a status (POST …/status).
// The snooze and the drain it allows are units of work with their events (issue 17).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import { conversationInScope } from './scope.ts'

export async function snoozeRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { store, snoozes, assignment, unitLog, units } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.post(
    '/api/conversations/:id/snooze',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        // A whole number of ms; whether it is in the future and within a year is the domain's (422).
        body: Type.Object({ until: Type.Integer({ minimum: 0, maximum: 8.64e15 }) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const who = { workspaceId: req.session.workspaceId, userId: req.session.userId }
      await conversationInScope(opts.services, req.access, req.params.id)
      const done = await unitLog.transact((batch) => snoozes.snoozeUnit(batch, who, req.params.id, req.body.until))
      snoozes.snoozed(req.body.until) // after the commit: this process's timer looks then
      // Out of Open frees a place under its assignee's cap, as resolving does (assignment.ts counts open ones).
      const assignee = done.assignee
      if (assignee) await unitLog.transact((batch) => assignment.drainForUnit(batch, who.workspaceId, assignee.id))
      const conversation = await units.read(() =>
        store.conversations.conversationDTOFor({ userId: who.userId }, who.workspaceId, req.params.id),
      )
      return { conversation: conversation! }
    },
  )
}
