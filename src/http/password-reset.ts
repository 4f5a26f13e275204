// Password reset links, opened at /reset-password#token=… (the browser never sends a
// fragment to a server, so the token reaches no access log or proxy): the page POSTs
// the token in the body. No session is needed — the link is the credential.
//
// Also watches for sessions revoked by another process (`npm run admin`) and closes
// their open streams (session-revocation.ts).
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Services } from '../services.ts'
import { publicUser } from '../domain/accounts/auth.ts'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../domain/accounts/password-reset.ts'
import { watchRevocations } from '../domain/accounts/session-revocation.ts'
import { passwordResetMail } from '../domain/accounts/mailer.ts'
import { LoginThrottle, accountKey } from '../domain/accounts/login-throttle.ts'
import { UsersRepo } from '../store/users.ts'
import { Errors } from '../errors.ts'

// "Forgot password?" requests per address asked about, across every client: a few links
// in a quarter hour cover a mail that was slow or filtered, and nobody can flood a
// person's inbox by asking over and over (from one address or many).
const RESET_REQUESTS_PER_ACCOUNT = 3
const RESET_REQUEST_WINDOW_MS = 15 * 60_000

/** Where a reset link opens (web/src/components/AuthScreens.tsx reads the fragment). */
export const resetUrl = (base: string, token: string) => `${base}/reset-password#token=${token}`

export async function passwordResetRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { config, auth, hub, clock, units } = opts.services
  const { resets, mailer } = opts.services.accounts
  const users = new UsersRepo()
  const requests = new LoginThrottle(
    {
      name: 'reset-request',
      perAccount: RESET_REQUESTS_PER_ACCOUNT,
      perAddress: config.loginRatePerAddressPerMinute,
      windowMs: RESET_REQUEST_WINDOW_MS,
    },
    clock.now,
    units,
  )
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  // Guessing a 256-bit token is hopeless; the limit only keeps the hashing work bounded.
  const rateLimit = { max: config.loginRatePerMinute, timeWindow: 60_000 }
  const token = Type.String({ minLength: 1, maxLength: 200 })

  r.post('/api/password-reset/check', { schema: { body: Type.Object({ token }) }, config: { rateLimit } }, async (req) => {
    const { user, expiresAt } = await units.read(() => resets.checkUnit(req.body.token))
    return { email: user.email, expiresAt }
  })

  r.post(
    '/api/password-reset',
    {
      schema: {
        body: Type.Object({
          token,
          password: Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH }),
        }),
      },
      config: { rateLimit },
    },
    async (req) => {
      const user = await resets.consume(req.body.token, req.body.password)
      hub.closeWhere((s) => s.userId === user.id)
      // The page signs in with the new password through /api/auth/login, the one place
      // sessions are issued (and throttled).
      return { user: publicUser(user) }
    },
  )

  // "Forgot password?" (issue 13): with SMTP set, mails a single-use link valid 1 hour.
  // The answer is the same 202 whether or not the address has an account (nobody learns
  // who has one), and the mail goes out in the background so the timing says nothing
  // either. Throttled per address like sign-in; a new link retires the previous one.
  r.post(
    '/api/password-reset/request',
    {
      schema: { body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }) },
      config: { rateLimit },
    },
    async (req, reply) => {
      if (!mailer.enabled || config.publicUrl === undefined) throw Errors.mailNotConfigured()
      // Counted for any address, with an account or not: a 429 says nothing about who has one.
      const account = accountKey(req.body.email)
      const attempt = await requests.begin(account, req.ip)
      if (!attempt.ok) {
        reply.header('retry-after', Math.ceil(attempt.retryAfterMs / 1000))
        throw Errors.resetRequestsThrottled()
      }
      const issued = await units.transact(function* () {
        const user = yield* users.activeByEmail(account)
        return user && { user, link: yield* resets.issueUnit(user.id) }
      })
      if (issued) {
        const {
          user,
          link: { token, expiresAt },
        } = issued
        void mailer.send(passwordResetMail({ to: user.email, url: resetUrl(config.publicUrl, token), expiresAt }), 'password-reset')
      }
      return reply.status(202).send({ ok: true })
    },
  )

  let watch: { stop(): void } | undefined
  app.addHook('onReady', async () => {
    watch = watchRevocations(units, async () => {
      // The sessions of the open streams (closeWhere visits each), then which of them ended.
      const open = new Set<string>()
      hub.closeWhere((s) => {
        open.add(s.sessionId)
        return false
      })
      const ended = await units.read(function* () {
        const ended = new Set<string>()
        for (const id of open) if ((yield* auth.sessionUnit(id)) === undefined) ended.add(id)
        return ended
      })
      if (ended.size > 0) hub.closeWhere((s) => ended.has(s.sessionId))
    })
  })
  app.addHook('preClose', async () => watch?.stop())
}
