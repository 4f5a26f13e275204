// Personal API tokens (issue 16): a person's own, created and revoked from a signed-in
// session (auth.ts refuses these paths to a token). The value is in the create answer only.
// Each route runs one unit of work (issue 17): the token and its audit line commit together.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import { Errors } from '../errors.ts'
import { TOKEN_SESSION_PREFIX } from '../domain/tokens/api-tokens.ts'

const Scope = Type.Union([Type.Literal('read'), Type.Literal('write')])

export async function apiTokenRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { apiTokens, hub, units } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.post(
    '/api/tokens',
    {
      schema: {
        body: Type.Object({ name: Type.String({ maxLength: 200 }), scope: Scope }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const name = req.body.name.trim()
      if (name === '' || name.length > 100) throw Errors.tokenNameInvalid()
      const { workspaceId, userId } = req.session
      const token = await units.transact(() => apiTokens.createUnit({ workspaceId, userId, ip: req.ip }, { name, scope: req.body.scope }))
      return reply.status(201).send({ token })
    },
  )

  r.get('/api/tokens', async (req) => ({
    tokens: await units.read(() => apiTokens.listUnit(req.session.workspaceId, req.session.userId)),
  }))

  r.delete('/api/tokens/:id', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const { workspaceId, userId } = req.session
    const revoked = await units.transact(() => apiTokens.revokeUnit({ workspaceId, userId, ip: req.ip }, req.params.id))
    if (!revoked) throw Errors.notFound('Token')
    // Its open streams end now; its next request gets 401.
    hub.closeWhere((s) => s.sessionId === `${TOKEN_SESSION_PREFIX}${req.params.id}`)
    return { ok: true }
  })
}
