// GET /api/admin/health (issue 16): admins only; per channel the last webhook, signature
// failures of the last hour with their likely cause (attributed by the payload's number
// or Page id, else "unknown"), token errors (190) with when, the send queue and its age;
// then disk, backup age and the event log. Every red item carries a fix.
import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { apiCall, startServer } from './helpers/server.ts'
import { AGENT_PASSWORD } from './helpers/team-fixtures.ts'
import { contact, envelope, text, textWebhook, value } from './helpers/wa.ts'
import { item, PAGE_ID, pageWebhook, postMessenger } from './helpers/ms.ts'
import type { ChannelHealth, HealthItem, HealthReport } from '../src/domain/health/health.ts'

const itemOf = (c: ChannelHealth | undefined, key: string): HealthItem | undefined => c?.items.find((i) => i.key === key)

t.test('admins only', async (t) => {
  const s = await startServer(t)
  const { auth } = s.app.services
  await auth.createUser({
    workspaceId: await auth.defaultWorkspace(),
    email: 'bo@example.com',
    name: 'Bo',
    password: AGENT_PASSWORD,
    role: 'agent',
  })
  const agent = apiCall(s.url, (await s.login({ email: 'bo@example.com', password: AGENT_PASSWORD })).token)
  t.equal((await agent('GET', '/api/admin/health')).status, 403)
  t.equal((await agent('GET', '/api/admin/health', undefined, null)).status, 401)
  const admin = apiCall(s.url, (await s.login()).token)
  const res = await admin('GET', '/api/admin/health')
  t.equal(res.status, 200)
})

t.test('a bad-signature streak: the app secret is probably wrong, attributed to its number, then passing again', async (t) => {
  const s = await startServer(t)
  const call = apiCall(s.url, (await s.login()).token)
  const report = async () => (await call('GET', '/api/admin/health')).body as HealthReport
  const number = () => report().then((r) => r.channels.find((c) => c.externalId === s.config.whatsapp.phoneNumberId))

  let wa = await number()
  t.equal(itemOf(wa, 'signature')?.status, 'ok')
  t.equal(itemOf(wa, 'webhooks')?.status, 'info', 'no webhook yet since the start')
  t.equal(wa?.lastWebhookAt, null)

  // Meta signs with a secret Parley does not have: three deliveries refused.
  for (const body of ['Hello', 'Anyone?', 'Hello??']) {
    t.equal((await s.webhook(textWebhook('15550001111', 'Maria', body).payload, { secret: 'the-new-app-secret' })).status, 401)
  }
  wa = await number()
  const sig = itemOf(wa, 'signature')!
  t.equal(sig.status, 'red')
  t.match(sig.text, /3 webhooks for this number failed the signature check in the last hour/)
  t.match(sig.text, /the app secret is probably wrong/)
  t.match(sig.fix, /App Secret/)
  t.equal(wa!.signatureFailures.lastHour, 3)
  t.ok(wa!.signatureFailures.lastAt! > 0)
  t.equal(wa!.status, 'red')
  const r = await report()
  t.equal(r.status, 'attention')
  for (const c of r.channels) for (const i of c.items) if (i.status === 'red') t.ok(i.fix, `${c.name}: ${i.key} has a fix`)
  for (const i of r.system.items) if (i.status === 'red') t.ok(i.fix, `system: ${i.key} has a fix`)

  // A delivery with no signature header at all: a proxy dropping it, most likely.
  const body = JSON.stringify(textWebhook('15550001111', 'Maria', 'x').payload)
  await fetch(`${s.url}/webhooks/whatsapp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  t.match(itemOf(await number(), 'signature')!.text, /without a signature/)

  // A refused delivery naming a number Parley does not have is "unknown".
  const stray = envelope(value({ phoneNumberId: '555555555555555', contacts: [contact('1555', 'X')], messages: [text('1555', 'hi')] }))
  t.equal((await s.webhook(stray, { secret: 'someone-else' })).status, 401)
  const unknown = (await report()).channels.find((c) => c.id === null && c.kind === 'whatsapp')
  t.ok(unknown, 'an entry for what names no connected number')
  t.equal(unknown!.signatureFailures.lastHour, 1)
  t.equal(itemOf(unknown, 'signature')?.status, 'red')
  t.ok(itemOf(unknown, 'signature')?.fix)

  // The secret is fixed: a good delivery passes; the failures of the hour stay listed, not red.
  t.equal((await s.webhook(textWebhook('15550001111', 'Maria', 'Now?').payload)).status, 200)
  wa = await number()
  t.ok(wa!.lastWebhookAt! > 0, 'the last webhook has a time')
  t.equal(itemOf(wa, 'webhooks')?.status, 'ok')
  t.equal(itemOf(wa, 'signature')?.status, 'info')
  t.match(itemOf(wa, 'signature')?.text, /pass again/)
})

t.test('a Page’s refused webhooks are attributed by its id', async (t) => {
  const s = await startServer(t)
  const call = apiCall(s.url, (await s.login()).token)
  const created = await call('POST', '/api/channels', {
    kind: 'messenger',
    externalId: PAGE_ID,
    name: 'Shop Page',
    appSecret: 'page-app-secret',
  })
  t.equal(created.status, 201)
  t.equal((await postMessenger(s.url, pageWebhook(item('7000001', { message: { mid: 'm_1', text: 'hi' } })), 'wrong-secret')).status, 401)
  const page = ((await call('GET', '/api/admin/health')).body as HealthReport).channels.find((c) => c.externalId === PAGE_ID)
  t.equal(page?.name, 'Shop Page')
  t.equal(page?.signatureFailures.lastHour, 1)
  t.match(itemOf(page, 'signature')?.text, /for this Page .*the app secret is probably wrong/)
})

t.test('signed by another app than the number’s own: its secret is the wrong one', async (t) => {
  const s = await startServer(t)
  const call = apiCall(s.url, (await s.login()).token)
  const second = '100000000000003'
  t.equal(
    (await call('POST', '/api/channels', { kind: 'whatsapp', externalId: second, name: 'Support line', appSecret: 'support-app-secret' }))
      .status,
    201,
  )
  // Signed with the install's app secret (valid), naming the number whose own app is another: kept raw, not stored.
  const payload = envelope(
    value({ phoneNumberId: second, contacts: [contact('15550003333', 'Ada')], messages: [text('15550003333', 'hi')] }),
  )
  t.equal((await s.webhook(payload)).status, 200)
  const support = ((await call('GET', '/api/admin/health')).body as HealthReport).channels.find((c) => c.externalId === second)
  const sig = itemOf(support, 'signature')!
  t.equal(sig.status, 'red')
  t.match(sig.text, /signed with the secret of another Meta app/)
  t.match(sig.fix, /App Secret/)
})

t.test('token errors (190) with when; an old queue; backup and disk', async (t) => {
  // A Graph API that refuses the token (190), then one that holds every request unanswered.
  let refuse = true
  const held: import('node:http').ServerResponse[] = []
  const graph = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (!refuse) return void held.push(res)
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190 } }))
    })
  })
  await new Promise<void>((r) => graph.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const r of held) r.destroy()
    graph.close()
  })
  const s = await startServer(t, {
    env: { WHATSAPP_ACCESS_TOKEN: 'test-access-token', GRAPH_API_URL: `http://127.0.0.1:${(graph.address() as AddressInfo).port}/v23.0` },
  })
  const call = apiCall(s.url, (await s.login()).token)
  const number = async () =>
    ((await call('GET', '/api/admin/health')).body as HealthReport).channels.find((c) => c.externalId === s.config.whatsapp.phoneNumberId)!
  await s.webhook(textWebhook('15550001111', 'Maria', 'Hello').payload)
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  const sent = await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'On its way', clientMessageId: 'm-1' })
  // Wait for Meta's answer to settle the message as failed.
  for (let i = 0; i < 500; i++) {
    const m = (await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages.find(
      (x: { id: number }) => x.id === sent.body.message.id,
    )
    if (m?.status === 'failed') break
    await new Promise((r) => setTimeout(r, 10))
  }
  let wa = await number()
  const token = itemOf(wa, 'token')!
  t.equal(token.status, 'red')
  t.match(token.text, /error 190/)
  t.match(token.fix, /new permanent token/)
  t.equal(wa.tokenErrors.count, 1)
  t.ok(wa.tokenErrors.lastAt! > 0, 'with when')

  // A reply Meta does not answer waits in the queue; once it has waited ten minutes, the queue is red.
  refuse = false
  await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Still there?', clientMessageId: 'm-2' })
  wa = await number()
  t.equal(wa.queue.depth, 1)
  t.equal(itemOf(wa, 'queue')?.status, 'ok')
  await s.sql.run(`UPDATE outbox SET created_at = created_at - 600000 WHERE state IN ('queued', 'sending')`)
  wa = await number()
  t.equal(itemOf(wa, 'queue')?.status, 'red')
  t.match(itemOf(wa, 'queue')?.text, /1 message waiting; the oldest for 10 min/)
  t.ok(itemOf(wa, 'queue')?.fix)
  t.ok(wa.queue.oldestAgeSeconds! >= 600)

  // No backup recorded: red, with what to do; a recent one: green.
  let r = (await call('GET', '/api/admin/health')).body as HealthReport
  const backup = r.system.items.find((i) => i.key === 'backup')!
  t.equal(backup.status, 'red')
  t.match(backup.fix, /BACKUP_INTERVAL_HOURS/)
  t.equal(r.system.backup.lastAt, null)
  await s.sql.run(`INSERT INTO meta(key, value) VALUES ('last_backup_at', ?)`, [String(Date.now() - 3600_000)])
  r = (await call('GET', '/api/admin/health')).body as HealthReport
  t.equal(r.system.items.find((i) => i.key === 'backup')?.status, 'ok')
  t.ok(r.system.backup.ageSeconds! >= 3600)
  t.ok(r.system.disk!.freeBytes > 0, 'disk free from statfs')
  t.ok(r.system.eventLog.events > 0, 'the event log’s size')
  t.ok(r.system.items.find((i) => i.key === 'event_log'))
})
