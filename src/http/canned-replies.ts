// Canned replies (issue 14): the shared ones and the caller's own, with a shortcut for the
// composer's `/` list, and their text rendered for one conversation. The rules (who may
// change what, shortcuts, variables) are domain/canned/canned-replies.ts's; lengths and
// the shortcut's form are checked there too, so a refusal says what to fix. Each request
// runs the domain's units of work (issue 17): a read, or one transaction for a change.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'

// Generous bounds against abuse only; the domain's own checks (1–32, 1–4096) explain themselves.
const Shortcut = Type.String({ maxLength: 200 })
const Text = Type.String({ maxLength: 20_000 })
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })

export async function cannedReplyRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { canned, units } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.get('/api/canned-replies', async (req) => ({ cannedReplies: await units.read(() => canned.list(req.access)) }))

  // The help line of the settings screen: the variables and the contacts' attribute keys.
  r.get('/api/canned-replies/variables', async (req) => units.read(() => canned.variables(req.access)))

  r.post(
    '/api/canned-replies',
    {
      schema: {
        body: Type.Object({ shortcut: Shortcut, text: Text, shared: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => reply.status(201).send({ cannedReply: await units.transact(() => canned.create(req.access, req.body)) }),
  )

  r.patch(
    '/api/canned-replies/:id',
    {
      schema: {
        params: IdParams,
        body: Type.Object(
          { shortcut: Type.Optional(Shortcut), text: Type.Optional(Text), shared: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({ cannedReply: await units.transact(() => canned.update(req.access, req.params.id, req.body)) }),
  )

  r.delete('/api/canned-replies/:id', { schema: { params: IdParams } }, async (req) => {
    await units.transact(() => canned.remove(req.access, req.params.id))
    return { ok: true }
  })

  r.post(
    '/api/canned-replies/render',
    {
      schema: {
        body: Type.Object(
          { id: Type.Integer({ minimum: 1 }), conversationId: Type.Integer({ minimum: 1 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => units.read(() => canned.render(req.access, req.body.id, req.body.conversationId)),
  )
}
