// GET /api/health, for a process manager, a reverse proxy or an uptime monitor. It
// needs no session and tells nothing but whether this process can take webhooks:
// 200 {"status":"ok"} when the database answers a read and the last webhook commit
// did not fail for storage; otherwise 503 STORAGE_UNAVAILABLE (a full disk shows
// here before Meta's retries run out). Never cached.
import type { FastifyInstance } from 'fastify'
import type { Services } from '../services.ts'
import { Errors } from '../errors.ts'
import { isStorageFailure } from '../store/db.ts'
import { metaReader } from '../store/meta.ts'

export async function healthRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { db, ingest } = opts.services
  // Reads a page of the database file itself (SELECT 1 would not touch it).
  const readMeta = metaReader(db)

  // A monitor asks every few seconds: its requests are not logged, only failures.
  app.get('/api/health', { logLevel: 'warn' }, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    try {
      readMeta('epoch')
    } catch (err) {
      if (!isStorageFailure(err)) throw err
      req.log.error({ code: (err as { code?: string }).code }, 'health: the database cannot be read')
      throw Errors.storageUnavailable()
    }
    if (ingest.storageFailure !== null) throw Errors.storageUnavailable()
    return { status: 'ok' }
  })
}
