// Contacts (issue 7): search and filters, one contact, tags, opt-out, imported lists,
// and the CSV import in two steps — a preview with its validation report, then the
// import of exactly that file. Route → schema → one domain call → status. A contact is the
// workspace's (every agent edits contacts); its conversations — the contact's thread,
// one per channel it wrote to — are listed only in the caller's channels (issue 13).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import type { ConversationDTO } from '../events/types.ts'
import { canSeeChannel } from '../domain/accounts/access.ts'
import { cursorOf, idFromCursor } from './paging.ts'

const DEFAULT_PAGE = 50
const MAX_PAGE = 200
// A 100,000-row CSV with a few columns is well under this; the app's default is 256 KB.
const IMPORT_BODY_LIMIT = 32 * 1024 * 1024

const Tag = Type.String({ minLength: 1, maxLength: 40 })
const Attributes = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 1024 }))

const ImportBody = Type.Object(
  {
    csv: Type.String({ minLength: 1, maxLength: IMPORT_BODY_LIMIT }),
    separator: Type.Optional(Type.Union([Type.Literal(','), Type.Literal(';'), Type.Literal('\t')])),
    mapping: Type.Optional(
      Type.Object(
        {
          phone: Type.Optional(Type.String({ maxLength: 200 })),
          name: Type.Optional(Type.String({ maxLength: 200 })),
          tags: Type.Optional(Type.String({ maxLength: 200 })),
          attributes: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    defaultCountryCode: Type.Optional(Type.String({ maxLength: 5 })),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 20 })),
    listName: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
)

export async function contactRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { units, unitLog } = opts.services
  const { contacts, importer } = opts.services.campaigns
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)

  r.get(
    '/api/contacts',
    {
      schema: {
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 100 })),
          tag: Type.Optional(Type.String({ maxLength: 40 })),
          listId: Type.Optional(Type.Integer({ minimum: 1 })),
          optedOut: Type.Optional(Type.Boolean()),
          kind: Type.Optional(Type.Union([Type.Literal('whatsapp'), Type.Literal('messenger')])),
          cursor: Type.Optional(Type.String({ maxLength: 40 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
        }),
      },
    },
    async (req) => {
      const q = req.query
      // The page and its stream position (`eventId`) in one snapshot.
      const { result, eventId } = await unitLog.snapshot(() =>
        contacts.listUnit(req.session.workspaceId, {
          q: q.q,
          tag: q.tag,
          listId: q.listId,
          optedOut: q.optedOut,
          kind: q.kind,
          beforeId: q.cursor ? idFromCursor(q.cursor) : undefined,
          limit: q.limit ?? DEFAULT_PAGE,
        }),
      )
      return { contacts: result.contacts, nextCursor: result.nextBeforeId === null ? null : cursorOf(result.nextBeforeId), eventId }
    },
  )

  r.post(
    '/api/contacts',
    {
      schema: {
        body: Type.Object(
          {
            phone: Type.String({ minLength: 1, maxLength: 40 }),
            name: Type.Optional(Type.String({ maxLength: 200 })),
            tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
            attributes: Type.Optional(Attributes),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const contact = await unitLog.transact((batch) => contacts.createUnit(req.session.workspaceId, req.body, batch))
      return reply.status(201).send({ contact })
    },
  )

  r.get('/api/contacts/tags', async (req) => ({ tags: await units.read(() => contacts.tagsUnit(req.session.workspaceId)) }))
  r.get('/api/contacts/lists', async (req) => ({ lists: await units.read(() => contacts.listsUnit(req.session.workspaceId)) }))

  r.post(
    '/api/contacts/tags',
    {
      schema: {
        body: Type.Object(
          {
            contactIds: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 1000 }),
            add: Type.Optional(Type.Array(Tag, { maxItems: 20 })),
            remove: Type.Optional(Type.Array(Tag, { maxItems: 20 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      updated: await unitLog.transact((batch) =>
        contacts.bulkTagUnit(req.session.workspaceId, req.body.contactIds, req.body.add ?? [], req.body.remove ?? [], batch),
      ),
    }),
  )

  r.post('/api/contacts/import/preview', { bodyLimit: IMPORT_BODY_LIMIT, schema: { body: ImportBody } }, async (req) => ({
    report: await units.read(() => importer.previewUnit(req.session.workspaceId, req.body)),
  }))

  r.post('/api/contacts/import', { bodyLimit: IMPORT_BODY_LIMIT, schema: { body: ImportBody } }, async (req, reply) =>
    reply.status(201).send({
      report: await unitLog.transact((batch) => importer.commitUnit(req.session.workspaceId, req.session.userId, req.body, batch)),
    }),
  )

  r.get('/api/contacts/:id', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const { result, eventId } = await unitLog.snapshot(() => contacts.getUnit(req.session.workspaceId, req.params.id))
    return { contact: result, eventId }
  })

  // The contact's conversations the caller may see, oldest first, each as the list shows it.
  r.get('/api/contacts/:id/conversations', { schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const ws = req.session.workspaceId
    const { store } = opts.services
    const { conversations } = store
    const { result, eventId } = await unitLog.snapshot(function* () {
      yield* contacts.getUnit(ws, req.params.id)
      const seen: ConversationDTO[] = []
      for (const id of yield* conversations.conversationIdsOfContact(ws, req.params.id)) {
        const c = (yield* conversations.conversationDTOFor({ userId: req.access.userId }, ws, id))!
        if (canSeeChannel(req.access, c.channelId)) seen.push(c)
      }
      return seen
    })
    return { conversations: result, eventId }
  })

  r.patch(
    '/api/contacts/:id',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object(
          {
            name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
            attributes: Type.Optional(Attributes),
            tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      contact: await unitLog.transact((batch) => contacts.updateUnit(req.session.workspaceId, req.params.id, req.body, batch)),
    }),
  )

  // Sets or reverses the opt-out (only an agent reverses one).
  r.post(
    '/api/contacts/:id/opt-out',
    {
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({ optedOut: Type.Boolean() }, { additionalProperties: false }),
      },
    },
    async (req) => ({
      contact: await unitLog.transact((batch) => contacts.setOptOutUnit(req.session.workspaceId, req.params.id, req.body.optedOut, batch)),
    }),
  )
}
