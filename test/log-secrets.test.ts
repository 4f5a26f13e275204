// Issue 16: no secret or token in any log line. One Parley at LOG_LEVEL=trace, its log
// captured as production writes it (the app's own logger options into a stream), runs a
// whole scenario that touches every secret it knows — passwords, session tokens and the
// cookie, Meta's verify tokens (in handshake URLs), app secrets (signatures), access
// tokens (Authorization headers to the Graph API emulator, a real local server),
// invitation and password-reset tokens (in a path, in bodies, in a mail), the SMTP
// password — with errors on the way. Then the log is searched for each secret, raw and
// in the encoded forms a URL or a JSON line would give it.
//
// To cover a new secret: add a step to STEPS (or a line to an existing one) that uses
// it the way a client would and names it with `ctx.secret(name, value)`.
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { generate } from 'otplib'
import t, { type Test } from 'tap'
import { SMTPServer } from 'smtp-server'
import { captureLog, type LogCapture } from './helpers/log-capture.ts'
import { ADMIN, APP_SECRET, PHONE_NUMBER_ID, apiCall, startServer, type ApiCall, type TestServer } from './helpers/server.ts'
import { startEmulator, until, type Emu, WABA_ID, DISPLAY_NUMBER } from './helpers/emulator.ts'
import { connectSse, type SseClient } from './helpers/sse.ts'
import { decodePayload } from './helpers/jwt.ts'
import { loggerOptions } from '../src/app.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'

// Characters a URL encodes (/ + = space) in the tokens that travel in URLs, so the
// encoded forms are really searched for.
const APP_VERIFY_TOKEN = 'app-verify/tok+en=7f3a 91'
const APP_ACCESS_TOKEN = 'EAAmain-access-token-5c2e7d'
const SECOND_NUMBER = '100000000000088'
const SECOND = {
  accessToken: 'EAAsecond-old-token-8b14f0',
  newAccessToken: 'EAAsecond-new-token-e61c93',
  appSecret: 'second-app-secret-0d7a52',
  verifyToken: 'second-verify/token+c4=9e',
}
const SMTP_PASSWORD = 'smtp-pass/word+3f9=a'

/** A real SMTP server on loopback that asks for the password and keeps what it receives. */
async function smtpSink(t: { teardown(fn: () => unknown): void }) {
  const mails: string[] = []
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'parley' && auth.password === SMTP_PASSWORD) return cb(null, { user: 'parley' })
      return cb(new Error('Invalid username or password'))
    },
    onData(stream, _session, done) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        mails.push(Buffer.concat(chunks).toString('utf8'))
        done()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.server.address() as AddressInfo).port
  return { url: `smtp://parley:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${port}`, mails }
}

/** The token in a link's fragment (`…#token=…`), quoted-printable soft breaks undone. */
const tokenIn = (raw: string) => /#token=([A-Za-z0-9_-]+)/.exec(raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[1]

interface Ctx {
  s: TestServer
  emu: Emu
  log: LogCapture
  smtp: { mails: string[] }
  /** Names a secret the scenario used; returns it. */
  secret(name: string, value: string): string
  /** Admin's bearer token, cookie (`parley_session=…`) and JSON client; set by the sign-in step. */
  token: string
  cookie: string
  api: ApiCall
  streams: SseClient[]
  conversations: number[]
}

const post = (ctx: Ctx, path: string, body: string | unknown, headers: Record<string, string> = {}) =>
  fetch(`${ctx.s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(what)
}

const handshake = (ctx: Ctx, token: string) =>
  fetch(`${ctx.s.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=1158201444`)

/** The scenario, in order. Each step uses its secrets as a client would and names them. */
const STEPS: Array<{ name: string; run(ctx: Ctx): Promise<void> }> = [
  {
    name: 'sign-in: wrong password, malformed body, password, JWT and cookie',
    async run(ctx) {
      const wrong = ctx.secret('wrong password', 'not-the-password-3b9f')
      expect((await post(ctx, '/api/auth/login', { email: ADMIN.email, password: wrong })).status === 401, 'wrong password refused')
      // A body cut short: the parser's error must not echo it.
      const cut = await post(ctx, '/api/auth/login', `{"email":"${ADMIN.email}","password":"${ADMIN.password}`)
      expect(cut.status === 400, `malformed body: ${cut.status}`)
      const bad = await post(ctx, '/api/auth/login', { email: ADMIN.email, password: ADMIN.password, extra: [1] })
      expect(bad.status < 500, 'an odd body is no 500')
      const { token, cookie } = await ctx.s.login()
      ctx.token = ctx.secret('admin session token', token)
      ctx.cookie = cookie
      ctx.secret('cookie value', cookie.split('=')[1]!)
      ctx.secret('session id', String(decodePayload(token).sid))
      ctx.api = apiCall(ctx.s.url, token)
      expect((await fetch(`${ctx.s.url}/api/me`, { headers: { cookie } })).status === 200, 'cookie works')
      expect((await ctx.s.get('/api/me', token)).status === 200, 'bearer works')
      // A token put where it does not belong (a query parameter) is still not logged.
      await fetch(`${ctx.s.url}/api/conversations?access_token=${encodeURIComponent(token)}&token=${encodeURIComponent(token)}`)
      await fetch(`${ctx.s.url}/api/nowhere?token=${encodeURIComponent(token)}`, { headers: { authorization: `Bearer ${token}` } })
      // A forged token: refused, and its signature not echoed.
      const forged = `${token.slice(0, -6)}AAAAAA`
      expect((await ctx.s.get('/api/me', forged)).status === 401, 'forged token refused')
    },
  },
  {
    name: "Meta's verification handshake: right and wrong verify tokens in the query",
    async run(ctx) {
      expect((await (await handshake(ctx, APP_VERIFY_TOKEN)).text()) === '1158201444', 'handshake with the app token')
      const guess = ctx.secret('guessed verify token', 'guessed-verify/token+x=1')
      expect((await handshake(ctx, guess)).status === 403, 'wrong verify token refused')
    },
  },
  {
    name: 'a channel created and re-keyed through the API (access token, app secret, verify token)',
    async run(ctx) {
      for (const [k, v] of Object.entries(SECOND)) ctx.secret(`second number ${k}`, v)
      const { accessToken, appSecret, verifyToken } = SECOND
      const created = await ctx.api('POST', '/api/channels', {
        kind: 'whatsapp',
        externalId: SECOND_NUMBER,
        name: 'Second number',
        accessToken,
        appSecret,
        verifyToken,
      })
      expect(created.status === 201, `channel: ${created.status}`)
      const id = created.body.channel.id as number
      // The old token is refused by Meta (190): the check's failure is logged, not the token.
      await ctx.log.waitFor((l) => l.channelId === id && l.credentials === 'rejected', 'the channel check refused')
      const rekeyed = await ctx.api('PATCH', `/api/channels/${id}`, { accessToken: SECOND.newAccessToken })
      expect(rekeyed.status === 200, `re-key: ${rekeyed.status}`)
      // A body with the token too long: the validation error names the field, not the value.
      const tooLong = await ctx.api('PATCH', `/api/channels/${id}`, { accessToken: `${SECOND.newAccessToken}${'x'.repeat(5000)}` })
      expect(tooLong.status === 400, `too long: ${tooLong.status}`)
      expect((await (await handshake(ctx, verifyToken)).text()) === '1158201444', "handshake with the channel's token")
    },
  },
  {
    name: 'the stream, by bearer token and by cookie',
    async run(ctx) {
      ctx.streams.push(await connectSse(`${ctx.s.url}/stream`, { token: ctx.token }))
      ctx.streams.push(await connectSse(`${ctx.s.url}/stream`, { cookie: ctx.cookie }))
    },
  },
  {
    name: 'signed webhooks: from the emulator, by hand with the channel secret, and a bad signature',
    async run(ctx) {
      const ana = await ctx.emu.customer('Ana', '15551230001')
      await ctx.emu.say(ana.phone, 'Hello there')
      const second = await ctx.s.webhook(
        envelope(value({ phoneNumberId: SECOND_NUMBER, contacts: [contact('15557654321', 'Bo')], messages: [text('15557654321', 'Hi')] })),
        { secret: SECOND.appSecret },
      )
      expect(second.status === 200, `second number webhook: ${second.status}`)
      const forged = ctx.secret('wrong app secret', 'not-the-app-secret-77e1')
      const refused = await ctx.s.webhook(envelope(value({ messages: [text('15550000009', 'x')] })), { secret: forged })
      expect(refused.status === 401, `bad signature: ${refused.status}`)
      await ctx.streams[0]!.waitFor((evs) => evs.filter((e) => e.event === 'message.created').length >= 2)
      const list = await ctx.api('GET', '/api/conversations')
      for (const c of list.body.conversations as Array<{ id: number }>) ctx.conversations.push(c.id)
      expect(ctx.conversations.length >= 2, `conversations: ${JSON.stringify(list.body).slice(0, 300)}`)
    },
  },
  {
    name: "replies through the Graph API emulator (each channel's access token), and a 190 from Meta",
    async run(ctx) {
      let n = 0
      for (const id of ctx.conversations) {
        const sent = await ctx.api('POST', `/api/conversations/${id}/messages`, { clientMessageId: `log-${id}-${n++}`, text: 'On its way' })
        expect(sent.status === 202, `reply: ${sent.status}`)
      }
      await until(async () => (await ctx.emu.stats()).accepted >= 2 || undefined, 'both replies at the emulator')
      await ctx.emu.faults({ script: [{ error: 190, httpStatus: 401 }] })
      const first = ctx.conversations[0]!
      const failed = await ctx.api('POST', `/api/conversations/${first}/messages`, { clientMessageId: 'log-190', text: 'Refused' })
      expect(failed.status === 202, `reply: ${failed.status}`)
      await ctx.log.waitFor((l) => /send failed/.test(l.msg), 'the refused send')
    },
  },
  {
    name: 'an invitation: created, previewed by path and body, accepted',
    async run(ctx) {
      const created = await ctx.api('POST', '/api/users/invitations', { email: 'bo@example.com', role: 'agent' })
      expect(created.status === 201, `invitation: ${created.status}`)
      const token = ctx.secret('invitation token', tokenIn(created.body.invitation.url as string)!)
      expect((await fetch(`${ctx.s.url}/api/invitations/${token}`)).status === 200, 'preview by path')
      expect((await fetch(`${ctx.s.url}/api/invitations/${token}x`)).status === 404, 'a wrong token: 404')
      expect((await post(ctx, '/api/invitations/check', { token })).status === 200, 'preview by body')
      const password = ctx.secret("invited person's password", 'bo-chose-this/pass+1=x')
      const accepted = await post(ctx, '/api/invitations/accept', { token, name: 'Bo', password })
      expect(accepted.status === 201, `accept: ${accepted.status}`)
      ctx.secret("invited person's session token", ((await accepted.json()) as { token: string }).token)
      expect((await post(ctx, '/api/invitations/accept', { token, name: 'Bo', password })).status >= 400, 'used once')
    },
  },
  {
    name: 'password resets: a link from an admin, a mailed link (SMTP with a password), used and reused',
    async run(ctx) {
      const users = await ctx.api('GET', '/api/users')
      const bo = (users.body.users as Array<{ id: number; email: string }>).find((u) => u.email === 'bo@example.com')!
      const link = await ctx.api('POST', `/api/users/${bo.id}/password-reset`)
      expect(link.status === 201, `reset link: ${link.status}`)
      const token = ctx.secret('reset token (admin link)', tokenIn(link.body.url as string)!)
      expect((await post(ctx, '/api/password-reset/check', { token })).status === 200, 'check')
      const password = ctx.secret('new password', 'bo-new-pass/word+2=y')
      expect((await post(ctx, '/api/password-reset', { token, password })).status === 200, 'reset')
      expect((await post(ctx, '/api/password-reset', { token, password })).status >= 400, 'a used link refused')

      expect((await post(ctx, '/api/password-reset/request', { email: 'bo@example.com' })).status === 202, 'forgot password')
      await ctx.log.waitFor((l) => l.msg === 'mail sent' || l.msg === 'mail could not be sent', 'the mail')
      const mailed = await until(
        async () =>
          ctx.smtp.mails
            .filter((m) => m.includes('reset-password'))
            .map(tokenIn)
            .find(Boolean),
        'the mailed link',
      )
      ctx.secret('reset token (mailed)', mailed)
      expect((await post(ctx, '/api/password-reset/check', { token: mailed })).status === 200, 'the mailed link works')
    },
  },
  {
    name: 'personal API tokens: created, used as a bearer (reads and a refused write), revoked',
    async run(ctx) {
      const created = await ctx.api('POST', '/api/tokens', { name: 'script', scope: 'read' })
      expect(created.status === 201, `token created: ${created.status}`)
      const value = ctx.secret('API token', created.body.token.value as string)
      expect((await ctx.s.get('/api/conversations', value)).status === 200, 'a read with the token')
      const write = await fetch(`${ctx.s.url}/api/labels`, {
        method: 'POST',
        headers: { authorization: `Bearer ${value}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'x', color: '#112233' }),
      })
      expect(write.status === 403, `a read token cannot write: ${write.status}`)
      await fetch(`${ctx.s.url}/api/me?token=${encodeURIComponent(value)}`)
      expect((await ctx.api('DELETE', `/api/tokens/${created.body.token.id}`)).status < 300, 'revoked')
      expect((await ctx.s.get('/api/me', value)).status === 401, 'a revoked token is refused')
    },
  },
  {
    name: 'two-factor sign-in: setup, enable, a wrong code, a recovery code, turned off',
    async run(ctx) {
      const set = await ctx.api('POST', '/api/me/2fa/setup', {})
      expect(set.status === 200, `2fa setup: ${set.status}`)
      const secret = ctx.secret('TOTP secret', set.body.secret as string)
      ctx.secret('otpauth URL', set.body.otpauthUrl as string)
      // Six digits are too short to grep for in a log; the secret behind them is named above.
      const code = await generate({ secret })
      const on = await ctx.api('POST', '/api/me/2fa/enable', { code })
      expect(on.status === 200, `2fa enabled: ${on.status}`)
      const codes = on.body.recoveryCodes as string[]
      for (const [i, c] of codes.entries()) ctx.secret(`recovery code ${i + 1}`, c)
      const wrong = await post(ctx, '/api/auth/login', {
        email: ADMIN.email,
        password: ADMIN.password,
        totp: code === '000000' ? '111111' : '000000',
      })
      expect(wrong.status === 401, `a wrong code refused: ${wrong.status}`)
      const rec = await post(ctx, '/api/auth/login', { email: ADMIN.email, password: ADMIN.password, recoveryCode: codes[0] })
      expect(rec.status === 200, `a recovery code signs in: ${rec.status}`)
      ctx.secret('session token (recovery code)', ((await rec.json()) as { token: string }).token)
      const off = await ctx.api('POST', '/api/me/2fa/disable', { password: ADMIN.password })
      expect(off.status < 300, `2fa off: ${off.status}`)
    },
  },
  {
    name: 'outgoing webhooks: an endpoint with a token in its URL, its secret, failed deliveries',
    async run(ctx) {
      const receiverToken = ctx.secret("receiver's URL token", 'rcv-tok/en+9=z')
      const created = await ctx.api('POST', '/api/webhook-endpoints', {
        url: `http://127.0.0.1:9/hook?token=${encodeURIComponent(receiverToken)}`,
        events: ['message.created'],
      })
      expect(created.status === 201, `endpoint created: ${created.status}`)
      ctx.secret('webhook signing secret', created.body.endpoint.secret as string)
      ctx.secret('webhook signing key', (created.body.endpoint.secret as string).replace(/^whsec_/, ''))
      // A message to deliver: the closed port fails it, and the failure is logged.
      await ctx.emu.say('15551230001', 'for the webhook')
      const id = created.body.endpoint.id as number
      await until(async () => {
        const d = await ctx.api('GET', `/api/webhook-endpoints/${id}/deliveries`)
        return (d.body.deliveries as unknown[]).length > 0 ? true : undefined
      }, 'a failed delivery')
      expect((await ctx.api('DELETE', `/api/webhook-endpoints/${id}`)).status === 204, 'endpoint deleted')
    },
  },
  {
    name: 'sign out',
    async run(ctx) {
      for (const s of ctx.streams) s.close()
      expect((await ctx.api('POST', '/api/auth/logout')).status < 300, 'logout')
      expect((await ctx.s.get('/api/me', ctx.token)).status === 401, 'the old token is refused')
    },
  },
]

/** Where a secret could hide in a JSON log line: as is, URL-encoded, form-encoded, JSON-escaped. */
function formsOf(secret: string): string[] {
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      encodeURI(secret),
      new URLSearchParams({ x: secret }).toString().slice(2),
      JSON.stringify(secret).slice(1, -1),
    ]),
  ]
}

/** Fails with each secret found in the log, in any of its forms, and where. */
function noSecretIn(t: Test, text: string, secrets: Array<{ name: string; value: string }>): void {
  const leaks: string[] = []
  for (const { name, value } of secrets) {
    t.ok(value.length >= 8, `${name} is long enough to grep for`)
    for (const form of formsOf(value)) {
      const at = text.indexOf(form)
      if (at >= 0) leaks.push(`${name} (as ${JSON.stringify(form)}): …${text.slice(Math.max(0, at - 200), at + form.length + 50)}…`)
    }
  }
  t.same(leaks, [], `none of the ${secrets.length} secrets is in the log, in any form`)
}

t.test('LOG_LEVEL=trace, a whole scenario: no secret in any log line', async (t) => {
  const log = captureLog()
  const smtp = await smtpSink(t)
  const emu = await startEmulator(t, {
    numbers: [
      { phoneNumberId: PHONE_NUMBER_ID, displayPhoneNumber: DISPLAY_NUMBER, wabaId: WABA_ID, accessToken: APP_ACCESS_TOKEN },
      { phoneNumberId: SECOND_NUMBER, displayPhoneNumber: '15550002000', wabaId: WABA_ID, accessToken: SECOND.newAccessToken },
    ],
  })
  const s = await startServer(t, {
    logStream: log.stream,
    env: {
      LOG_LEVEL: 'trace',
      META_VERIFY_TOKEN: APP_VERIFY_TOKEN,
      WHATSAPP_ACCESS_TOKEN: APP_ACCESS_TOKEN,
      WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
      GRAPH_API_URL: emu.graphUrl,
      OUTBOX_RETRY_BASE_MS: '20',
      OUTBOX_RETRY_CAP_MS: '200',
      SMTP_URL: smtp.url,
      PUBLIC_URL: 'http://parley.test',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_RETRY_CAP_MS: '200',
    },
  })
  emu.emulator.setWebhookUrl(`${s.url}/webhooks/whatsapp`)

  const secrets: Array<{ name: string; value: string }> = [
    { name: 'admin password', value: ADMIN.password },
    { name: 'app secret', value: APP_SECRET },
    { name: 'app verify token', value: APP_VERIFY_TOKEN },
    { name: 'app access token', value: APP_ACCESS_TOKEN },
    { name: 'JWT secret', value: s.config.jwtSecret },
    { name: 'SMTP password', value: SMTP_PASSWORD },
  ]
  const ctx: Ctx = {
    s,
    emu,
    log,
    smtp,
    secret(name, value) {
      secrets.push({ name, value })
      return value
    },
    token: '',
    cookie: '',
    api: apiCall(s.url, ''),
    streams: [],
    conversations: [],
  }
  for (const step of STEPS) {
    await t.resolves(step.run(ctx), step.name)
  }
  // The last request's line is written: everything before it is in the log.
  await log.waitFor((l) => l.url === '/api/me' && l.statusCode === 401, 'the last request')

  const lines = log.lines()
  t.ok(lines.length > 40, `a full log (${lines.length} lines)`)
  t.ok(
    lines.some((l) => l.level === 10 || l.level === 20),
    'trace/debug lines are in it',
  )
  t.ok(
    lines.some((l) => l.url?.startsWith('/webhooks/whatsapp?') && l.url.includes('hub.verify_token=[redacted]')),
    'the handshakes are logged, their token replaced',
  )
  t.ok(
    lines.some((l) => l.url === '/api/invitations/[redacted]'),
    "the invitation preview is logged, its path's token replaced",
  )
  t.ok(
    lines.some((l) => l.url === '/webhooks/whatsapp' && l.statusCode === 401),
    'the bad signature is logged',
  )

  const text = log.text()
  if (process.env.LOG_SECRETS_DUMP) (await import('node:fs')).writeFileSync(process.env.LOG_SECRETS_DUMP, text)
  noSecretIn(t, text, secrets)
})

t.test("sandbox mode at trace: the emulator in Parley's own process (its requests are logged too)", async (t) => {
  const log = captureLog()
  // The sandbox is SQLite's only: on SQLite under PARLEY_TEST_DATABASE=postgres too.
  const s = await startServer(t, {
    sqlite: true,
    logStream: log.stream,
    env: { LOG_LEVEL: 'trace', WHATSAPP_PHONE_NUMBER_ID: '', SANDBOX_SENT_DELAY_MS: '20', SANDBOX_DELIVERED_DELAY_MS: '60' },
  })
  t.ok(s.config.sandbox.enabled)
  const { token, cookie } = await s.login()
  const call = apiCall(s.url, token)
  const secrets = [
    { name: 'admin password', value: ADMIN.password },
    { name: 'app secret', value: s.config.metaAppSecret },
    { name: 'JWT secret', value: s.config.jwtSecret },
    { name: 'session token', value: token },
    { name: 'cookie value', value: cookie.split('=')[1]! },
  ]
  const stream = await connectSse(`${s.url}/stream`, { cookie })
  t.teardown(() => stream.close())

  await call('POST', '/api/sandbox/customers', { name: 'Maria', phone: '15550001111' })
  t.equal((await call('POST', '/api/sandbox/customers/15550001111/messages', { type: 'text', text: 'Hi' })).body.delivered, true)
  const psid = (await call('POST', '/api/sandbox/messenger/users', { name: 'Jo' })).body.user.psid as string
  t.equal((await call('POST', `/api/sandbox/messenger/users/${psid}/messages`, { type: 'text', text: 'Hello' })).body.delivered, true)
  // The sandbox's channels hold its tokens (a random one per database): read as Parley reads them.
  const ws = await s.app.services.auth.defaultWorkspace()
  for (const c of await s.app.services.units.read(() => s.app.services.channels.listUnit(ws))) {
    for (const [field, value] of Object.entries({ accessToken: c.accessToken, appSecret: c.appSecret, verifyToken: c.verifyToken })) {
      if (value) secrets.push({ name: `${c.kind} channel ${field}`, value })
    }
  }
  t.ok(secrets.some((x) => x.name === 'whatsapp channel accessToken') && secrets.some((x) => x.name === 'messenger channel accessToken'))

  const conversations = (await call('GET', '/api/conversations')).body.conversations as Array<{ id: number }>
  t.equal(conversations.length, 2)
  for (const c of conversations) {
    const reply = await call('POST', `/api/conversations/${c.id}/messages`, { text: 'Right away', clientMessageId: `sb-${c.id}` })
    t.equal(reply.status, 202)
    await until(async () => {
      const msgs = (await call('GET', `/api/conversations/${c.id}/messages`)).body.messages as Array<{ id: number; status: string }>
      return msgs.find((m) => m.id === reply.body.message.id && m.status === 'delivered')
    }, 'delivered')
  }
  await call('POST', `/api/conversations/${conversations[0]!.id}/read`)
  await log.waitFor((l) => l.url === `/api/conversations/${conversations[0]!.id}/read`, 'the last request')
  t.ok(
    log.lines().some((l) => l.url?.startsWith('/sandbox/graph/')),
    "Parley's calls to the emulator are in the log",
  )
  noSecretIn(t, log.text(), secrets)
})

t.test('a secret-named field logged by hand is written [Redacted] (the last line of defence)', async (t) => {
  const log = captureLog()
  const logger = pino({ ...loggerOptions('trace') }, log.stream)
  logger.info({ password: 'pw-aaaaaaaa', body: { accessToken: 'at-bbbbbbbb', appSecret: 'as-cccccccc' }, token: 'tk-dddddddd' }, 'by hand')
  logger.warn({ channel: { verifyToken: 'vt-eeeeeeee', secret: 'sc-ffffffff' }, ok: 'kept-visible' }, 'by hand too')
  logger.flush()
  await log.waitFor((l) => l.msg === 'by hand too', 'the lines')
  const text = log.text()
  for (const v of ['pw-aaaaaaaa', 'at-bbbbbbbb', 'as-cccccccc', 'tk-dddddddd', 'vt-eeeeeeee', 'sc-ffffffff'])
    t.notOk(text.includes(v), `${v.slice(0, 2)} redacted`)
  t.ok(text.includes('kept-visible'), 'other fields stay')
  t.match(text, /\[Redacted\]/)
})
