// GET /metrics (issue 16): off without METRICS_TOKEN (404), 401 without the right Bearer
// token, and with it Prometheus text whose values follow real traffic: webhooks by
// result (good and bad signature, an unknown number, a part kept raw), the ingest's
// commit times, open streams, the outbox's depth after a queued send, sends by Meta code.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { apiCall, startServer, type TestServer } from './helpers/server.ts'
import { contact, envelope, text as textMessage, textWebhook, value } from './helpers/wa.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import type { MessageDTO } from '../src/events/types.ts'

const TOKEN = 'metrics-token-0123456789abcdef'

const scrape = (s: TestServer, auth?: string) => fetch(`${s.url}/metrics`, auth === undefined ? {} : { headers: { authorization: auth } })

/** The value of one sample (`name{labels}`), or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (.+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

t.test('off unless METRICS_TOKEN is set', async (t) => {
  const s = await startServer(t)
  const res = await scrape(s, `Bearer ${TOKEN}`)
  t.equal(res.status, 404)
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND')
})

t.test('a short METRICS_TOKEN stops the start with the variable named, not the value', async (t) => {
  await t.rejects(startServer(t, { env: { METRICS_TOKEN: 'short-secret' } }), /METRICS_TOKEN must be at least 16/)
})

t.test('401 without the right token; the real values with it', async (t) => {
  const s = await startServer(t, { env: { METRICS_TOKEN: TOKEN, WHATSAPP_ACCESS_TOKEN: 'test-access-token' } })
  t.equal((await scrape(s)).status, 401, 'no Authorization')
  t.equal((await scrape(s, `Bearer ${TOKEN}x`)).status, 401, 'a wrong token')
  t.equal((await scrape(s, TOKEN)).status, 401, 'the token without Bearer')
  const unauth = await scrape(s, 'Bearer nope')
  t.equal(((await unauth.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED')

  // Real deliveries: two good, one bad signature, one naming a number Parley does not have,
  // one signed but with a part Parley does not know (kept raw).
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Hello').payload)).status, 200)
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Still there?').payload)).status, 200)
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Forged').payload, { secret: 'not-the-secret' })).status, 401)
  t.equal(
    (
      await s.webhook(
        envelope(
          value({
            phoneNumberId: '999999999999999',
            contacts: [contact('15550002222', 'Ben')],
            messages: [textMessage('15550002222', 'Hi')],
          }),
        ),
      )
    ).status,
    200,
  )
  t.equal((await s.webhook('not json at all')).status, 400)

  // A reply that cannot reach Meta (GRAPH_API_URL points at a closed port): it stays queued.
  const call = apiCall(s.url, (await s.login()).token)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  t.equal((await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'On its way', clientMessageId: 'm-1' })).status, 202)
  const sse = await connectSse(`${s.url}/stream`, { token: (await s.login()).token })
  t.teardown(() => sse.close())

  const channel = (await s.app.services.units.read(() =>
    s.app.services.store.channels.byExternalId('whatsapp', s.config.whatsapp.phoneNumberId!),
  ))!
  let text = ''
  // Wait for the send attempt to come back as a network failure (a counter moves once it does).
  for (let i = 0; i < 200; i++) {
    const res = await scrape(s, `Bearer ${TOKEN}`)
    t.equal(res.status, 200)
    text = await res.text()
    if ((sample(text, 'parley_sends_total', { result: 'network' }) ?? 0) >= 1) break
    await new Promise((r) => setImmediate(r))
    await s.app.services.sending.worker.kick()
  }
  t.match(text, /# TYPE parley_webhooks_total counter/)
  t.equal(sample(text, 'parley_webhooks_total', { provider: 'whatsapp', result: 'accepted' }), 3, 'three deliveries answered 200')
  t.equal(sample(text, 'parley_webhooks_total', { provider: 'whatsapp', result: 'bad_signature' }), 1)
  t.equal(sample(text, 'parley_webhooks_total', { provider: 'whatsapp', result: 'unknown_channel' }), 1)
  t.equal(sample(text, 'parley_webhooks_total', { provider: 'whatsapp', result: 'stored_raw' }), 1, 'the malformed body kept raw')
  t.ok((sample(text, 'parley_ingest_commit_seconds_count') ?? 0) >= 3, 'each commit timed')
  t.ok((sample(text, 'parley_ingest_commit_seconds_sum') ?? 0) > 0)
  t.equal(sample(text, 'parley_open_streams'), 1, 'the one open stream')
  const labels = { channel: String(channel.id), kind: 'whatsapp', number: channel.externalId }
  t.equal(sample(text, 'parley_outbox_depth', labels), 1, 'the reply waits in the outbox')
  t.ok((sample(text, 'parley_outbox_oldest_age_seconds', labels) ?? -1) >= 0)
  t.ok((sample(text, 'parley_sends_total', { channel_kind: 'whatsapp', result: 'network', code: '' }) ?? 0) >= 1)
  t.ok((sample(text, 'parley_database_bytes', { file: 'db' }) ?? 0) > 0, 'the database file has a size')
  t.equal(sample(text, 'parley_media_bytes'), 0)
  t.ok((sample(text, 'parley_event_log_events') ?? 0) > 0)
  t.ok((sample(text, 'parley_data_disk_free_bytes') ?? 0) > 0)
  t.ok(Number.isNaN(sample(text, 'parley_last_backup_age_seconds')), 'no backup recorded: NaN')
  t.ok(sample(text, 'parley_nodejs_eventloop_lag_p99_seconds') !== undefined, 'event-loop delay')
  t.notOk(text.includes(TOKEN), 'the token is nowhere in the answer')

  // The backup helper records its time in `meta`: the age follows.
  const at = Date.now() - 3600_000
  await s.sql.run(`INSERT INTO meta(key, value) VALUES ('last_backup_at', ?)`, [String(at)])
  text = await (await scrape(s, `Bearer ${TOKEN}`)).text()
  const age = sample(text, 'parley_last_backup_age_seconds')!
  t.ok(age >= 3600 && age < 3700, `backup age ${age}`)
  t.equal(sample(text, 'parley_last_backup_timestamp_seconds'), at / 1000)
})

t.test('sends by Meta error code (190)', async (t) => {
  // A Graph API that refuses every token (190).
  const graph = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190, fbtrace_id: 'x' } }))
    })
  })
  await new Promise<void>((r) => graph.listen(0, '127.0.0.1', r))
  t.teardown(() => graph.close())
  const port = (graph.address() as AddressInfo).port
  const s = await startServer(t, {
    env: { METRICS_TOKEN: TOKEN, WHATSAPP_ACCESS_TOKEN: 'test-access-token', GRAPH_API_URL: `http://127.0.0.1:${port}/v23.0` },
  })
  await s.webhook(textWebhook('15550001111', 'Maria', 'Hello').payload)
  const call = apiCall(s.url, (await s.login()).token)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'On its way', clientMessageId: 'm-1' })
  // The send is counted as it comes back, a moment before its failure commits (on PostgreSQL
  // the scrape may fall in between): wait for the failure to be stored, then read both.
  await until(async () => {
    const { messages } = (await call('GET', `/api/conversations/${conv.id}/messages`)).body as { messages: MessageDTO[] }
    return messages.some((m) => m.direction === 'out' && m.status === 'failed')
  }, 'the reply failed')
  const text = await (await scrape(s, `Bearer ${TOKEN}`)).text()
  t.equal(sample(text, 'parley_sends_total', { channel_kind: 'whatsapp', result: 'meta_error', code: '190' }), 1)
  const channel = (await s.app.services.units.read(() =>
    s.app.services.store.channels.byExternalId('whatsapp', s.config.whatsapp.phoneNumberId!),
  ))!
  t.equal(sample(text, 'parley_outbox_depth', { channel: String(channel.id) }), 0, 'failed: no longer waiting')
})

t.test('the token never reaches the log, right or wrong', async (t) => {
  let log = ''
  const stream = new Writable({
    write(chunk, _enc, cb) {
      log += chunk.toString()
      cb()
    },
  })
  const s = await startServer(t, { env: { METRICS_TOKEN: TOKEN, LOG_LEVEL: 'debug' }, logStream: stream })
  t.equal((await scrape(s, `Bearer ${TOKEN}`)).status, 200)
  t.equal((await scrape(s, `Bearer ${TOKEN}-but-wrong`)).status, 401)
  await s.close()
  t.match(log, /"url":"\/metrics"/, 'the requests are in the log')
  t.notOk(log.includes(TOKEN), 'but never the token')
})

t.test('130429: the number pauses, counted by channel and by code', async (t) => {
  const graph = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'Rate limit hit', type: 'OAuthException', code: 130429 } }))
    })
  })
  await new Promise<void>((r) => graph.listen(0, '127.0.0.1', r))
  t.teardown(() => graph.close())
  const s = await startServer(t, {
    env: {
      METRICS_TOKEN: TOKEN,
      WHATSAPP_ACCESS_TOKEN: 'test-access-token',
      GRAPH_API_URL: `http://127.0.0.1:${(graph.address() as AddressInfo).port}/v23.0`,
    },
  })
  await s.webhook(textWebhook('15550001111', 'Maria', 'Hello').payload)
  const call = apiCall(s.url, (await s.login()).token)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'On its way', clientMessageId: 'm-1' })
  const channel = (await s.app.services.units.read(() =>
    s.app.services.store.channels.byExternalId('whatsapp', s.config.whatsapp.phoneNumberId!),
  ))!
  let text = ''
  for (let i = 0; i < 500; i++) {
    text = await (await scrape(s, `Bearer ${TOKEN}`)).text()
    if ((sample(text, 'parley_throttle_pauses_total', { channel: String(channel.id) }) ?? 0) >= 1) break
    await new Promise((r) => setTimeout(r, 10))
  }
  t.ok((sample(text, 'parley_throttle_pauses_total', { channel: String(channel.id) }) ?? 0) >= 1)
  t.ok((sample(text, 'parley_sends_total', { result: 'throttled', code: '130429' }) ?? 0) >= 1)
  t.equal(sample(text, 'parley_outbox_depth', { channel: String(channel.id) }), 1, 'the message waits for the pause')
  const wa = (await call('GET', '/api/admin/health')).body.channels.find((c: { id: number }) => c.id === channel.id)
  t.ok(wa.pauses.throttles >= 1, 'the health page counts the pauses')
  t.ok(wa.items.some((i: { key: string }) => i.key === 'throttle'))
})
