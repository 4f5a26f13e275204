// Issue 11, points 14 and 18: a whole run's log, captured as production writes it
// (the app's own logger options into a stream). At the default level there is no line
// per ordinary API call but there is one per webhook answered; at debug every request
// has its line; at either level no secret used in the run appears anywhere.
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { captureLog, type LogCapture, type LogLine } from './helpers/log-capture.ts'
import { startServer, ADMIN, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, type TestServer } from './helpers/server.ts'
import { spawnParley } from './helpers/process.ts'
import { connectSse } from './helpers/sse.ts'
import { decodePayload } from './helpers/jwt.ts'
import { contact, envelope, text, textWebhook, value } from './helpers/wa.ts'
import { PAGE_ID, item, mid, pageWebhook, postMessenger } from './helpers/ms.ts'

const PAGE = { accessToken: 'EAAPAGE-token-7f3a9c', appSecret: 'page-app-secret-51d0e2', verifyToken: 'page-verify-token-c41b77' }
const NUMBER = { accessToken: 'EAAWA-token-90be12', appSecret: 'wa-app-secret-2c8d4f', verifyToken: 'wa-verify-token-6e0a31' }
const WRONG_PASSWORD = 'not-the-password-3b9f'
const SECOND_NUMBER = '100000000000077'

/** A run touching every secret: logins, handshakes, webhooks, bearer and cookie use, channels with credentials. */
async function run(s: TestServer, log: LogCapture) {
  const secrets: Record<string, string> = {
    'admin password': ADMIN.password,
    'wrong password': WRONG_PASSWORD,
    'app verify token': VERIFY_TOKEN,
    'app secret': APP_SECRET,
    'JWT secret': s.config.jwtSecret,
    ...Object.fromEntries(Object.entries(PAGE).map(([k, v]) => [`page ${k}`, v])),
    ...Object.fromEntries(Object.entries(NUMBER).map(([k, v]) => [`number ${k}`, v])),
  }
  const wrong = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN.email, password: WRONG_PASSWORD }),
  })
  if (wrong.status !== 401) throw new Error(`wrong password answered ${wrong.status}`)
  const { token, cookie } = await s.login()
  secrets['session token'] = token
  secrets['cookie value'] = cookie.split('=')[1]!
  secrets['session id'] = String(decodePayload(token).sid)

  const json = (method: string, path: string, body: unknown) =>
    fetch(`${s.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const page = await json('POST', '/api/channels', { kind: 'messenger', externalId: PAGE_ID, name: 'Our Page', ...PAGE })
  const number = await json('POST', '/api/channels', { kind: 'whatsapp', externalId: SECOND_NUMBER, name: 'Second number', ...NUMBER })
  if (page.status !== 201 || number.status !== 201) throw new Error(`channels: ${page.status} ${number.status}`)

  const stream = await connectSse(`${s.url}/stream`, { token })
  const byCookie = await connectSse(`${s.url}/stream`, { cookie })
  for (const [kind, tok] of [
    ['whatsapp', VERIFY_TOKEN],
    ['whatsapp', NUMBER.verifyToken],
    ['messenger', PAGE.verifyToken],
  ] as const) {
    const res = await fetch(
      `${s.url}/webhooks/${kind}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(tok)}&hub.challenge=1158201444`,
    )
    if ((await res.text()) !== '1158201444') throw new Error(`handshake refused for ${kind}`)
  }
  const wa = await s.webhook(textWebhook('15551234567', 'Ana', 'Hello there').payload)
  if (wa.status !== 200) throw new Error(`whatsapp webhook: ${wa.status}`)
  const ms = await postMessenger(s.url, pageWebhook(item('7000000000000001', { message: { mid: mid(), text: 'hi' } })), PAGE.appSecret)
  if (ms.status !== 200) throw new Error(`messenger webhook: ${ms.status}`)
  await stream.waitFor((evs) => evs.some((e) => e.event === 'message.created'))

  for (const path of ['/api/me', '/api/conversations', '/api/channels']) {
    const res = await fetch(`${s.url}${path}`, { headers: { cookie } })
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`)
  }
  // Replies through the channels' own tokens: Meta is unreachable here (GRAPH_API_URL is a
  // closed port), so the outbox's failure paths write their lines too.
  const second = await s.webhook(
    envelope(value({ phoneNumberId: SECOND_NUMBER, contacts: [contact('15557654321', 'Bo')], messages: [text('15557654321', 'Hi')] })),
    { secret: NUMBER.appSecret },
  )
  if (second.status !== 200) throw new Error(`second number webhook: ${second.status}`)
  await stream.waitFor((evs) => evs.filter((e) => e.event === 'message.created').length >= 3)
  const conversations = (await (await s.get('/api/conversations', token)).json()) as { conversations: Array<{ id: number }> }
  for (const c of conversations.conversations) {
    const sent = await json('POST', `/api/conversations/${c.id}/messages`, { clientMessageId: `log-test-${c.id}`, text: 'On its way' })
    if (sent.status !== 202) throw new Error(`reply: ${sent.status} ${await sent.text()}`)
  }
  await log.waitFor((l) => l.msg === 'outbox: send failed', 'a failed send')
  await json('POST', `/api/conversations/${conversations.conversations[0]!.id}/read`, {})
  stream.close()
  byCookie.close()
  return secrets
}

function noSecrets(t: Test, log: string, secrets: Record<string, string>) {
  for (const [name, secret] of Object.entries(secrets)) {
    t.ok(secret.length >= 8, `${name} is long enough to grep for`)
    t.notOk(log.includes(secret), `${name} is in no log line`)
  }
}

t.test('default level: webhook results and no per-request lines; no secret anywhere', async (t) => {
  const log = captureLog()
  const s = await startServer(t, { env: { LOG_LEVEL: 'info' }, logStream: log.stream })
  const secrets = await run(s, log)
  await log.waitFor(
    (l) => l.msg === 'webhook answered' && l.method === 'POST' && l.url === '/webhooks/messenger',
    'messenger webhook result',
  )

  const lines = log.lines()
  t.ok(
    lines.some((l) => l.msg === 'webhook answered' && l.method === 'POST' && l.url === '/webhooks/whatsapp' && l.statusCode === 200),
    'the WhatsApp webhook result is logged',
  )
  const handshakes = lines.filter((l) => l.msg === 'webhook answered' && l.method === 'GET')
  t.equal(handshakes.length, 3, 'each handshake is logged')
  for (const h of handshakes) t.match(h.url, /hub\.verify_token=\[redacted\]&hub\.challenge=1158201444$/, 'with its token replaced')
  const perRequest = lines.filter((l) => typeof l.url === 'string' && !l.url.startsWith('/webhooks/'))
  t.same(perRequest, [], 'no line for an ordinary API call')
  noSecrets(t, log.text(), secrets)
})

t.test('LOG_LEVEL=debug: a line for every request, still without secrets', async (t) => {
  const log = captureLog()
  const s = await startServer(t, { env: { LOG_LEVEL: 'debug' }, logStream: log.stream })
  const secrets = await run(s, log)
  await log.waitFor((l) => l.msg === 'request completed' && l.url?.endsWith('/read') === true, 'the last request')
  const lines = log.lines()
  for (const [method, url, statusCode] of [
    ['POST', '/api/auth/login', 401],
    ['POST', '/api/auth/login', 200],
    ['POST', '/api/channels', 201],
    ['GET', '/api/me', 200],
    ['GET', '/api/conversations', 200],
  ] as const) {
    t.ok(
      lines.some(
        (l) => l.msg === 'request completed' && l.level === 20 && l.method === method && l.url === url && l.statusCode === statusCode,
      ),
      `${method} ${url} ${statusCode} at debug`,
    )
  }
  t.ok(
    lines.some((l) => l.msg === 'webhook answered' && l.url === '/webhooks/whatsapp'),
    'webhook results too',
  )
  noSecrets(t, log.text(), secrets)
})

t.test('npm start at the default level: start, webhook results, stop — and nothing per API call', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-log-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const p = await spawnParley({
    DATA_DIR: dataDir,
    META_APP_SECRET: APP_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    GRAPH_API_URL: 'http://127.0.0.1:9/v23.0',
    LOG_LEVEL: 'info',
  })
  t.teardown(() => p.kill())
  const login = await fetch(`${p.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const { token } = (await login.json()) as { token: string }
  for (const path of ['/api/me', '/api/conversations', '/api/channels']) {
    t.equal((await fetch(`${p.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status, 200)
  }
  const handshake = await fetch(`${p.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=31337`)
  t.equal(await handshake.text(), '31337')
  // 'close' (not 'exit'): the output pipes are read to their end.
  const closed = once(p.child, 'close')
  await p.kill('SIGTERM')
  await closed
  t.equal(p.child.exitCode, 0, 'a clean stop')

  const lines = p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine)
  const msgs = lines.map((l) => l.msg)
  t.ok(
    msgs.some((m) => m.startsWith('Parley is listening on')),
    'the start',
  )
  t.ok(msgs.includes('shutting down') && msgs.includes('stopped'), 'the stop')
  t.ok(
    lines.some((l) => l.msg === 'webhook answered' && l.url?.includes('hub.verify_token=[redacted]')),
    'the handshake, token replaced',
  )
  t.same(
    lines.filter((l) => typeof l.url === 'string' && l.url.startsWith('/api/')),
    [],
    'no line per API call',
  )
  for (const secret of [ADMIN.password, VERIFY_TOKEN, APP_SECRET, token]) t.notOk(p.output().includes(secret), 'no secret in the output')
})
