// GET /metrics (issue 16): Parley's metrics in Prometheus' text format, for a scraper that
// sends `Authorization: Bearer <METRICS_TOKEN>`. Off unless METRICS_TOKEN is set: then the
// path answers 404 as any unknown one does. A wrong or missing token is 401, compared in
// constant time (digests of equal length); the token is never logged (request lines carry
// no headers, request-log.ts). Gauges are read at the scrape (domain/health/health.ts).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Errors } from '../errors.ts'
import type { Services } from '../services.ts'

const digest = (s: string) => createHash('sha256').update(s).digest()

export async function metricsRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { config, health, units } = opts.services
  const expected = config.metricsToken === undefined ? null : digest(`Bearer ${config.metricsToken}`)

  // Logged like any API call (a line at debug), without its headers.
  app.get('/metrics', { helmet: false }, async (req, reply) => {
    if (expected === null) throw Errors.notFound('Route')
    const given = req.headers.authorization
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) throw Errors.unauthorized()
    const facts = await units.read(() => health.factsUnit({ metrics: true }))
    const { contentType, body } = await health.metricsText(facts)
    return reply.header('cache-control', 'no-store').type(contentType).send(body)
  })
}
