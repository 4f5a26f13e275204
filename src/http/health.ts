// GET /api/health, for a process manager, a reverse proxy or an uptime monitor. It
// needs no session and tells nothing but whether this process can take webhooks:
// 200 {"status":"ok"} when the database answers a read and the last webhook commit
// did not fail for storage; otherwise 503 STORAGE_UNAVAILABLE (a full disk shows
// here before Meta's retries run out). Never cached. The read is a unit of work
// (issue 17): the same on SQLite and PostgreSQL.
import type { FastifyInstance } from 'fastify'
import type { Services } from '../services.ts'
import { Errors } from '../errors.ts'
import { isDatabaseUnavailable } from '../store/pg/db.ts'
import { HealthRepo } from '../store/health.ts'

// Whether the database cannot be read for a reason of the server, its disk or the network:
// store/pg/db.ts, where the ingest queue's group commit on PostgreSQL reads it too.
export { isDatabaseUnavailable }

export async function healthRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { units, ingest } = opts.services
  const repo = new HealthRepo()

  // A monitor asks every few seconds: its requests are not logged, only failures.
  app.get('/api/health', { logLevel: 'warn' }, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    try {
      // Reads a page of the database itself (SELECT 1 would not touch SQLite's file).
      await units.read(() => repo.meta('epoch'))
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err
      // The code only: an error's message may carry the connection string.
      req.log.error({ code: (err as { code?: string }).code }, 'health: the database cannot be read')
      throw Errors.storageUnavailable()
    }
    if (ingest.storageFailure !== null) throw Errors.storageUnavailable()
    return { status: 'ok' }
  })
}
