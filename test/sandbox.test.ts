// Sandbox mode: no WhatsApp credentials, and Parley still works end to end against the
// emulator mounted in its own process — customer messages arrive as signed webhooks
// through the real route, replies go out through the real Graph client.
// On SQLite under PARLEY_TEST_DATABASE=postgres too (startServer sqlite: true): the sandbox (Meta's emulator inside Parley) is SQLite's only.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { apiCall, startServer, ADMIN, type TestServer, type TestLike } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { until } from './helpers/emulator.ts'
import type { MessageDTO } from '../src/events/types.ts'

const SANDBOX_ENV = {
  // No credentials at all: what a newcomer's `npm start` sees.
  WHATSAPP_PHONE_NUMBER_ID: '',
  SANDBOX_SENT_DELAY_MS: '20',
  SANDBOX_DELIVERED_DELAY_MS: '60',
}

async function sandbox(t: TestLike) {
  const s = await startServer(t, { sqlite: true, env: SANDBOX_ENV })
  const { token, cookie } = await s.login()
  const call = apiCall(s.url, token)
  return { s, token, cookie, call }
}

async function firstConversation(call: Awaited<ReturnType<typeof sandbox>>['call']) {
  const conv = (await call('GET', '/api/conversations')).body.conversations[0]
  const messages = async () => (await call('GET', `/api/conversations/${conv.id}/messages`)).body.messages as MessageDTO[]
  return { id: conv.id as number, messages }
}

t.test('npm start without credentials says it runs in sandbox mode, first thing', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-sandbox-start-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }
  delete env.WHATSAPP_ACCESS_TOKEN
  delete env.WHATSAPP_PHONE_NUMBER_ID
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no sandbox lines:\n${out}`)), 30_000)
    const onData = (d: Buffer) => {
      out += d
      if (out.includes('customer simulator at')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
  })
  const lines = out.split('\n').filter(Boolean)
  t.match(lines[0], /SANDBOX MODE/, 'the very first log line')
  t.match(out, /play a customer at \/sandbox/)
})

t.test('sandbox end to end: a simulated customer writes, an agent replies, ticks come back', async (t) => {
  const { s, token, call } = await sandbox(t)
  t.ok(s.config.sandbox.enabled)

  const info = await call('GET', '/api/sandbox/info', undefined, null)
  t.equal(info.status, 200, 'sandbox info is public (the inbox shows a banner)')
  t.match(info.body, { sandbox: true, phoneNumberId: '100000000000002' })
  t.equal((await call('GET', '/api/sandbox/customers', undefined, null)).status, 401, 'driving customers needs a login')

  const changes = await connectSse(`${s.url}/api/sandbox/stream`, { token })
  t.teardown(() => changes.close())

  const created = await call('POST', '/api/sandbox/customers', { name: 'Maria', phone: '+1 555 000 1111' })
  t.equal(created.status, 201)
  t.match(created.body.customer, { phone: '15550001111', name: 'Maria', windowOpen: false })
  const said = await call('POST', '/api/sandbox/customers/15550001111/messages', { type: 'text', text: 'Hi! Café open today? 😊' })
  t.equal(said.status, 201)
  t.equal(said.body.delivered, true, 'Parley answered the signed webhook with 200')

  const conv = await firstConversation(call)
  const inbound = (await conv.messages())[0]!
  t.equal(inbound.text, 'Hi! Café open today? 😊', 'non-ASCII survives Meta-style escaping and signing')
  t.equal(inbound.providerMessageId, said.body.message.id)
  const raw = s.db.$client.prepare('SELECT count(*) AS n FROM raw_webhooks').get() as { n: number }
  t.equal(raw.n, 0, 'nothing kept raw: every sandbox payload parsed')

  const reply = await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Yes, until 6pm!', clientMessageId: 's-1' })
  t.equal(reply.status, 202)
  await until(async () => (await conv.messages()).find((m) => m.id === reply.body.message.id && m.status === 'delivered'), 'delivered')
  const atCustomer = (await call('GET', '/api/sandbox/customers/15550001111/messages')).body.messages
  t.match(atCustomer.at(-1), { direction: 'out', text: 'Yes, until 6pm!', status: 'delivered' })

  t.equal((await call('POST', '/api/sandbox/customers/15550001111/read')).body.read, 1)
  await until(async () => (await conv.messages()).find((m) => m.id === reply.body.message.id && m.status === 'read'), 'read')

  // The agent opens the conversation: the customer's message gets blue ticks.
  await call('POST', `/api/conversations/${conv.id}/read`)
  await until(async () => {
    const msgs = (await call('GET', '/api/sandbox/customers/15550001111/messages')).body.messages
    return msgs[0].readByBusiness
  }, 'marked read on WhatsApp')

  t.equal((await call('GET', '/api/templates')).body.templates.length, 4)
  t.ok(changes.data('change').length > 0, 'the simulator page hears about changes')
})

t.test('the simulator plays every kind of customer message', async (t) => {
  const { call } = await sandbox(t)
  await call('POST', '/api/sandbox/customers', { name: 'Bob', phone: '15550002222' })
  const say = (body: unknown) => call('POST', '/api/sandbox/customers/15550002222/messages', body)
  await say({ type: 'text', text: 'I need help with an order' })
  const conv = await firstConversation(call)

  // The business sends a template with quick-reply buttons, and a text.
  const tpl = await call('POST', `/api/conversations/${conv.id}/messages`, {
    clientMessageId: 't-1',
    template: { name: 'order_update', language: 'en', bodyParams: ['Bob', '#7', 'Monday'] },
  })
  const txt = await call('POST', `/api/conversations/${conv.id}/messages`, { text: 'Anything else?', clientMessageId: 't-2' })
  const sim = await until(async () => {
    const ms = (await call('GET', '/api/sandbox/customers/15550002222/messages')).body.messages.filter((m: any) => m.direction === 'out')
    return ms.length === 2 && ms.every((m: any) => m.status === 'delivered') ? ms : undefined
  }, 'both delivered')
  t.same(sim[0].extra.buttons, ['Track my order', 'Talk to someone'])

  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
  t.equal((await say({ type: 'button', contextId: sim[0].id, button: { text: 'Track my order' } })).status, 201)
  t.equal((await say({ type: 'text', text: 'No, thanks!', contextId: sim[1].id })).status, 201)
  t.equal((await say({ type: 'reaction', reaction: { messageId: sim[1].id, emoji: '🙏' } })).status, 201)
  t.equal((await say({ type: 'image', data: png, mimeType: 'image/png', caption: 'the parcel' })).status, 201)
  t.equal((await say({ type: 'location', location: { latitude: 48.85, longitude: 2.35, name: 'Home' } })).status, 201)

  const all = await until(async () => {
    const ms = await conv.messages()
    return ms.some((m) => m.type === 'image' && m.media?.url) ? ms : undefined
  }, 'image fetched')
  const tplMsg = all.find((m) => m.id === tpl.body.message.id)!
  const txtMsg = all.find((m) => m.id === txt.body.message.id)!
  const tap = all.find((m) => m.type === 'button')!
  t.equal(tap.text, 'Track my order')
  t.equal(tap.replyToMessageId, tplMsg.id, 'the tap points at the template it came from')
  t.equal(all.find((m) => m.text === 'No, thanks!')!.replyToMessageId, txtMsg.id, 'a quoted reply')
  t.same(Object.values(txtMsg.reactions ?? {}), ['🙏'])
  t.equal(all.find((m) => m.type === 'image')!.text, 'the parcel')
  t.equal(all.find((m) => m.type === 'location')!.text, 'Home')
})

t.test('the sandbox survives a restart: same customers, same token, sends still work', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-sandbox-restart-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  let s: TestServer = await startServer(t, { sqlite: true, env: SANDBOX_ENV, dataDir })
  let { token } = await s.login(ADMIN)
  const post = (p: string, body: unknown) =>
    fetch(s.url + p, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  await post('/api/sandbox/customers', { name: 'Maria', phone: '15550001111' })
  await post('/api/sandbox/customers/15550001111/messages', { type: 'text', text: 'before the restart' })
  await s.close()

  s = await startServer(t, { sqlite: true, env: SANDBOX_ENV, dataDir })
  ;({ token } = await s.login(ADMIN))
  const customers = (await (await fetch(`${s.url}/api/sandbox/customers`, { headers: { authorization: `Bearer ${token}` } })).json()) as any
  t.same(
    customers.customers.map((c: any) => c.name),
    ['Maria'],
  )
  t.equal(customers.customers[0].windowOpen, true)
  const conv = ((await (await s.get('/api/conversations', token)).json()) as any).conversations[0]
  const res = await post(`/api/conversations/${conv.id}/messages`, { text: 'after the restart', clientMessageId: 'r-1' })
  t.equal(res.status, 202)
  await until(async () => {
    const msgs = ((await (await s.get(`/api/conversations/${conv.id}/messages`, token)).json()) as any).messages
    return msgs.find((m: any) => m.text === 'after the restart' && m.status === 'delivered')
  }, 'delivered after restart')
})
