// Labels (issue 14): everyone signed in reads the workspace's labels (the picker and the
// list's filter need them); admins create, rename, recolour and delete them; anyone who can
// see a conversation sets its labels. The rules are src/domain/labels/labels.ts's. Changes to
// the labels and to a conversation's labels run as units of work on either database (issue 17).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { MAX_LABELS_PER_CONVERSATION } from '../domain/labels/labels.ts'
import type { Services } from '../services.ts'
import { conversationInScopeUnit } from '../domain/inbox/conversation-status.ts'

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })
// Loose on purpose: the domain checks the name and the colour and names what is wrong
// (LABEL_NAME_INVALID, LABEL_COLOR_INVALID) instead of a generic VALIDATION_FAILED.
const Name = Type.String({ maxLength: 400 })
const Color = Type.String({ maxLength: 100 })

export async function labelRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { labels, store, unitLog } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const signedIn = { onRequest: app.authenticate }
  const admin = { onRequest: app.authenticate, preValidation: app.requireAdmin }

  // `eventId`: the stream position the list is current to (a client applies a later
  // `labels.changed` over it, never an older one).
  r.get('/api/labels', signedIn, async (req) => {
    const { result, eventId } = await unitLog.snapshot(() => labels.listUnit(req.session.workspaceId))
    return { labels: result, eventId }
  })

  r.post(
    '/api/labels',
    { ...admin, schema: { body: Type.Object({ name: Name, color: Color }, { additionalProperties: false }) } },
    async (req, reply) => {
      const label = await unitLog.transact((batch) => labels.createUnit(batch, req.session.workspaceId, req.body))
      return reply.status(201).send({ label })
    },
  )

  r.patch(
    '/api/labels/:id',
    {
      ...admin,
      schema: {
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Name), color: Type.Optional(Color) }, { additionalProperties: false }),
      },
    },
    async (req) => ({
      label: await unitLog.transact((batch) => labels.updateUnit(batch, req.session.workspaceId, req.params.id, req.body)),
    }),
  )

  r.delete('/api/labels/:id', { ...admin, schema: { params: IdParams } }, async (req, reply) => {
    await unitLog.transact((batch) => labels.removeUnit(batch, req.session.workspaceId, req.params.id))
    return reply.status(204).send()
  })

  // The conversation's labels, as a whole set (idempotent: the same set again changes
  // nothing and emits nothing). Outside the caller's channels: 404.
  r.put(
    '/api/conversations/:id/labels',
    {
      ...signedIn,
      schema: {
        params: IdParams,
        body: Type.Object(
          { labelIds: Type.Array(Type.Integer({ minimum: 1 }), { maxItems: MAX_LABELS_PER_CONVERSATION }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const ws = req.session.workspaceId
      const id = req.params.id
      const conversation = await unitLog.transact(function* (batch) {
        yield* conversationInScopeUnit(store, req.access, id)
        yield* labels.setOnConversationUnit(batch, ws, id, req.body.labelIds)
        return (yield* store.conversations.conversationDTOFor({ userId: req.access.userId }, ws, id))!
      })
      return { conversation }
    },
  )
}
