// A contact's data (issue 16), admins only: GET /api/contacts/:id/export (JSON, as a file)
// and POST /api/contacts/:id/erase {confirm: '<the contact's name or phone number>'}.
// Another workspace's contact answers 404.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'

const Params = Type.Object({ id: Type.Integer({ minimum: 1 }) })

export async function contactDataRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { contactData, units } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)
  app.addHook('preValidation', app.requireAdmin)

  r.get('/api/contacts/:id/export', { schema: { params: Params } }, async (req, reply) => {
    const { workspaceId, userId } = req.session
    const data = await units.transact(() => contactData.exportUnit(workspaceId, req.params.id, { userId, ip: req.ip }))
    reply.header('content-disposition', `attachment; filename="contact-${req.params.id}.json"`)
    reply.header('cache-control', 'no-store')
    return data
  })

  r.post(
    '/api/contacts/:id/erase',
    {
      schema: {
        params: Params,
        body: Type.Object({ confirm: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const { workspaceId, userId } = req.session
      const erased = await contactData.erase(workspaceId, req.params.id, req.body.confirm, { userId, ip: req.ip })
      return { erased }
    },
  )
}
