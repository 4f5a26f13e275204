// GET /api/admin/health (issue 16), admins only (an agent's 403 FORBIDDEN): per channel the
// last webhook, signature failures of the last hour with their likely cause, token errors
// (190), the send queue and its age, pauses (130429, campaigns); then disk free, backup
// age and the event log's size. Every red item carries `fix`. Shape: domain/health/health.ts.
// Not /api/health: that one is the unauthenticated probe for proxies and monitors.
import type { FastifyInstance } from 'fastify'
import type { Services } from '../services.ts'

export async function adminHealthRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { health, units } = opts.services
  // The Health page asks every few seconds while open: only failures are logged.
  app.get('/api/admin/health', { logLevel: 'warn', onRequest: app.authenticate, preValidation: app.requireAdmin }, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    // The database's facts in one read (either database), the disk's outside it.
    const facts = await units.read(() => health.factsUnit())
    return health.report(req.session.workspaceId, facts)
  })
}
