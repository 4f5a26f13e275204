// Settings checks a channel's saved credentials with Meta (issue 11, point 9): the Graph
// API answers who the number or Page is, and the channel shows verified / token rejected
// / not checked yet. Saving never fails because Meta is away. Real HTTP, real SQLite, a
// real SSE stream and real Chromium; Meta is the emulator on its own listener (or in the
// sandbox-mode process), and "Meta unreachable" is a port nobody listens on yet.
import t from 'tap'
import { startPair, until, WABA_ID, GRAPH_TOKEN, DISPLAY_NUMBER } from './helpers/emulator.ts'
import { apiCall, APP_SECRET, PHONE_NUMBER_ID, startServer } from './helpers/server.ts'
import { startEmulatorServer } from '../src/sandbox/standalone.ts'
import { freePort } from './helpers/process.ts'
import { connectSse } from './helpers/sse.ts'
import { startMessengerSandbox } from './helpers/messenger-sandbox.ts'
import { agentPage, ensureWebBuild, launchBrowser, E2E_FILE_TIMEOUT_MS, LIVE_MS } from './helpers/browser.ts'
import type { ChannelPublic } from '../src/domain/channels/channels.ts'

t.setTimeout(E2E_FILE_TIMEOUT_MS)

const SECOND = {
  phoneNumberId: '100000000000003',
  displayPhoneNumber: '15550002000',
  wabaId: WABA_ID,
  accessToken: 'second-number-token',
  verifiedName: 'Second Shop',
}
const NUMBERS = [
  {
    phoneNumberId: PHONE_NUMBER_ID,
    displayPhoneNumber: DISPLAY_NUMBER,
    wabaId: WABA_ID,
    accessToken: GRAPH_TOKEN,
    verifiedName: 'Parley Test Shop',
  },
  SECOND,
]

type Call = ReturnType<typeof apiCall>
const channelOf = async (call: Call, id: number) =>
  ((await call('GET', '/api/channels')).body.channels as ChannelPublic[]).find((c) => c.id === id)
const waitCredentials = (call: Call, id: number, status: ChannelPublic['credentials']['status']) =>
  until(async () => {
    const c = await channelOf(call, id)
    return c?.credentials.status === status && c.credentials.checkedAt !== null ? c : undefined
  }, `channel ${id} ${status}`)

t.test('a valid token is verified with the name and number Meta answered, live; a bad one is rejected with 190 in words', async (t) => {
  const p = await startPair(t, { emulator: { numbers: NUMBERS } })
  const stream = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => stream.close())

  const created = await p.call('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: SECOND.phoneNumberId,
    name: 'Second',
    accessToken: SECOND.accessToken,
  })
  t.equal(created.status, 201)
  t.equal(created.body.channel.credentials.status, 'unchecked', 'saved before Meta is asked')
  const id = created.body.channel.id as number

  const verified = await waitCredentials(p.call, id, 'verified')
  t.match(verified.credentials.detail, /Second Shop · \+15550002000/, 'the name and number Meta answered')
  await stream.waitFor((evs) => evs.some((e) => e.event === 'channel.updated' && JSON.parse(e.data).channel.id === id))
  const ev = stream.data<{ channel: ChannelPublic }>('channel.updated').find((d) => d.channel.id === id)!
  t.equal(ev.channel.credentials.status, 'verified', 'sent live to the settings page')
  t.notOk(JSON.stringify(ev).includes(SECOND.accessToken), 'the event carries no token')

  // Another token: the old verdict is dropped at once, then Meta's 190 in words.
  const patched = await p.call('PATCH', `/api/channels/${id}`, { accessToken: 'revoked-or-mistyped' })
  t.equal(patched.status, 200)
  t.equal(patched.body.channel.credentials.status, 'unchecked')
  const rejected = await waitCredentials(p.call, id, 'rejected')
  t.match(rejected.credentials.detail, /rejected the access token \(190\).*system-user token/)

  // A token Meta knows, for a number it does not give access to: 100, with what to check.
  const wrongId = await p.call('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: '100000000000009',
    name: 'Typo',
    accessToken: SECOND.accessToken,
  })
  t.equal(wrongId.status, 201)
  const r100 = await waitCredentials(p.call, wrongId.body.channel.id, 'rejected')
  t.match(r100.credentials.detail, /does not know phone number ID 100000000000009 .*\(100\)/)

  // The number configured by environment was checked at start.
  const env = ((await p.call('GET', '/api/channels')).body.channels as ChannelPublic[]).find((c) => c.externalId === PHONE_NUMBER_ID)!
  t.match((await waitCredentials(p.call, env.id, 'verified')).credentials.detail, /Parley Test Shop/)
})

t.test('Meta unreachable: saving still answers 201, the channel is not checked yet, and is verified once Meta answers', async (t) => {
  const port = await freePort()
  const s = await startServer(t, {
    env: {
      WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
      WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
      GRAPH_API_URL: `http://127.0.0.1:${port}/sandbox/graph/v23.0`,
      CHANNEL_CHECK_RETRY_BASE_MS: '200',
      CHANNEL_CHECK_RETRY_CAP_MS: '1000',
    },
  })
  const { token } = await s.login()
  const call = apiCall(s.url, token)
  const stream = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => stream.close())
  const created = await call('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: SECOND.phoneNumberId,
    name: 'Second',
    accessToken: SECOND.accessToken,
  })
  t.equal(created.status, 201, 'saving does not wait for Meta')
  const id = created.body.channel.id as number
  // The settings page hears at once that Meta could not be asked yet.
  await stream.waitFor((evs) => evs.some((e) => e.event === 'channel.updated' && JSON.parse(e.data).channel.id === id))
  t.match(stream.data<{ channel: ChannelPublic }>('channel.updated')[0]!.channel.credentials, {
    status: 'unchecked',
    detail: /could not be reached/,
  })
  const pending = await until(async () => {
    const c = await channelOf(call, id)
    return c?.credentials.checkedAt != null ? c : undefined
  }, 'a first attempt')
  t.equal(pending.credentials.status, 'unchecked')
  t.match(pending.credentials.detail, /could not be reached.*asks again/)

  // Meta comes back on that address: the retry finds it.
  const emu = await startEmulatorServer(
    { numbers: NUMBERS, appSecret: APP_SECRET, statusDelays: { sentMs: 20, deliveredMs: 60, readMs: 0 }, ratePerSecond: 80 },
    { port },
  )
  t.teardown(() => emu.close())
  const verified = await waitCredentials(call, id, 'verified')
  t.match(verified.credentials.detail, /Second Shop/)
})

t.test('the sandbox answers the same: its number and its Page are verified; a bad Page token is 190', async (t) => {
  const sb = await startMessengerSandbox(t)
  const list = async () => (await sb.call('GET', '/api/channels')).body.channels as ChannelPublic[]
  const wa = (await list()).find((c) => c.kind === 'whatsapp')!
  t.match((await waitCredentials(sb.call, wa.id, 'verified')).credentials.detail, /Parley Sandbox/)
  // The sandbox Page appears with its first simulated user, and is checked like any other.
  await sb.user('Ana')
  const page = await until(async () => (await list()).find((c) => c.kind === 'messenger'), 'sandbox page')
  t.match((await waitCredentials(sb.call, page.id, 'verified')).credentials.detail, /Messenger sandbox/)

  const res = await fetch(`${sb.s.url}/sandbox/graph/v23.0/me?fields=id,name`, { headers: { authorization: 'Bearer not-a-page-token' } })
  t.equal(res.status, 401)
  t.match(await res.json(), { error: { code: 190, type: 'OAuthException' } })
})

t.test("Chromium: Settings shows the verify token with Copy, and each channel's check result", async (t) => {
  await ensureWebBuild()
  const p = await startPair(t, { emulator: { numbers: NUMBERS } })
  const bad = await p.call('POST', '/api/channels', {
    kind: 'whatsapp',
    externalId: SECOND.phoneNumberId,
    name: 'Second',
    accessToken: 'wrong',
  })
  const browser = await launchBrowser(t)
  const { page } = await agentPage(t, browser, p.parley.url)
  await page.goto(`${p.parley.url}/settings`)
  const field = page.locator('input[data-verify-token]')
  await field.waitFor()
  const verifyToken = (await p.call('GET', '/api/channels/verify-token')).body.verifyToken as string
  t.ok(verifyToken.length >= 16)
  t.equal(await field.inputValue(), verifyToken, 'the token Meta must be given')
  t.equal(await page.locator('.copy-row', { has: field }).locator('button:has-text("Copy")').count(), 1, 'with a Copy button')

  const card = (id: number) => page.locator(`[data-channel-id="${id}"]`)
  await card(bad.body.channel.id).locator('[data-credentials="rejected"]:has-text("Token rejected")').waitFor({ timeout: LIVE_MS })
  t.match(await card(bad.body.channel.id).locator('[data-credentials]').innerText(), /190/)
  const env = ((await p.call('GET', '/api/channels')).body.channels as ChannelPublic[]).find((c) => c.externalId === PHONE_NUMBER_ID)!
  await card(env.id).locator('[data-credentials="verified"]:has-text("Parley Test Shop")').waitFor({ timeout: LIVE_MS })

  // Fixed live: a good token saved through the API turns the card verified without a reload.
  await p.call('PATCH', `/api/channels/${bad.body.channel.id}`, { accessToken: SECOND.accessToken })
  await card(bad.body.channel.id).locator('[data-credentials="verified"]:has-text("Second Shop")').waitFor({ timeout: LIVE_MS })
})

t.test('the verify token is for admins only', async (t) => {
  const p = await startPair(t)
  const auth = p.parley.app.services.auth
  const agent = { email: 'agent@example.com', password: 'an agent password', name: 'Agnes' }
  await auth.createUser({ ...agent, workspaceId: await auth.defaultWorkspace(), role: 'agent' })
  const asAgent = apiCall(p.parley.url, (await p.parley.login(agent)).token)
  const refused = await asAgent('GET', '/api/channels/verify-token')
  t.equal(refused.status, 403)
  t.notOk(JSON.stringify(refused.body).includes(p.parley.app.services.config.metaVerifyToken))
  t.equal((await apiCall(p.parley.url, '')('GET', '/api/channels/verify-token', undefined, null)).status, 401)
  const ok = await p.call('GET', '/api/channels/verify-token')
  t.equal(ok.status, 200)
  t.equal(ok.body.verifyToken, p.parley.app.services.config.metaVerifyToken)
})
