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
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PasswordResets } from '../domain/accounts/password-reset.ts'
import { watchRevocations } from '../domain/accounts/session-revocation.ts'

export async function passwordResetRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { config, db, auth, hub, clock } = opts.services
  const resets = new PasswordResets(db, auth, clock.now)
  const r = app.withTypeProvider<TypeBoxTypeProvider>()
  // Guessing a 256-bit token is hopeless; the limit only keeps the hashing work bounded.
  const rateLimit = { max: config.loginRatePerMinute, timeWindow: 60_000 }
  const token = Type.String({ minLength: 1, maxLength: 200 })

  r.post('/api/password-reset/check', { schema: { body: Type.Object({ token }) }, config: { rateLimit } }, async (req) => {
    const { user, expiresAt } = resets.check(req.body.token)
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

  let watch: { stop(): void } | undefined
  app.addHook('onReady', async () => {
    watch = watchRevocations(db, () => hub.closeWhere((s) => auth.session(s.sessionId) === undefined))
  })
  app.addHook('preClose', async () => watch?.stop())
}
