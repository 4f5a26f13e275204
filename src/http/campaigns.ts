// Campaigns (issue 7): drafts, preview, start now or at a time, pause / resume /
// cancel, follow-up, and the analytics — the campaign with its counters (live on the
// stream as `campaign.updated`), the per-recipient table (keyset pages) and its CSV.
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { csvLine } from '../domain/contacts/csv.ts'
import { RECIPIENT_FILTERS } from '../domain/campaigns/campaign-analytics.ts'
import type { CampaignAudience, CampaignParams, CampaignRecipientDTO } from '../events/types.ts'
import type { Services } from '../services.ts'
import { cursorOf, idFromCursor, keysetPage } from './paging.ts'

const DEFAULT_PAGE = 50
const MAX_PAGE = 500
const CSV_PAGE = 1000

const ParamName = Type.String({ minLength: 1, maxLength: 60 })
// Union branches carry no additionalProperties: false — Fastify's Ajv removes
// additional properties while trying each branch, which would strip a later branch's
// fields (e.g. `key`) before it is tried.
const Source = Type.Union([
  Type.Object({ from: Type.Union([Type.Literal('name'), Type.Literal('first_name'), Type.Literal('phone')]) }),
  Type.Object({
    from: Type.Literal('attribute'),
    key: Type.String({ minLength: 1, maxLength: 100 }),
    fallback: Type.Optional(Type.String({ maxLength: 1024 })),
  }),
  Type.Object({ from: Type.Literal('fixed'), value: Type.String({ maxLength: 1024 }) }),
])
const Params = Type.Object(
  { body: Type.Record(ParamName, Source), header: Type.Record(ParamName, Source) },
  { additionalProperties: false },
)
const Audience = Type.Union([
  Type.Object({ kind: Type.Literal('all') }),
  Type.Object({
    kind: Type.Literal('tags'),
    tags: Type.Array(Type.String({ minLength: 1, maxLength: 40 }), { minItems: 1, maxItems: 20 }),
    match: Type.Union([Type.Literal('any'), Type.Literal('all')]),
  }),
  Type.Object({ kind: Type.Literal('list'), listId: Type.Integer({ minimum: 1 }) }),
  Type.Object({
    kind: Type.Literal('followup'),
    campaignId: Type.Integer({ minimum: 1 }),
    filter: Type.Union([Type.Literal('failed'), Type.Literal('unread'), Type.Literal('no_reply')]),
  }),
])
const Template = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 512 }), language: Type.String({ minLength: 1, maxLength: 20 }) },
  { additionalProperties: false },
)
const CampaignBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), template: Template, params: Params, audience: Audience },
  { additionalProperties: false },
)
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })

const iso = (t: number | null) => (t === null ? '' : new Date(t).toISOString())

export async function campaignRoutes(app: FastifyInstance, opts: { services: Services }) {
  // Issue 17: reads run as units (one snapshot, with their eventId), writes in the service's units.
  const { units, unitLog } = opts.services
  const { service, analytics } = opts.services.campaigns
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)
  // Issue 13: agents read campaigns; only admins create, edit and run them.
  const adminOnly = app.requireAdmin
  const as = (b: { params: unknown; audience: unknown }) => ({
    params: b.params as CampaignParams,
    audience: b.audience as CampaignAudience,
  })

  r.get(
    '/api/campaigns',
    {
      schema: {
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 40 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
        }),
      },
    },
    async (req) => {
      const { result, eventId } = await unitLog.snapshot(() =>
        service.listUnit(req.session.workspaceId, {
          beforeId: req.query.cursor ? idFromCursor(req.query.cursor) : undefined,
          limit: req.query.limit ?? DEFAULT_PAGE,
        }),
      )
      return { campaigns: result.campaigns, nextCursor: result.nextBeforeId === null ? null : cursorOf(result.nextBeforeId), eventId }
    },
  )

  r.post('/api/campaigns', { preValidation: adminOnly, schema: { body: CampaignBody } }, async (req, reply) => {
    const campaign = await service.create(req.session.workspaceId, req.session.userId, { ...req.body, ...as(req.body) })
    return reply.status(201).send({ campaign })
  })

  // The builder's live preview: what one contact receives, and the audience's size.
  r.post(
    '/api/campaigns/preview',
    {
      schema: {
        body: Type.Object(
          { template: Template, params: Params, audience: Audience, contactId: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => service.preview(req.session.workspaceId, { template: req.body.template, ...as(req.body) }, req.body.contactId),
  )

  r.post(
    '/api/campaigns/audience',
    { schema: { body: Type.Object({ audience: Audience }, { additionalProperties: false }) } },
    async (req) => ({
      audience: await units.read(() => service.audienceSizeUnit(req.session.workspaceId, req.body.audience as CampaignAudience)),
    }),
  )

  r.get('/api/campaigns/:id', { schema: { params: IdParams } }, async (req) => {
    const { result, eventId } = await unitLog.snapshot(() => service.getUnit(req.session.workspaceId, req.params.id))
    return { campaign: result, eventId }
  })

  r.put('/api/campaigns/:id', { preValidation: adminOnly, schema: { params: IdParams, body: CampaignBody } }, async (req) => ({
    campaign: await service.update(req.session.workspaceId, req.params.id, { ...req.body, ...as(req.body) }),
  }))

  r.post(
    '/api/campaigns/:id/start',
    {
      preValidation: adminOnly,
      schema: {
        params: IdParams,
        // `at`: Unix ms to schedule; absent, null or past: send now.
        body: Type.Object({ at: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])) }, { additionalProperties: false }),
      },
    },
    async (req) => ({ campaign: await service.start(req.session.workspaceId, req.params.id, req.body.at) }),
  )

  r.post('/api/campaigns/:id/pause', { preValidation: adminOnly, schema: { params: IdParams } }, async (req) => ({
    campaign: await service.pause(req.session.workspaceId, req.params.id),
  }))
  r.post('/api/campaigns/:id/resume', { preValidation: adminOnly, schema: { params: IdParams } }, async (req) => ({
    campaign: await service.resume(req.session.workspaceId, req.params.id),
  }))
  r.post('/api/campaigns/:id/cancel', { preValidation: adminOnly, schema: { params: IdParams } }, async (req) => ({
    campaign: await service.cancel(req.session.workspaceId, req.params.id),
  }))

  // Explicit, never automatic: sends in doubt may have reached WhatsApp (see the domain).
  r.post('/api/campaigns/:id/retry-unconfirmed', { preValidation: adminOnly, schema: { params: IdParams } }, async (req) =>
    service.retryUnconfirmed(req.session.workspaceId, req.params.id),
  )

  r.post(
    '/api/campaigns/:id/follow-up',
    {
      preValidation: adminOnly,
      schema: {
        params: IdParams,
        body: Type.Object(
          {
            filter: Type.Union([Type.Literal('failed'), Type.Literal('unread'), Type.Literal('no_reply')]),
            name: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) =>
      reply.status(201).send({
        campaign: await service.followUp(req.session.workspaceId, req.session.userId, req.params.id, req.body.filter, req.body.name),
      }),
  )

  r.get(
    '/api/campaigns/:id/recipients',
    {
      schema: {
        params: IdParams,
        querystring: Type.Object({
          cursor: Type.Optional(Type.String({ maxLength: 40 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })),
          status: Type.Optional(Type.Union(RECIPIENT_FILTERS.map((s) => Type.Literal(s)))),
        }),
      },
    },
    async (req) => {
      const limit = req.query.limit ?? DEFAULT_PAGE
      const { result, eventId } = await unitLog.snapshot(() =>
        service.recipientsUnit(req.session.workspaceId, req.params.id, {
          afterId: req.query.cursor ? idFromCursor(req.query.cursor) : undefined,
          limit: limit + 1,
          status: req.query.status,
        }),
      )
      const { page, nextCursor } = keysetPage(result, limit, (last) => [last.id])
      return { recipients: page, nextCursor, eventId }
    },
  )

  r.get('/api/campaigns/:id/recipients.csv', { schema: { params: IdParams } }, async (req, reply) => {
    const c = await service.owned(req.session.workspaceId, req.params.id)
    const header = [
      'recipient_id',
      'contact_id',
      'name',
      'phone',
      'status',
      'skip_reason',
      'error_code',
      'error_reason',
      'queued_at',
      'sent_at',
      'delivered_at',
      'read_at',
      'failed_at',
      'replied_at',
    ]
    const row = (x: CampaignRecipientDTO) =>
      csvLine([
        x.id,
        x.contact.id,
        x.contact.name,
        x.contact.phone,
        x.status,
        x.skip?.reason ?? '',
        x.error?.code ?? '',
        x.error?.reason ?? x.skip?.detail ?? '',
        iso(x.queuedAt),
        iso(x.sentAt),
        iso(x.deliveredAt),
        iso(x.readAt),
        iso(x.failedAt),
        iso(x.repliedAt),
      ])
    // Every recipient in id order, a page (one read) at a time.
    const body = Readable.from(
      (async function* () {
        // A BOM so Excel reads the names as UTF-8.
        yield '\ufeff' + csvLine(header)
        for (let after = 0; ; ) {
          const page = await units.read(() => analytics.recipientsUnit(c.id, { afterId: after, limit: CSV_PAGE }))
          if (page.length === 0) return
          yield page.map(row).join('')
          after = page[page.length - 1]!.id
        }
      })(),
    )
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="campaign-${c.id}-recipients.csv"`)
      .header('x-content-type-options', 'nosniff')
      .send(body)
  })
}
