// The team (issue 13): admins list people, change their role and channels, deactivate
// and reactivate them, invite new ones and issue reset links; everyone changes their own
// name, password and availability; an invited person opens their link and joins.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { publicUser } from '../domain/accounts/auth.ts'
import { PASSWORD_MAX_LENGTH } from '../domain/accounts/password-reset.ts'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { resetUrl } from './password-reset.ts'
import { auditPersonChange } from './audit.ts'
import { setupTokenFor } from './two-factor.ts'

const Role = Type.Union([Type.Literal('admin'), Type.Literal('agent')])
const ChannelIds = Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 1000 })
const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })
const Token = Type.String({ minLength: 1, maxLength: 200 })
const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' })

export async function userRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { config, hub, audit, units, unitLog } = opts.services
  const { team, invitations, resets } = opts.services.accounts
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const admin = { onRequest: app.authenticate, preValidation: app.requireAdmin }
  const signedIn = { onRequest: app.authenticate }
  // Links shown to an admin start with PUBLIC_URL, else the address the admin is using.
  const baseUrl = (req: FastifyRequest) => config.publicUrl ?? `${req.protocol}://${req.host}`
  // Guessing a 256-bit token is hopeless; the limit only keeps the hashing work bounded.
  const rateLimit = { max: config.loginRatePerMinute, timeWindow: 60_000 }

  // ---- admins: people ----
  r.get('/api/users', admin, async (req) => {
    const ws = req.session.workspaceId
    return { users: await units.read(() => team.listUnit(ws)) }
  })

  // ---- everyone: who the teammates are ----
  // The assignee picker's names for an agent, who may hand a conversation to another member
  // of its channel but not read the people list (emails, deactivated people): active people,
  // their name, role, channels and availability.
  r.get('/api/team', signedIn, async (req) => {
    const ws = req.session.workspaceId
    const people = await units.read(() => team.listUnit(ws))
    return {
      people: people
        .filter((u) => !u.disabled)
        .map(({ id, name, role, channelIds, availability }) => ({ id, name, role, channelIds, availability })),
    }
  })

  r.patch(
    '/api/users/:id',
    {
      ...admin,
      schema: {
        params: IdParams,
        body: Type.Object(
          { role: Type.Optional(Role), channelIds: Type.Optional(ChannelIds), disabled: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { workspaceId, userId: actorId } = req.session
      const { id } = req.params
      const patch = req.body
      const before = (await units.read(() => team.listUnit(workspaceId))).find((u) => u.id === id)
      const result = await unitLog.transact((batch) => team.updateUnit(batch, workspaceId, id, patch))
      team.afterUpdate(workspaceId, actorId, id, patch, result)
      const { user, deactivated } = result
      if (before) await auditPersonChange(opts.services, req, before, user)
      // Their sessions were revoked with the change; their open streams end now, not at the next poll.
      if (deactivated) hub.closeWhere((s) => s.userId === user.id)
      return { user }
    },
  )

  // Without SMTP, how an agent who forgot their password gets back in: the admin passes the link on.
  r.post('/api/users/:id/password-reset', { ...admin, schema: { params: IdParams } }, async (req, reply) => {
    const { workspaceId, userId: actorId } = req.session
    const { id } = req.params
    // The link and its audit line in one transaction.
    const { token, expiresAt } = await units.transact(function* () {
      const user = yield* team.memberUnit(workspaceId, id)
      if (user.disabledAt !== null) throw Errors.userDisabled()
      const link = yield* resets.issueUnit(user.id)
      yield* audit.recordUnit({
        workspaceId,
        actor: { userId: actorId, ip: req.ip },
        action: 'user.password_reset_link',
        target: { type: 'user', id: user.id },
      })
      return link
    })
    reply.header('cache-control', 'no-store')
    return reply.status(201).send({ url: resetUrl(baseUrl(req), token), expiresAt })
  })

  // ---- admins: invitations ----
  r.post(
    '/api/users/invitations',
    {
      ...admin,
      schema: {
        body: Type.Object(
          {
            email: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 254 }),
            role: Role,
            channelIds: Type.Optional(ChannelIds),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const { workspaceId, userId } = req.session
      const channelIds = req.body.channelIds ?? []
      const input = { email: req.body.email, role: req.body.role, channelIds }
      // A mailed link must start with PUBLIC_URL (config.ts requires it with SMTP_URL).
      const base = baseUrl(req)
      // The invitation and its audit line in one transaction; the mail only once it committed.
      const { invitation, mail } = await units.transact(function* () {
        const created = yield* invitations.createUnit(workspaceId, userId, input, base)
        const { invitation } = created
        yield* audit.recordUnit({
          workspaceId,
          actor: { userId, ip: req.ip },
          action: 'user.invited',
          target: { type: 'invitation', id: invitation.id },
          detail: { email: invitation.email, role: invitation.role, channelIds },
        })
        return created
      })
      invitations.mailInvitation(mail)
      reply.header('cache-control', 'no-store')
      return reply.status(201).send({ invitation })
    },
  )
  r.get('/api/users/invitations', admin, async (req) => {
    const ws = req.session.workspaceId
    return { invitations: await units.read(() => invitations.pendingUnit(ws)) }
  })
  r.delete('/api/users/invitations/:id', { ...admin, schema: { params: IdParams } }, async (req) => {
    const ws = req.session.workspaceId
    const { id } = req.params
    await units.transact(() => invitations.revokeUnit(ws, id))
    return { ok: true }
  })

  // ---- the invited person (no session: the link is the credential) ----
  // GET keeps the issue's shape for API clients; the browser posts the token in a body
  // (check), so it never appears in a URL. request-log.ts redacts it from logged URLs.
  r.get('/api/invitations/:token', { schema: { params: Type.Object({ token: Token }) }, config: { rateLimit } }, async (req) => {
    const { token } = req.params
    return { invitation: await units.read(() => invitations.previewUnit(token)) }
  })
  r.post('/api/invitations/check', { schema: { body: Type.Object({ token: Token }) }, config: { rateLimit } }, async (req) => {
    const { token } = req.body
    return { invitation: await units.read(() => invitations.previewUnit(token)) }
  })
  r.post(
    '/api/invitations/accept',
    {
      schema: { body: Type.Object({ token: Token, name: Name, password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }) }) },
      config: { rateLimit },
    },
    async (req, reply) => {
      const user = await invitations.accept(req.body.token, req.body.name, req.body.password, { units, log: unitLog })
      // Issue 16: the workspace requires 2FA: the new person sets it up before any session.
      if (await units.read(() => opts.services.twoFactor.requiredUnit(user.workspaceId)))
        throw Errors.totpSetupRequired(setupTokenFor(app, user))
      const { token, expiresAt } = await app.signIn(reply, user)
      return reply.status(201).send({ token, user: publicUser(user), expiresAt })
    },
  )

  // ---- everyone: their own profile and availability ----
  r.patch(
    '/api/me',
    {
      ...signedIn,
      schema: {
        body: Type.Object(
          {
            name: Type.Optional(Name),
            password: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })),
            currentPassword: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { sessionId, userId, workspaceId } = req.session
      const { user, sessionsEnded } = await team.updateProfile(workspaceId, userId, sessionId, req.body, { units, log: unitLog })
      // The other sessions were revoked with the new password; their streams end now.
      if (sessionsEnded > 0) hub.closeWhere((s) => s.userId === userId && s.sessionId !== sessionId)
      return { user: publicUser(user), sessionsEnded }
    },
  )

  r.put(
    '/api/me/availability',
    {
      ...signedIn,
      schema: {
        body: Type.Object(
          { status: Type.Union([Type.Literal('online'), Type.Literal('busy'), Type.Literal('away')]) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { workspaceId, userId } = req.session
      const { status } = req.body
      const user = await unitLog.transact((batch) => team.setAvailabilityUnit(batch, workspaceId, userId, status))
      team.afterAvailability(workspaceId, userId, status)
      return { user }
    },
  )
}
