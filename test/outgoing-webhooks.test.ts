// Outgoing webhooks (issue 16) against a real receiver in its own process: it is down (the
// port refuses connections), then failing (500), Parley restarts in between, and when the
// receiver comes back it gets every event it subscribed to exactly once, in the log's
// order, each verified by `standardwebhooks` with the endpoint's secret — and never another
// workspace's events or a type it did not choose. Backoff is shortened by env
// (WEBHOOK_RETRY_BASE_MS, WEBHOOK_RETRY_CAP_MS) and loopback allowed (WEBHOOK_ALLOW_PRIVATE).
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import { Webhook } from 'standardwebhooks'
import { isPrivateAddress } from '../src/domain/webhooks/address-guard.ts'
import { DELIVERIES_KEPT } from '../src/store/webhook-endpoints.ts'
import { apiCall, startServer, type TestServer } from './helpers/server.ts'
import { otherWorkspaceAdmin, teamServer } from './helpers/team-fixtures.ts'
import { freePort } from './helpers/process.ts'
import { say } from './helpers/wa.ts'
import { until } from './helpers/emulator.ts'
import { startReceiver } from './helpers/webhook-receiver.ts'
import type { WebhookDeliveryDTO, WebhookEndpointDTO } from '../src/domain/webhooks/webhooks.ts'

const FAST = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_CAP_MS: '300' }

const deliveriesOf = async (call: ReturnType<typeof apiCall>, id: number) =>
  (await call<{ deliveries: WebhookDeliveryDTO[] }>('GET', `/api/webhook-endpoints/${id}/deliveries?limit=200`)).body.deliveries

/** The webhook-ids the endpoint should get: its workspace's events of these types after `after`, not one person's. */
async function expectedIds(s: TestServer, ws: number, types: string[], after: number): Promise<string[]> {
  const { epoch } = s.app.services.events
  const rows = await s.sql.all<{ id: number }>(
    `SELECT id FROM events WHERE workspace_id = ? AND id > ? AND user_id IS NULL AND type IN (${types.map(() => '?').join(', ')}) ORDER BY id`,
    [ws, after, ...types],
  )
  const ids = rows.map((r) => r.id)
  return ids.map((id) => `evt_${epoch}_${id}`)
}

t.test('admins manage endpoints; the secret is shown once and sealed; agents get 403; other workspaces 404', async (t) => {
  const ts = await teamServer(t)
  const { s, api } = ts
  const created = await api('POST', '/api/webhook-endpoints', {
    url: 'https://hooks.example.com/parley?token=abc',
    events: ['message.created', 'labels.changed', 'message.created'],
  })
  t.equal(created.status, 201)
  const ep = created.body.endpoint
  t.match(ep, { id: Number, url: 'https://hooks.example.com/parley?token=abc', events: ['message.created', 'labels.changed'] })
  t.match(ep.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a Standard Webhooks secret of 32 bytes')
  t.equal(new Webhook(ep.secret).sign('msg_1', new Date(0), '{}').slice(0, 3), 'v1,', 'the spec’s library takes it')

  const stored = (await s.sql.get<{ secret: string }>('SELECT secret FROM webhook_endpoints WHERE id = ?', [ep.id]))!.secret
  t.match(stored, /^enc:v1:/, 'sealed at rest')
  t.notOk(stored.includes(ep.secret.slice(6)), 'the secret is not in the database in clear')

  const list = await api<{ endpoints: WebhookEndpointDTO[] }>('GET', '/api/webhook-endpoints')
  t.equal(list.status, 200)
  t.equal(list.body.endpoints.length, 1)
  t.notOk('secret' in list.body.endpoints[0]!, 'the list has no secret')
  t.notOk(JSON.stringify(list.body).includes(ep.secret.slice(6)), 'nor any trace of it')
  t.same((await deliveriesOf(api, ep.id)).length, 0)

  // What is wrong, by name.
  for (const [body, code] of [
    [{ url: 'ftp://example.com/x', events: ['message.created'] }, 'WEBHOOK_URL_INVALID'],
    [{ url: 'not a url', events: ['message.created'] }, 'WEBHOOK_URL_INVALID'],
    [{ url: 'https://user:pw@example.com/x', events: ['message.created'] }, 'WEBHOOK_URL_INVALID'],
    [{ url: 'https://example.com/x', events: ['message.exploded'] }, 'WEBHOOK_EVENT_UNKNOWN'],
    [{ url: 'https://example.com/x', events: ['mention.created'] }, 'WEBHOOK_EVENT_UNKNOWN'],
    [{ url: 'https://example.com/x', events: ['toString'] }, 'WEBHOOK_EVENT_UNKNOWN'],
    [{ url: 'https://example.com/x', events: [] }, 'WEBHOOK_EVENT_UNKNOWN'],
    // Private addresses are refused by default (WEBHOOK_ALLOW_PRIVATE is off).
    [{ url: 'http://127.0.0.1:8080/x', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
    [{ url: 'http://localhost/x', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
    [{ url: 'http://169.254.169.254/latest', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
    [{ url: 'http://10.1.2.3/x', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
    [{ url: 'http://[::1]/x', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
    [{ url: 'http://[::ffff:192.168.1.1]/x', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
    [{ url: 'http://2130706433/x', events: ['message.created'] }, 'WEBHOOK_URL_PRIVATE'],
  ] as const) {
    const res = await api('POST', '/api/webhook-endpoints', body)
    t.equal(res.status, 422, `${JSON.stringify(body)} → 422`)
    t.equal(res.body.error.code, code, `${JSON.stringify(body)} → ${code}`)
  }
  const unknown = await api('POST', '/api/webhook-endpoints', { url: 'https://example.com/x', events: ['message.exploded'] })
  t.match(unknown.body.error.message, /message\.exploded.*message\.created/, 'the message names the type and the valid ones')

  // Agents: 403 on every route.
  await ts.addAgent('Ana', 'ana@example.com')
  const agent = apiCall(s.url, await ts.tokenOf('ana@example.com'))
  for (const [method, p, body] of [
    ['POST', '/api/webhook-endpoints', { url: 'https://example.com/x', events: ['message.created'] }],
    ['GET', '/api/webhook-endpoints'],
    ['DELETE', `/api/webhook-endpoints/${ep.id}`],
    ['GET', `/api/webhook-endpoints/${ep.id}/deliveries`],
  ] as const) {
    t.equal((await agent(method, p, body)).status, 403, `agent ${method} ${p}`)
  }
  t.equal((await apiCall(s.url, '')('GET', '/api/webhook-endpoints', undefined, null)).status, 401, 'signed out: 401')

  // Another workspace's admin: not theirs (404), and their list is empty.
  const other = await otherWorkspaceAdmin(s)
  t.same((await other.call('GET', '/api/webhook-endpoints')).body, { endpoints: [] })
  t.equal((await other.call('GET', `/api/webhook-endpoints/${ep.id}/deliveries`)).status, 404)
  t.equal((await other.call('DELETE', `/api/webhook-endpoints/${ep.id}`)).status, 404)

  // Deleted: gone, and both changes are in the audit log without the secret.
  t.equal((await api('DELETE', `/api/webhook-endpoints/${ep.id}`)).status, 204)
  t.equal((await api('DELETE', `/api/webhook-endpoints/${ep.id}`)).status, 404)
  t.same((await api('GET', '/api/webhook-endpoints')).body, { endpoints: [] })
  const audit = await s.sql.all<{ action: string; targetType: string; targetId: string; detail: string }>(
    `SELECT action, target_type AS "targetType", target_id AS "targetId", detail FROM audit_log WHERE action LIKE 'webhook_endpoint.%' ORDER BY id`,
  )
  t.same(
    audit.map((a) => [a.action, a.targetType, a.targetId]),
    [
      ['webhook_endpoint.created', 'webhook_endpoint', String(ep.id)],
      ['webhook_endpoint.deleted', 'webhook_endpoint', String(ep.id)],
    ],
  )
  t.same(JSON.parse(audit[0]!.detail), { url: 'https://hooks.example.com/parley', events: ['message.created', 'labels.changed'] })
  t.notOk(
    audit.some((a) => a.detail.includes('token=abc') || a.detail.includes(ep.secret.slice(6))),
    'no secret in the audit log',
  )
})

t.test('a receiver that is down, then failing, across a restart, gets every event once, in order, signed', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-hooks-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  let s = await startServer(t, { dataDir, env: FAST })
  let api = apiCall(s.url, (await s.login()).token)
  const ws = await s.app.services.auth.defaultWorkspace()
  const port = await freePort()
  const types = ['message.created', 'labels.changed']
  const created = await api('POST', '/api/webhook-endpoints', { url: `http://127.0.0.1:${port}/hooks/parley`, events: types })
  t.equal(created.status, 201)
  const { id, secret } = created.body.endpoint as { id: number; secret: string }
  const from = s.app.services.events.head
  // Another endpoint for the same messages, to a port nobody listens on: it fails all
  // along and holds nobody else back.
  const deadPort = await freePort()
  const dead = await api('POST', '/api/webhook-endpoints', { url: `http://127.0.0.1:${deadPort}/x`, events: ['message.created'] })
  t.equal(dead.status, 201)
  // Another workspace with its own events (a label) and its own endpoint to the same receiver.
  const other = await otherWorkspaceAdmin(s)

  // Down: nothing listens on the port.
  await say(s, '15550001001', 'Maria', 'Hello, is anyone there?')
  t.equal((await api('POST', '/api/labels', { name: 'VIP', color: '#2563eb' })).status, 201)
  t.equal((await other.call('POST', '/api/labels', { name: 'Theirs', color: '#16a34a' })).status, 201)
  await say(s, '15550001002', 'Pedro', 'Where is my order?')
  const refused = await until(async () => {
    const d = await deliveriesOf(api, id)
    return d.filter((x) => x.error === 'connection refused').length >= 2 && d
  }, 'attempts refused while the receiver is down')
  t.ok(
    refused.every((d) => d.result === 'retrying' && d.statusCode === null && typeof d.nextRetryAt === 'number'),
    'each failed attempt says when it is tried next',
  )
  t.same(new Set(refused.map((d) => d.eventId)).size, 1, 'only the first event is tried: the others wait behind it')
  t.ok(
    refused.map((d) => d.attempt).join() === [...refused].map((_, i) => refused.length - i).join(),
    'attempts counted 1, 2, … (newest first)',
  )
  const list = (await api<{ endpoints: WebhookEndpointDTO[] }>('GET', '/api/webhook-endpoints')).body.endpoints.find((e) => e.id === id)!
  t.ok(list.attempts >= 2 && list.lastDelivery?.result === 'retrying', 'the list shows the endpoint failing')

  // Failing: the receiver answers 500.
  let receiver = await startReceiver(t, { port, secret, status: 500 })
  await receiver.until((r) => r.length >= 2, 'two 500s')
  await until(async () => (await deliveriesOf(api, id)).some((d) => d.statusCode === 500 && d.error === 'answered 500'), 'a 500 recorded')

  // Parley restarts while the receiver fails; more happens after the restart.
  await s.close()
  s = await startServer(t, { dataDir, env: FAST })
  api = apiCall(s.url, (await s.login()).token)
  await say(s, '15550001001', 'Maria', 'Still waiting…')
  t.equal((await api('POST', '/api/labels', { name: 'Refund', color: '#dc2626' })).status, 201)
  const afterRestart = receiver.received.length
  await receiver.until((r) => r.length > afterRestart, 'attempts resume after the restart')
  await receiver.stop()
  const failing = receiver.received
  t.ok(
    failing.every((r) => r.verified),
    'even the failed attempts are signed',
  )
  t.same(new Set(failing.map((r) => r.id)).size, 1, 'every retry of the event carries the same webhook-id')

  // Back: answers 200.
  const want = await expectedIds(s, ws, types, from)
  t.equal(want.length, 5, 'three messages and two labels in this workspace')
  t.equal(failing[0]!.id, want[0], 'the retried event was the first one')
  receiver = await startReceiver(t, { port, secret })
  await receiver.until((r) => r.length >= want.length, 'every missed event')

  // One more event: it arrives after the backlog, and nothing was sent twice.
  await say(s, '15550001003', 'Ines', 'Hi!')
  const all = await expectedIds(s, ws, types, from)
  t.equal(all.length, 6)
  await receiver.until((r) => r.length >= all.length, 'the new event')
  const got = receiver.received
  t.same(
    got.map((r) => r.id),
    all,
    'each event exactly once, in the event log’s order',
  )
  t.ok(
    got.every((r) => r.verified && r.status === 200 && r.path === '/hooks/parley'),
    'each verified by standardwebhooks with the secret',
  )
  t.same(
    got.map((r) => r.payload!.type),
    ['message.created', 'labels.changed', 'message.created', 'message.created', 'labels.changed', 'message.created'],
    'only the chosen types',
  )
  const labelNames = got
    .filter((r) => r.payload!.type === 'labels.changed')
    .map((r) => (r.payload!.data as { labels: { name: string }[] }).labels.map((l) => l.name))
  t.same(labelNames, [['VIP'], ['Refund', 'VIP']], 'this workspace’s labels only')
  t.notOk(
    got.some((r) => r.body.includes('Theirs')),
    'another workspace’s event never delivered',
  )
  const first = got[0]!
  t.match(first.payload, { type: 'message.created', data: { message: { text: 'Hello, is anyone there?' } } })
  t.ok(!Number.isNaN(Date.parse(first.payload!.timestamp)), 'timestamp: when the event happened (ISO 8601)')
  // By hand, per the spec: base64 HMAC-SHA256 of "id.timestamp.body" keyed with the secret's bytes.
  const { createHmac } = await import('node:crypto')
  const mac = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${first.id}.${first.timestamp}.${first.body}`)
    .digest('base64')
  t.equal(first.signature, `v1,${mac}`)

  // The attempts: delivered ones with their status and duration; the endpoint is idle again.
  const d = await until(async () => {
    const x = await deliveriesOf(api, id)
    return x.filter((y) => y.result === 'delivered').length === 6 && x
  }, 'six delivered')
  t.ok(d.filter((x) => x.result === 'delivered').every((x) => x.statusCode === 200 && x.error === null && x.durationMs >= 0))
  const ep = (await api<{ endpoints: WebhookEndpointDTO[] }>('GET', '/api/webhook-endpoints')).body.endpoints.find((e) => e.id === id)!
  t.match(ep, { attempts: 0, nextAttemptAt: null, lastDelivery: { result: 'delivered', statusCode: 200 } })

  // The dead endpoint kept failing on its own (its own cursor), and is still retrying.
  const deadDeliveries = await deliveriesOf(api, dead.body.endpoint.id)
  t.ok(deadDeliveries.length > 0, 'the dead endpoint was tried')
  t.ok(
    deadDeliveries.every((x) => x.result === 'retrying' && x.eventId === want[0] && x.error === 'connection refused'),
    'and is still retrying the first message',
  )
})

t.test('an event failing for a day is skipped, recorded, and the next one goes', async (t) => {
  const clock = { t: Date.now(), now: () => clock.t }
  const s = await startServer(t, { clock, env: { ...FAST, SESSION_TTL_SECONDS: String(30 * 86400) } })
  const api = apiCall(s.url, (await s.login()).token)
  const port = await freePort()
  const created = await api('POST', '/api/webhook-endpoints', { url: `http://127.0.0.1:${port}/h`, events: ['labels.changed'] })
  const { id, secret } = created.body.endpoint as { id: number; secret: string }
  const failing = await startReceiver(t, { port, secret, status: 503 })

  t.equal((await api('POST', '/api/labels', { name: 'Lost', color: '#2563eb' })).status, 201)
  await failing.until((r) => r.length >= 2, 'retries')
  // A day and an hour later (by the app's clock) the next failure gives it up.
  clock.t += 25 * 3600_000
  const skipped = await until(async () => (await deliveriesOf(api, id)).find((d) => d.result === 'skipped'), 'the event skipped')
  t.match(skipped, { eventType: 'labels.changed', statusCode: 503, error: 'answered 503', nextRetryAt: null })
  await failing.stop()

  const ok = await startReceiver(t, { port, secret })
  t.equal((await api('POST', '/api/labels', { name: 'Found', color: '#16a34a' })).status, 201)
  await ok.until((r) => r.length >= 1, 'the next event')
  t.equal(ok.received.length, 1)
  const names = (ok.received[0]!.payload!.data as { labels: { name: string }[] }).labels.map((l) => l.name)
  t.same(names, ['Found', 'Lost'], 'the event after the skipped one (the list as it then was)')
  t.not(ok.received[0]!.id, skipped.eventId, 'the skipped event is not sent again')
})

t.test('a private address is refused at delivery when WEBHOOK_ALLOW_PRIVATE is turned off', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-hooks-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  let s = await startServer(t, { dataDir, env: FAST })
  let api = apiCall(s.url, (await s.login()).token)
  const port = await freePort()
  const created = await api('POST', '/api/webhook-endpoints', { url: `http://127.0.0.1:${port}/h`, events: ['labels.changed'] })
  const { id, secret } = created.body.endpoint as { id: number; secret: string }
  await s.close()
  s = await startServer(t, { dataDir, env: { WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_CAP_MS: '300' } })
  api = apiCall(s.url, (await s.login()).token)
  const receiver = await startReceiver(t, { port, secret })
  t.equal((await api('POST', '/api/labels', { name: 'Nope', color: '#2563eb' })).status, 201)
  const d = await until(async () => (await deliveriesOf(api, id))[0], 'an attempt')
  t.match(d, { result: 'retrying', statusCode: null, error: /private/ })

  // A host name is checked after it resolves: this machine's name (in /etc/hosts, on
  // loopback or the container's private network) is accepted as a URL and refused at delivery.
  const host = hostname()
  const resolved = await lookup(host).catch(() => null)
  if (resolved && isPrivateAddress(resolved.address)) {
    const byName = await api('POST', '/api/webhook-endpoints', { url: `http://${host}:${port}/h`, events: ['labels.changed'] })
    t.equal(byName.status, 201, 'a host name is not refused when added')
    t.equal((await api('POST', '/api/labels', { name: 'Again', color: '#2563eb' })).status, 201)
    const e = await until(async () => (await deliveriesOf(api, byName.body.endpoint.id))[0], 'an attempt by name')
    t.match(e, { result: 'retrying', statusCode: null, error: /private/ }, `${host} → ${resolved.address}: refused`)
  }
  t.equal(receiver.received.length, 0, 'nothing reached the address')
})

t.test('a receiver that hangs holds back only its own endpoint', async (t) => {
  const s = await startServer(t, { env: { ...FAST, WEBHOOK_TIMEOUT_MS: '1000' } })
  const api = apiCall(s.url, (await s.login()).token)
  const [slowPort, fastPort] = [await freePort(), await freePort()]
  const add = async (port: number) =>
    (await api('POST', '/api/webhook-endpoints', { url: `http://127.0.0.1:${port}/h`, events: ['message.created'] })).body.endpoint as {
      id: number
      secret: string
    }
  const slow = await add(slowPort)
  const fast = await add(fastPort)
  const hanging = await startReceiver(t, { port: slowPort, secret: slow.secret, status: 0 })
  const ok = await startReceiver(t, { port: fastPort, secret: fast.secret })

  for (const [i, text] of ['one', 'two', 'three'].entries()) {
    const started = performance.now()
    await say(s, `1555000200${i}`, `Customer ${i}`, text)
    t.ok(performance.now() - started < 1000, `webhook ${i + 1} is answered without waiting for the hanging receiver`)
  }
  await ok.until((r) => r.length >= 3, 'the three messages at the answering receiver')
  t.same(
    ok.received.map((r) => (r.payload!.data as { message: { text: string } }).message.text),
    ['one', 'two', 'three'],
  )
  const timedOut = await until(async () => (await deliveriesOf(api, slow.id)).find((d) => d.result === 'retrying'), 'a timeout')
  t.match(timedOut, { statusCode: null, error: 'no answer within 1000 ms', attempt: 1 })
  t.ok(timedOut.durationMs >= 900, 'it waited for the timeout')
  t.ok(
    hanging.received.every((r) => r.id === hanging.received[0]!.id),
    'the hanging endpoint is still on its first event',
  )
})

t.test('the attempts kept per endpoint are bounded', async (t) => {
  const s = await startServer(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_MS: '1', WEBHOOK_RETRY_CAP_MS: '2' } })
  const api = apiCall(s.url, (await s.login()).token)
  const port = await freePort()
  const created = await api('POST', '/api/webhook-endpoints', { url: `http://127.0.0.1:${port}/h`, events: ['labels.changed'] })
  const { id, secret } = created.body.endpoint as { id: number; secret: string }
  const failing = await startReceiver(t, { port, secret, status: 500 })
  t.equal((await api('POST', '/api/labels', { name: 'Again and again', color: '#2563eb' })).status, 201)
  await failing.until((r) => r.length >= DELIVERIES_KEPT + 30, 'many retries', 60_000)
  const kept = (await s.sql.get<{ n: number }>('SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?', [id]))!.n
  t.ok(kept <= DELIVERIES_KEPT, `at most ${DELIVERIES_KEPT} kept (${kept})`)
  const newest = await deliveriesOf(api, id)
  t.equal(newest.length, DELIVERIES_KEPT, 'the route answers the newest, up to its limit')
  t.ok(newest[0]!.attempt > DELIVERIES_KEPT, 'the newest attempts are the ones kept')
})
