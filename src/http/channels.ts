// Channels as data: list for everyone in the workspace; add and edit for admins.
// Tokens and secrets are write-only: once saved, the API only says whether one is set.
// The channel's own reads and writes are units of work (issue 17), on either database.
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { toPublicChannel } from '../domain/channels/channels.ts'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { auditChannelChange } from './audit.ts'

const Secret = Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()]))
const Editable = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  displayPhoneNumber: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  businessAccountId: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{1,32}$' }), Type.Null()])),
  accessToken: Secret,
  appSecret: Secret,
  verifyToken: Secret,
  enabled: Type.Optional(Type.Boolean()),
  // Issue 13: automatic assignment, round robin among the available members.
  autoAssign: Type.Optional(Type.Boolean()),
  // Issue 14: only the conversation's assignee may reply.
  assigneeOnly: Type.Optional(Type.Boolean()),
  // Issue 13: who works this channel's conversations (user ids; replaces the list).
  members: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 1000 })),
}

export async function channelRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { channels, channelChecks, sending, clock, config, assignment, units, unitLog } = opts.services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  app.addHook('onRequest', app.authenticate)
  const adminOnly = app.requireAdmin

  // WhatsApp numbers carry their live pacing: whether Meta's 130429 widened the margin
  // or paused the number, which is otherwise visible only in the log.
  r.get('/api/channels', async (req) => {
    const now = clock.now()
    const ws = req.session.workspaceId
    const [members, list] = await units.read(function* () {
      return [yield* channels.membersByChannelUnit(ws), yield* channels.listUnit(ws)] as const
    })
    return {
      channels: list.map((c) => ({
        ...toPublicChannel(c, members.get(c.id) ?? []),
        ...(c.kind === 'whatsapp' ? { pacing: sending.limiter.status(c.id, now) } : {}),
      })),
    }
  })

  // The server's verify token, to paste into Meta's webhook settings: a secret shared
  // with Meta, so admins only, never cached and never logged (the body is not logged).
  r.get('/api/channels/verify-token', { preValidation: adminOnly }, async (_req, reply) => {
    reply.header('cache-control', 'no-store')
    return { verifyToken: config.metaVerifyToken }
  })

  r.post(
    '/api/channels',
    {
      preValidation: adminOnly,
      schema: {
        body: Type.Object({
          kind: Type.Union([Type.Literal('whatsapp'), Type.Literal('messenger')]),
          // phone_number_id or page id: digits, as Meta issues them.
          externalId: Type.String({ pattern: '^\\d{1,32}$' }),
          ...Editable,
        }),
      },
    },
    async (req, reply) => {
      const { members, ...input } = req.body
      // `channel.changed` commits with it: every process's directory reloads (this one before answering).
      const row = await unitLog.transact((batch) => channels.createUnit(req.session.workspaceId, input, batch))
      await channels.reloadAfterOwnChange()
      if (members) await opts.services.accounts.team.setChannelMembers(row.workspaceId, row.id, members)
      // Meta is asked after the commit, in the background: saving never waits for or fails on it.
      channelChecks.check(row.workspaceId, row.id)
      await auditChannelChange(opts.services, req, row.id, 'channel.created', req.body)
      return reply.status(201).send({ channel: toPublicChannel(row, members ? [...new Set(members)].sort((a, b) => a - b) : []) })
    },
  )

  r.patch(
    '/api/channels/:id',
    {
      preValidation: adminOnly,
      schema: {
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Partial(Type.Object(Editable)),
      },
    },
    async (req) => {
      const { members, ...patch } = req.body
      const ws = req.session.workspaceId
      const id = req.params.id
      if (!(await units.read(() => channels.getUnit(ws, id)))) throw Errors.notFound('Channel')
      // Members first: a refused list (someone unknown) changes nothing at all.
      if (members) await opts.services.accounts.team.setChannelMembers(ws, id, members)
      // A rule everyone's open page follows (issue 14: the composer's "only the assignee can
      // reply" hint; the channel's name in the list): live, as `channel.updated` without
      // members, committed with the change itself.
      const live = patch.assigneeOnly !== undefined || patch.autoAssign !== undefined || patch.name !== undefined
      // With `channel.changed` (every process's directory reloads on it): this process's
      // reload is done before the answer, so its webhooks already use the new secrets.
      const row = await unitLog.transact(function* (batch) {
        const row = yield* channels.updateUnit(ws, id, patch, batch)
        if (row && live) batch.emit(row.workspaceId, 'channel.updated', { channel: toPublicChannel(row) })
        return row
      })
      await channels.reloadAfterOwnChange()
      if (!row) throw Errors.notFound('Channel')
      await auditChannelChange(opts.services, req, row.id, 'channel.updated', req.body)
      if (req.body.accessToken !== undefined) channelChecks.check(row.workspaceId, row.id)
      // Turned on: the conversations already waiting go round robin now, not at the next arrival.
      if (req.body.autoAssign === true) await unitLog.transact((batch) => assignment.drainChannelUnit(batch, row.workspaceId, row.id))
      const byChannel = await units.read(() => channels.membersByChannelUnit(row.workspaceId))
      return { channel: toPublicChannel(row, byChannel.get(row.id) ?? []) }
    },
  )
}
