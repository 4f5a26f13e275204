// Two-factor sign-in (issue 16): the person's own 2FA routes, the workspace switch that
// requires it of everyone, an admin's reset for someone who lost their phone, and the
// second step of sign-in (`secondFactor`, called by the login route in http/auth.ts).
//
//   GET  /api/me/2fa                  → {enabled, pending, recoveryCodesLeft, required}
//   POST /api/me/2fa/setup            → {secret, otpauthUrl}   (pending until enabled)
//   POST /api/me/2fa/enable {code}    → {recoveryCodes}        (10, shown once)
//   POST /api/me/2fa/disable {password | code}                 → {ok}
//   POST /api/me/2fa/recovery-codes {password | code}          → {recoveryCodes} (the old ones stop working)
//   GET|PUT /api/settings/two-factor {required}                (admins)
//   DELETE /api/users/:id/2fa                                  (admins: the person sets it up again)
//
// "Required for everyone": someone without 2FA whose password is right gets
// 401 TOTP_SETUP_REQUIRED with a `setupToken` instead of a session. That token is a JWT
// (the app's key, 10 minutes) whose `sid` is not a session id, so `authenticate` refuses it
// everywhere; only setup and enable here accept it, in the body (never a URL), and only
// while the person has no 2FA on. Enable with it answers the recovery codes AND signs in.
//
// Issue 17: every read and change runs as a unit of work (services.units), so it is the same
// on SQLite and PostgreSQL; a change and its audit line commit together.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { publicUser, type UserRow } from '../domain/accounts/auth.ts'
import { type AppError, Errors } from '../errors.ts'
import type { Services } from '../services.ts'
import { UsersRepo } from '../store/users.ts'

const SETUP_SID_PREFIX = '2fa-setup:'
const SETUP_TOKEN_SECONDS = 600
// Confirming with a password or a code: a few tries a minute is plenty for a person.
const PROOF_RATE_LIMIT = { max: 10, timeWindow: 60_000 }

const Code = Type.String({ minLength: 1, maxLength: 32 })
const SetupToken = Type.String({ minLength: 1, maxLength: 2048 })
const Proof = Type.Object(
  { password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })), code: Type.Optional(Code) },
  { additionalProperties: false },
)

export type LoginMethod = 'password' | 'totp' | 'recovery_code'

/** A token that allows only 2FA setup for this person. */
export const setupTokenFor = (app: FastifyInstance, user: UserRow) =>
  app.jwt.sign(
    { sub: String(user.id), sid: `${SETUP_SID_PREFIX}${randomBytes(12).toString('base64url')}` },
    { expiresIn: SETUP_TOKEN_SECONDS },
  )

/**
 * The second step of sign-in, once the password was right. `ok: false` carries the answer
 * and whether it counts as a failed attempt (a wrong code does; "type your code" does not).
 */
export async function secondFactor(
  app: FastifyInstance,
  services: Services,
  user: UserRow,
  proof: { totp?: string; recoveryCode?: string },
  ip: string,
): Promise<{ ok: true; method: LoginMethod } | { ok: false; error: AppError; counts: boolean }> {
  const { twoFactor, audit, units } = services
  const { enabled, required } = await units.read(() => twoFactor.status(user))
  if (!enabled) {
    if (required) return { ok: false, error: Errors.totpSetupRequired(setupTokenFor(app, user)), counts: false }
    return { ok: true, method: 'password' }
  }
  if (proof.totp !== undefined) {
    const code = proof.totp
    return (await units.transact(() => twoFactor.checkCode(user, code)))
      ? { ok: true, method: 'totp' }
      : { ok: false, error: Errors.totpInvalid(), counts: true }
  }
  if (proof.recoveryCode !== undefined) {
    const code = proof.recoveryCode
    // The code used up and its audit line (with how many are left) in one transaction.
    const used = await units.transact(function* () {
      if (!(yield* twoFactor.useRecoveryCode(user, code))) return false
      const left = (yield* twoFactor.status(user)).recoveryCodesLeft
      yield* audit.recordUnit({
        workspaceId: user.workspaceId,
        actor: { userId: user.id, ip },
        action: '2fa.recovery_used',
        target: { type: 'user', id: user.id },
        detail: { recoveryCodesLeft: left },
      })
      return true
    })
    if (!used) return { ok: false, error: Errors.recoveryCodeInvalid(), counts: true }
    return { ok: true, method: 'recovery_code' }
  }
  return { ok: false, error: Errors.totpRequired(), counts: false }
}

/**
 * Audit lines for sign-in (issue 16). A failure is written to the workspace of the account
 * whose e-mail was tried (the first workspace when no account has it), labelled with that
 * e-mail — never the password or code.
 */
export function loginAudit(services: Services) {
  const users = new UsersRepo()
  const { units, auth, audit } = services
  return {
    succeeded(user: UserRow, ip: string, method: LoginMethod): Promise<number> {
      return units.transact(() =>
        audit.recordUnit({
          workspaceId: user.workspaceId,
          actor: { userId: user.id, ip },
          action: 'auth.login',
          target: { type: 'user', id: user.id },
          detail: { method },
        }),
      )
    },
    /** `reason`: password | totp | recovery_code; `lockedOut`: this failure locked the account. */
    failed(email: string, ip: string, reason: string, lockedOut: boolean): Promise<void> {
      const label = email.slice(0, 254)
      // One transaction: the workspace (the default one may be created) and the lines.
      return units.transact(function* () {
        const workspaceId = (yield* users.byEmail(email))?.workspaceId ?? (yield* auth.defaultWorkspaceUnit())
        yield* audit.recordUnit({ workspaceId, actor: { userId: null, label, ip }, action: 'auth.login_failed', detail: { reason } })
        if (lockedOut)
          yield* audit.recordUnit({ workspaceId, actor: { userId: null, label, ip }, action: 'auth.locked_out', detail: { reason } })
      })
    },
  }
}

export async function twoFactorRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { services } = opts
  const { auth, twoFactor, audit, units } = services
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  const signedIn = { onRequest: app.authenticate }
  const admin = { onRequest: app.authenticate, preValidation: app.requireAdmin }

  /** The person acting: from a setup token when one is given, else the session. */
  const person = async (req: FastifyRequest, reply: FastifyReply, setupToken: string | undefined) => {
    if (setupToken !== undefined) {
      let claims: { sub?: unknown; sid?: unknown }
      try {
        claims = app.jwt.verify<{ sub: string; sid: string }>(setupToken)
      } catch {
        throw Errors.setupTokenInvalid()
      }
      const user =
        typeof claims.sid === 'string' && claims.sid.startsWith(SETUP_SID_PREFIX) ? await auth.user(Number(claims.sub)) : undefined
      if (!user || user.disabledAt !== null) throw Errors.setupTokenInvalid()
      return { user, viaSetupToken: true }
    }
    await app.authenticate(req, reply)
    const user = await auth.user(req.session.userId)
    if (!user) throw Errors.unauthorized()
    return { user, viaSetupToken: false }
  }

  /** The audit line of a person's own change, as a unit (it commits with the change). */
  const record = (user: UserRow, ip: string, action: string, detail?: Record<string, unknown>) =>
    audit.recordUnit({
      workspaceId: user.workspaceId,
      actor: { userId: user.id, ip },
      action,
      target: { type: 'user', id: user.id },
      detail,
    })

  /** A password or a current code (or a recovery code) confirms a change to 2FA. */
  const confirm = async (user: UserRow, proof: { password?: string; code?: string }) => {
    if (proof.password === undefined && proof.code === undefined) throw Errors.twoFactorProofRequired()
    const code = proof.code
    const ok =
      proof.password !== undefined
        ? await auth.verifyPassword(user, proof.password)
        : await units.transact(function* () {
            return (yield* twoFactor.checkCode(user, code!)) || (yield* twoFactor.useRecoveryCode(user, code!))
          })
    if (!ok) throw Errors.twoFactorProofWrong()
  }

  /** The session's person as 2FA sees them. */
  const sessionPerson = (req: FastifyRequest) => ({ id: req.session.userId, workspaceId: req.session.workspaceId })

  r.get('/api/me/2fa', signedIn, async (req) => units.read(() => twoFactor.status(sessionPerson(req))))

  // Nobody to set up without a session (header or cookie) or a setup token: 401 before the
  // body's validation, as every signed-in route answers (a 400 would tell a stranger the shape).
  const someone = {
    preValidation: async (req: FastifyRequest) => {
      const body = req.body as { setupToken?: unknown } | null | undefined
      const token = body !== null && typeof body === 'object' ? body.setupToken : undefined
      if (!req.headers.authorization && !req.headers.cookie && token === undefined) throw Errors.unauthorized()
    },
  }

  r.post(
    '/api/me/2fa/setup',
    {
      ...someone,
      schema: { body: Type.Optional(Type.Object({ setupToken: Type.Optional(SetupToken) }, { additionalProperties: false })) },
    },
    async (req, reply) => {
      const { user } = await person(req, reply, req.body?.setupToken)
      return units.transact(() => twoFactor.setup(user))
    },
  )

  r.post(
    '/api/me/2fa/enable',
    {
      ...someone,
      schema: { body: Type.Object({ code: Code, setupToken: Type.Optional(SetupToken) }, { additionalProperties: false }) },
      config: { rateLimit: PROOF_RATE_LIMIT },
    },
    async (req, reply) => {
      const { user, viaSetupToken } = await person(req, reply, req.body.setupToken)
      const code = req.body.code
      const recoveryCodes = await units.transact(function* () {
        const codes = yield* twoFactor.enable(user, code)
        yield* record(user, req.ip, '2fa.enabled')
        return codes
      })
      if (!viaSetupToken) return { recoveryCodes }
      // Set up at sign-in (required for everyone): this completes the sign-in.
      const { token, expiresAt } = await app.signIn(reply, user)
      await loginAudit(services).succeeded(user, req.ip, 'totp')
      return { recoveryCodes, token, user: publicUser(user), expiresAt }
    },
  )

  r.post('/api/me/2fa/disable', { ...signedIn, schema: { body: Proof }, config: { rateLimit: PROOF_RATE_LIMIT } }, async (req) => {
    const user = (await auth.user(req.session.userId))!
    if (!(await units.read(() => twoFactor.isEnabled(user)))) throw Errors.totpNotEnabled()
    await confirm(user, req.body)
    await units.transact(function* () {
      yield* twoFactor.disable(user)
      yield* record(user, req.ip, '2fa.disabled')
    })
    return { ok: true }
  })

  r.post('/api/me/2fa/recovery-codes', { ...signedIn, schema: { body: Proof }, config: { rateLimit: PROOF_RATE_LIMIT } }, async (req) => {
    const user = (await auth.user(req.session.userId))!
    if (!(await units.read(() => twoFactor.isEnabled(user)))) throw Errors.totpNotEnabled()
    await confirm(user, req.body)
    const recoveryCodes = await units.transact(function* () {
      const codes = yield* twoFactor.regenerate(user)
      yield* record(user, req.ip, '2fa.recovery_codes_regenerated')
      return codes
    })
    return { recoveryCodes }
  })

  // ---- admins ----
  r.get('/api/settings/two-factor', admin, async (req) => ({
    required: await units.read(() => twoFactor.requiredUnit(req.session.workspaceId)),
  }))
  r.put(
    '/api/settings/two-factor',
    { ...admin, schema: { body: Type.Object({ required: Type.Boolean() }, { additionalProperties: false }) } },
    async (req) => {
      const ws = req.session.workspaceId
      const required = req.body.required
      await units.transact(function* () {
        yield* twoFactor.setRequiredUnit(ws, required)
        yield* audit.recordUnit({
          workspaceId: ws,
          actor: { userId: req.session.userId, ip: req.ip },
          action: '2fa.requirement_changed',
          detail: { required },
        })
      })
      return { required }
    },
  )

  // Someone lost their phone and their recovery codes: an admin turns 2FA off for them
  // (their sessions stay; their next sign-in asks for setup again when it is required).
  r.delete('/api/users/:id/2fa', { ...admin, schema: { params: Type.Object({ id: Type.Integer({ minimum: 1 }) }) } }, async (req) => {
    const target = await auth.user(req.params.id)
    if (!target || target.workspaceId !== req.session.workspaceId) throw Errors.notFound('User')
    // The admin's workspace, from the session: the row of someone elsewhere is never touched.
    const who = { id: target.id, workspaceId: req.session.workspaceId }
    await units.transact(function* () {
      yield* twoFactor.disable(who)
      yield* audit.recordUnit({
        workspaceId: who.workspaceId,
        actor: { userId: req.session.userId, ip: req.ip },
        action: '2fa.disabled',
        target: { type: 'user', id: who.id },
        detail: { by: 'admin' },
      })
    })
    return { ok: true }
  })
}
