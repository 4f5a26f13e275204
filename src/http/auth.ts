// Authentication: JWT (HS256 pinned, with expiry) carried by an HttpOnly SameSite=Strict
// cookie for the browser or `Authorization: Bearer` for API clients — never in a URL.
// Each token names a server-side session, so logout really ends it (and its streams).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import jwt from '@fastify/jwt'
import rateLimit from '@fastify/rate-limit'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Errors } from '../errors.ts'
import { publicUser, type Session, type UserRow } from '../domain/accounts/auth.ts'
import type { Access } from '../domain/accounts/access.ts'
import { LoginThrottle, accountKey } from '../domain/accounts/login-throttle.ts'
import type { Services } from '../services.ts'
import { isTokenValue } from '../domain/tokens/api-tokens.ts'
import { loginAudit, secondFactor } from './two-factor.ts'

export const SESSION_COOKIE = 'parley_session'

declare module 'fastify' {
  interface FastifyRequest {
    session: Session
    /** What this person may see (issue 13), read with the session on every request. */
    access: Access
  }
  interface FastifyInstance {
    authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<void>
    /**
     * The hook for what only admins may do (issue 13: channels, people, invitations,
     * campaign writes, workspace settings), as a route's `preValidation`: after
     * `authenticate`, before the body is validated, so an agent learns nothing of the
     * route's schema — every call answers 403. The role is read with the session on
     * every request, so a demotion applies at once.
     */
    requireAdmin: (req: FastifyRequest) => Promise<void>
    /** Starts a session for this user: the cookie is set on the reply; the token and its end are returned. */
    signIn: (reply: FastifyReply, user: UserRow) => Promise<{ token: string; expiresAt: number }>
  }
}
declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; sid: string }
    user: { sub: string; sid: string; exp: number }
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
// Issue 16: what a `read` API token may do, and what no API token may touch (session only).
const READ_METHODS = new Set(['GET', 'HEAD'])
const SESSION_ONLY_PATHS = /^\/api\/(?:tokens|me\/2fa)(?:[/?]|$)/

/** The value of `Authorization: Bearer <value>`, if the request has one. */
function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined
}
const LOGIN_WINDOW_MS = 60_000

/** Whether a browser's Origin header names this server; `null`, garbage or another host do not. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host
  } catch {
    return false
  }
}

// Tokens already verified, kept by fast-jwt's own LRU cache (keyed by a hash of the
// token; expiry still checked on every hit): a hit skips the decode + HMAC that every
// read paid (profiled on the reads bench). The session is still looked up in the
// database on every request, so logout or a disabled user ends access at once.
const VERIFIED_TOKENS_CACHE = 10_000

export const authPlugin = fp(async (app: FastifyInstance, opts: { services: Services }) => {
  const { services } = opts
  const { config, auth, hub, clock, units } = services
  const throttle = new LoginThrottle(
    { name: 'login', perAccount: config.loginRatePerMinute, perAddress: config.loginRatePerAddressPerMinute, windowMs: LOGIN_WINDOW_MS },
    clock.now,
    units,
  )
  await app.register(cookie)
  await app.register(jwt, {
    secret: config.jwtSecret,
    sign: { algorithm: 'HS256', expiresIn: config.sessionTtlSeconds },
    // Pinning the algorithm is what defeats `alg: none` and algorithm confusion.
    verify: { algorithms: ['HS256'], cache: VERIFIED_TOKENS_CACHE },
    cookie: { cookieName: SESSION_COOKIE, signed: false },
  })
  await app.register(rateLimit, { global: false })

  app.decorateRequest('session', null as unknown as Session)
  app.decorateRequest('access', null as unknown as Access)
  app.decorate('authenticate', async (req: FastifyRequest) => {
    // Issue 16: a personal API token (prefix prl_) acts as its person, within its scope.
    const bearer = bearerOf(req)
    if (bearer !== undefined && isTokenValue(bearer)) {
      // One transaction: the token's row, its last-used time when that is stale, and the
      // person's channels (what they may see).
      const found = await units.transact(function* () {
        const caller = yield* services.apiTokens.authenticateUnit(bearer)
        if (!caller) return undefined
        const session = services.apiTokens.sessionOf(caller, config.sessionTtlSeconds * 1000)
        return { caller, session, access: yield* services.access.ofUnit(session) }
      })
      if (!found) throw Errors.unauthorized()
      // The matched route's pattern, not the raw URL: no spelling of the path slips past.
      if (SESSION_ONLY_PATHS.test(req.routeOptions.url ?? req.url)) throw Errors.tokenNotAllowed()
      if (found.caller.scope === 'read' && !READ_METHODS.has(req.method)) throw Errors.tokenReadOnly()
      req.session = found.session
      req.access = found.access
      return
    }
    let claims: { sid?: unknown }
    try {
      claims = await req.jwtVerify()
    } catch {
      throw Errors.unauthorized()
    }
    // Read in the database on every request (issue 17: whichever process serves it): the
    // session and the person's channels in one read.
    const sid = claims.sid
    const found =
      typeof sid === 'string'
        ? await units.read(function* () {
            const session = yield* auth.sessionUnit(sid)
            return session ? { session, access: yield* services.access.ofUnit(session) } : undefined
          })
        : undefined
    if (!found) throw Errors.unauthorized()
    // CSRF defence beyond SameSite for cookie-authenticated writes: the browser sets
    // Origin on cross-site requests, and it must be this server.
    if (!SAFE_METHODS.has(req.method) && !req.headers.authorization) {
      const origin = req.headers.origin
      if (origin !== undefined && !sameOrigin(origin, req.headers.host)) throw Errors.crossOrigin()
    }
    req.session = found.session
    req.access = found.access
  })

  app.decorate('requireAdmin', async (req: FastifyRequest) => {
    if (req.session.role !== 'admin') throw Errors.forbidden()
  })

  const r = app.withTypeProvider<TypeBoxTypeProvider>()

  const credentials = Type.Object({
    email: Type.String({ minLength: 3, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    // Issue 16: the second factor, when the account has 2FA on (TOTP_REQUIRED asks for it).
    totp: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    recoveryCode: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  })
  const audited = loginAudit(services)

  const issue = (reply: FastifyReply, session: Session) => {
    const token = app.jwt.sign({ sub: String(session.userId), sid: session.sessionId })
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: config.cookieSecure,
      path: '/',
      maxAge: config.sessionTtlSeconds,
    })
    return token
  }
  app.decorate('signIn', async (reply: FastifyReply, user: UserRow) => {
    const session = await auth.createSession(user, config.sessionTtlSeconds)
    return { token: issue(reply, session), expiresAt: session.expiresAt }
  })

  // Throttled per account and per address by LoginThrottle, in the handler: the account
  // is in the body, which a rate-limit plugin's onRequest hook never sees.
  r.post('/api/auth/login', { schema: { body: credentials } }, async (req, reply) => {
    const account = accountKey(req.body.email)
    const attempt = await throttle.begin(account, req.ip)
    if (!attempt.ok) {
      reply.header('retry-after', Math.ceil(attempt.retryAfterMs / 1000))
      throw Errors.loginThrottled()
    }
    const user = await auth.checkCredentials(req.body.email, req.body.password)
    if (!user) {
      if (attempt.lastForAccount) req.log.warn({ account }, 'login: account locked for a minute after repeated failures')
      await audited.failed(account, req.ip, 'password', attempt.lastForAccount)
      throw Errors.invalidCredentials()
    }
    // Issue 16: the second factor (http/two-factor.ts). A wrong code counts like a wrong password.
    const second = await secondFactor(app, services, user, req.body, req.ip)
    if (!second.ok) {
      if (second.counts)
        await audited.failed(account, req.ip, req.body.totp !== undefined ? 'totp' : 'recovery_code', attempt.lastForAccount)
      else await throttle.succeeded(account, req.ip)
      throw second.error
    }
    await throttle.succeeded(account, req.ip)
    await audited.succeeded(user, req.ip, second.method)
    const session = await units.transact(() => auth.createSessionUnit(user, config.sessionTtlSeconds))
    // expiresAt (ms): the browser warns before it and signs in again in place (issue 11).
    return { token: issue(reply, session), user: publicUser(user), expiresAt: session.expiresAt }
  })

  r.post('/api/auth/logout', { onRequest: app.authenticate }, async (req, reply) => {
    const { sessionId } = req.session
    await units.transact(() => auth.revokeSessionUnit(sessionId))
    hub.closeWhere((s) => s.sessionId === req.session.sessionId)
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return { ok: true }
  })

  r.get('/api/me', { onRequest: app.authenticate }, async (req) => {
    const { userId } = req.session
    const user = await units.read(() => auth.userUnit(userId))
    if (!user) throw Errors.unauthorized()
    return { user: publicUser(user), expiresAt: req.session.expiresAt }
  })

  // First run: when no user exists (and ADMIN_EMAIL did not create one), the first
  // visitor creates the admin. Closed for good once any user exists.
  // `mail`: whether Parley can mail links (SMTP_URL): the sign-in page offers "Forgot password?" only then.
  r.get('/api/setup', async () => ({
    needed: (await units.read(() => auth.userCountUnit())) === 0,
    mail: services.accounts.mailer.enabled,
  }))
  r.post(
    '/api/setup',
    {
      schema: {
        body: Type.Object({
          email: Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 254 }),
          name: Type.String({ minLength: 1, maxLength: 100 }),
          password: Type.String({ minLength: 8, maxLength: 1024 }),
        }),
      },
      config: { rateLimit: { max: config.loginRatePerMinute, timeWindow: 60_000 } },
    },
    async (req, reply) => {
      if ((await units.read(() => auth.userCountUnit())) > 0) throw Errors.forbidden()
      const passwordHash = await auth.hashPassword(req.body.password)
      const { name, email } = req.body
      // One transaction: the first admin and their session, and still nobody else first.
      const { user, session } = await units.transact(function* () {
        if ((yield* auth.userCountUnit()) > 0) throw Errors.forbidden()
        const workspaceId = yield* auth.defaultWorkspaceUnit()
        const user = yield* auth.insertUserUnit({ workspaceId, email, name, passwordHash, role: 'admin' })
        return { user, session: yield* auth.createSessionUnit(user, config.sessionTtlSeconds) }
      })
      // expiresAt (ms): the browser warns before it and signs in again in place (issue 11).
      return { token: issue(reply, session), user: publicUser(user), expiresAt: session.expiresAt }
    },
  )
})
