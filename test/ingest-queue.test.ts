// Group commit, on a real database from the migrations: webhooks that arrive together
// share one transaction, each in its own savepoint. A job that trips a bug is rolled back
// alone and its fallback (keeping the payload raw) runs instead, while the others commit;
// a storage failure fails the whole group, so every webhook in it is answered 503 and
// Meta retries it. The jobs are Parley's own `rawWebhook` writes.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openDatabase, type Db } from '../src/store/db.ts'
import { EventLog, systemClock } from '../src/events/event-log.ts'
import { IngestQueue, type IngestJob } from '../src/domain/inbox/ingest-queue.ts'
import { rawWebhook } from '../src/store/webhook-leftovers.ts'
import { AppError } from '../src/errors.ts'

function setup(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-queue-'))
  const db = openDatabase(path.join(dir, 'parley.db'), { busyTimeoutMs: 1000 })
  t.teardown(() => {
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const errors: unknown[] = []
  const queue = new IngestQueue(new EventLog(db, systemClock), { onJobError: (e) => errors.push(e) })
  return { db, queue, errors }
}

const kept = (db: Db) =>
  (db.$client.prepare('SELECT reason, body FROM raw_webhooks ORDER BY id').all() as { reason: string; body: string }[]).map(
    (r) => `${r.reason}:${r.body}`,
  )

// Jobs are units of work, as the webhook route's are (issue 17).
const job = (_db: Db, body: string, fail?: () => never): IngestJob => ({
  run: function* () {
    yield* rawWebhook('whatsapp', 'stored', body)
    fail?.()
  },
  fallback: () => rawWebhook('whatsapp', 'ingest_error', body),
})

t.test('a job that throws is rolled back alone and kept raw; the others in its commit land', async (t) => {
  const { db, queue, errors } = setup(t)
  const results = await Promise.allSettled([
    queue.submit(job(db, 'a')),
    queue.submit(
      job(db, 'b', () => {
        throw new TypeError('a bug in the ingest')
      }),
    ),
    // A constraint error is a bad payload's doing, not the disk's: the same path.
    queue.submit(
      job(db, 'c', () => {
        db.$client.prepare(`INSERT INTO meta(key, value) VALUES ('epoch', 'again')`).run()
        throw new Error('unreachable')
      }),
    ),
    queue.submit(job(db, 'd')),
  ])
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    'every webhook is acknowledged',
  )
  t.same(
    kept(db),
    ['stored:a', 'ingest_error:b', 'ingest_error:c', 'stored:d'],
    "the failing jobs' own writes were rolled back, their payloads kept",
  )
  t.equal(errors.length, 2, 'both failures reported')
  t.match(String(errors[0]), /a bug in the ingest/)
  t.match((errors[1] as { code?: string }).code, /^SQLITE_CONSTRAINT/)
})

t.test('a storage failure fails the whole group: nothing of it is kept, every webhook gets 503', async (t) => {
  const { db, queue } = setup(t)
  await queue.submit(job(db, 'before'))
  // A full disk, for real: the database may not grow past the pages it has now.
  const pages = (db.$client.pragma('page_count', { simple: true }) as number) + 1
  db.$client.pragma(`max_page_count = ${pages}`)
  const big = 'x'.repeat(64 * 1024)
  const results = await Promise.allSettled([queue.submit(job(db, 'small')), queue.submit(job(db, big)), queue.submit(job(db, 'after'))])
  for (const r of results) {
    t.equal(r.status, 'rejected')
    const err = (r as PromiseRejectedResult).reason as AppError
    t.ok(err instanceof AppError, 'a named error, not SQLite’s')
    t.equal(err.statusCode, 503)
    t.equal(err.code, 'STORAGE_UNAVAILABLE')
  }
  t.same(kept(db), ['stored:before'], 'the failed group left nothing behind')
  // Space again: the next webhooks commit as usual.
  db.$client.pragma('max_page_count = 1073741823')
  await queue.submit(job(db, 'later'))
  t.same(kept(db), ['stored:before', 'stored:later'])
})
