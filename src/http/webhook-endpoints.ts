// Outgoing webhook endpoints (issue 16), admins only: register (the secret is in this answer
// only), list, delete, and read an endpoint's recent delivery attempts. Another workspace's
// endpoint answers 404. The rules: src/domain/webhooks/.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import type { AuditActor } from '../domain/audit/audit-log.ts'

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })
// Loose on purpose: the domain names what is wrong (WEBHOOK_URL_INVALID, WEBHOOK_EVENT_UNKNOWN).
const CreateBody = Type.Object(
  {
    url: Type.String({ maxLength: 4096 }),
    events: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100 }),
  },
  { additionalProperties: false },
)
const DeliveriesQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) })

const actorOf = (req: FastifyRequest): AuditActor => ({ userId: req.session.userId, ip: req.ip })

export async function webhookEndpointRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { webhooks, units } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const admin = { onRequest: app.authenticate, preValidation: app.requireAdmin }

  r.post('/api/webhook-endpoints', { ...admin, schema: { body: CreateBody } }, async (req, reply) => {
    const made = await units.transact(() => webhooks.createUnit(req.session.workspaceId, actorOf(req), req.body))
    webhooks.created(made.row)
    return reply.status(201).send({ endpoint: made.endpoint })
  })

  // Without secrets: they were shown once, at creation.
  r.get('/api/webhook-endpoints', admin, async (req) => ({
    endpoints: await units.read(() => webhooks.listUnit(req.session.workspaceId)),
  }))

  r.delete('/api/webhook-endpoints/:id', { ...admin, schema: { params: IdParams } }, async (req, reply) => {
    await units.transact(() => webhooks.removeUnit(req.session.workspaceId, actorOf(req), req.params.id))
    webhooks.removed(req.params.id)
    return reply.status(204).send()
  })

  // Newest first: each attempt's event, status code or error, duration, attempt number, time and next retry.
  r.get('/api/webhook-endpoints/:id/deliveries', { ...admin, schema: { params: IdParams, querystring: DeliveriesQuery } }, async (req) => ({
    deliveries: await units.read(() => webhooks.deliveriesUnit(req.session.workspaceId, req.params.id, req.query.limit ?? 50)),
  }))
}
