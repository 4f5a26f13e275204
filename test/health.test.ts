// GET /api/health: open to a monitor without a session, and honest about storage —
// a full disk (for real, through max_page_count) turns it to 503 until a webhook
// commits again.
import t from 'tap'
import { startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'

t.test('health: ok without a session, never cached, HEAD too', async (t) => {
  const s = await startServer(t)
  const res = await fetch(`${s.url}/api/health`)
  t.equal(res.status, 200)
  t.same(await res.json(), { status: 'ok' })
  t.equal(res.headers.get('cache-control'), 'no-store')
  const head = await fetch(`${s.url}/api/health`, { method: 'HEAD' })
  t.equal(head.status, 200, 'HEAD answers for monitors that only look at the status')
})

t.test('health: 503 while webhooks cannot be stored, ok again once one commits', async (t) => {
  // The disk is filled through SQLite's max_page_count: this one runs on SQLite.
  const s = await startServer(t, { sqlite: true })
  t.equal((await s.webhook(textWebhook('15550001111', 'Ana', 'before'))).status, 200)

  const sqlite = s.db.$client
  const pages = (sqlite.pragma('page_count', { simple: true }) as number) + 1
  sqlite.pragma(`max_page_count = ${pages}`)
  const full = await s.webhook(textWebhook('15550001111', 'Ana', 'x'.repeat(200_000)))
  t.equal(full.status, 503, 'the webhook is refused, so Meta retries it')

  const down = await fetch(`${s.url}/api/health`)
  t.equal(down.status, 503)
  const body = (await down.json()) as { error?: { code?: string }; stack?: unknown }
  t.equal(body.error?.code, 'STORAGE_UNAVAILABLE')
  t.notMatch(JSON.stringify(body), /at .*\.ts:\d+/, 'no stack trace')

  sqlite.pragma('max_page_count = 1073741823')
  t.equal(down.headers.get('cache-control'), 'no-store')
  t.equal((await s.webhook(textWebhook('15550001111', 'Ana', 'x'.repeat(200_000)))).status, 200, "Meta's retry is stored")
  const up = await fetch(`${s.url}/api/health`)
  t.equal(up.status, 200)
  t.same(await up.json(), { status: 'ok' })
})
