// Invitations (issue 13): an admin invites with a role and channels, the link works once
// within 7 days and signs the person in; reused, expired, revoked and tampered links get
// a clear 404/410, never a 500. With SMTP_URL set the link is mailed: a real SMTP server
// (smtp-server) in this process plays the outside world.
import t from 'tap'
import { SMTPServer } from 'smtp-server'
import { ADMIN, apiCall, startServer } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { INVITATION_TTL_MS } from '../src/domain/accounts/invitations.ts'

const tokenOf = (url: string) => new URL(url).hash.replace(/^#token=/, '')

interface Received {
  to: string[]
  raw: string
}

/** A real SMTP server on 127.0.0.1:0 that keeps what it receives. */
async function smtpSink(t: { teardown(fn: () => unknown): void }) {
  const mails: Received[] = []
  const waiters = new Set<() => void>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') })
        for (const w of waiters) w()
        done()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.server.address() as { port: number }).port
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    /** The first mail to this address, when it arrives. */
    async waitFor(to: string, timeoutMs = 10_000): Promise<Received> {
      const found = () => mails.find((m) => m.to.includes(to))
      const deadline = Date.now() + timeoutMs
      while (!found()) {
        if (Date.now() > deadline) throw new Error(`no mail to ${to}`)
        await new Promise<void>((resolve) => {
          const w = () => {
            waiters.delete(w)
            resolve()
          }
          waiters.add(w)
          setTimeout(w, 200)
        })
      }
      return found()!
    },
  }
}

/** The link in a mail body (quoted-printable soft breaks undone). */
const linkIn = (raw: string) => /https?:\/\/\S+#token=[A-Za-z0-9_-]+/.exec(raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[0]

t.test('invite → preview → accept signs in once; the account has the role and channels', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const api = apiCall(s.url, token)
  const { body: chBody } = await api('GET', '/api/channels')
  const channelId = chBody.channels[0].id as number

  const created = await api('POST', '/api/users/invitations', { email: 'Ana@Example.com', role: 'agent', channelIds: [channelId] })
  t.equal(created.status, 201)
  const inv = created.body.invitation
  t.equal(inv.email, 'ana@example.com')
  t.equal(inv.role, 'agent')
  t.match(inv.url, new RegExp(`^${s.url}/invite#token=[A-Za-z0-9_-]{40,}$`), 'the token is in the fragment')
  t.ok(inv.expiresAt > Date.now() + INVITATION_TTL_MS - 60_000, 'valid 7 days')

  const pending = await api('GET', '/api/users/invitations')
  t.equal(pending.body.invitations.length, 1)
  t.notOk('url' in pending.body.invitations[0], 'the url is shown once, never listed')
  t.same(pending.body.invitations[0].channelIds, [channelId])

  const anon = apiCall(s.url, '')
  const tok = tokenOf(inv.url)
  const preview = await anon('GET', `/api/invitations/${tok}`, undefined, null)
  t.equal(preview.status, 200)
  t.match(preview.body.invitation, { email: 'ana@example.com', role: 'agent', invitedBy: 'Admin', workspace: 'My business' })
  const checked = await anon('POST', '/api/invitations/check', { token: tok }, null)
  t.equal(checked.body.invitation.email, 'ana@example.com')

  const res = await fetch(`${s.url}/api/invitations/accept`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: tok, name: 'Ana', password: 'ana password 1' }),
  })
  t.equal(res.status, 201)
  const accepted = (await res.json()) as { token: string; user: { id: number; role: string; email: string } }
  t.match(res.headers.get('set-cookie') ?? '', /parley_session=/, 'the session cookie is set, as at login')
  t.equal(accepted.user.role, 'agent')
  const me = await apiCall(s.url, accepted.token)('GET', '/api/me')
  t.equal(me.status, 200, 'the returned token works')
  await s.login({ email: 'ana@example.com', password: 'ana password 1' })

  const users = await api('GET', '/api/users')
  const ana = users.body.users.find((u: { email: string }) => u.email === 'ana@example.com')
  t.match(ana, { name: 'Ana', role: 'agent', channelIds: [channelId], availability: 'online', disabled: false })
  t.equal((await api('GET', '/api/users/invitations')).body.invitations.length, 0, 'no longer pending')

  // Reused: a clear 410, for the preview and for a second accept.
  const again = await anon('POST', '/api/invitations/accept', { token: tok, name: 'Eve', password: 'eve password 1' }, null)
  t.equal(again.status, 410)
  t.equal(again.body.error.code, 'INVITATION_USED')
  t.equal((await anon('GET', `/api/invitations/${tok}`, undefined, null)).body.error.code, 'INVITATION_USED')

  // An email that already has an account cannot be invited.
  const dup = await api('POST', '/api/users/invitations', { email: 'ana@example.com', role: 'agent', channelIds: [] })
  t.equal(dup.status, 409)
  t.equal(dup.body.error.code, 'EMAIL_TAKEN')
  const admin = await api('POST', '/api/users/invitations', { email: ADMIN.email, role: 'admin', channelIds: [] })
  t.equal(admin.status, 409)
  // A channel of nobody's: refused, nothing stored.
  const bad = await api('POST', '/api/users/invitations', { email: 'x@example.com', role: 'agent', channelIds: [999] })
  t.equal(bad.status, 400)
  t.equal(bad.body.error.code, 'UNKNOWN_CHANNEL')
})

t.test('revoked, tampered, superseded and expired links are refused clearly', async (t) => {
  let offset = 0
  const s = await startServer(t, { clock: { now: () => Date.now() + offset } })
  const { token } = await s.login()
  const api = apiCall(s.url, token)
  const anon = apiCall(s.url, '')
  const invite = async (email: string) =>
    (await api('POST', '/api/users/invitations', { email, role: 'agent', channelIds: [] })).body.invitation as { id: number; url: string }

  const revoked = await invite('rev@example.com')
  t.equal((await api('DELETE', `/api/users/invitations/${revoked.id}`)).status, 200)
  t.equal((await api('DELETE', `/api/users/invitations/${revoked.id}`)).status, 404, 'revoking twice: nothing pending')
  const r1 = await anon('GET', `/api/invitations/${tokenOf(revoked.url)}`, undefined, null)
  t.equal(r1.status, 410)
  t.equal(r1.body.error.code, 'INVITATION_REVOKED')
  const r2 = await anon('POST', '/api/invitations/accept', { token: tokenOf(revoked.url), name: 'R', password: 'long enough 1' }, null)
  t.equal(r2.body.error.code, 'INVITATION_REVOKED')

  const good = await invite('tamper@example.com')
  const t1 = tokenOf(good.url)
  const tampered = (t1[0] === 'A' ? 'B' : 'A') + t1.slice(1)
  for (const bad of [tampered, 'x', '%00', 'a'.repeat(90)]) {
    const r = await anon('GET', `/api/invitations/${encodeURIComponent(bad)}`, undefined, null)
    t.equal(r.status, 404, `tampered ${bad.slice(0, 8)}: 404`)
    t.equal(r.body.error.code, 'INVITATION_INVALID')
    const a = await anon('POST', '/api/invitations/accept', { token: bad, name: 'T', password: 'long enough 1' }, null)
    t.equal(a.status, 404)
  }
  const tooLong = await anon('GET', `/api/invitations/${'a'.repeat(300)}`, undefined, null)
  t.ok(tooLong.status >= 400 && tooLong.status < 500, 'an absurd token is a 4xx')

  // A second invitation to the same address replaces the first.
  const second = await invite('tamper@example.com')
  t.equal((await anon('GET', `/api/invitations/${t1}`, undefined, null)).body.error.code, 'INVITATION_REVOKED')
  t.equal((await anon('GET', `/api/invitations/${tokenOf(second.url)}`, undefined, null)).status, 200)

  // Seven days later the link has expired (the server's clock moves; nothing waits).
  offset = INVITATION_TTL_MS + 1000
  const e = await anon('GET', `/api/invitations/${tokenOf(second.url)}`, undefined, null)
  t.equal(e.status, 410)
  t.equal(e.body.error.code, 'INVITATION_EXPIRED')
  const e2 = await anon('POST', '/api/invitations/accept', { token: tokenOf(second.url), name: 'L', password: 'long enough 1' }, null)
  t.equal(e2.body.error.code, 'INVITATION_EXPIRED')
  const { token: fresh } = await s.login()
  t.equal((await apiCall(s.url, fresh)('GET', '/api/users/invitations')).body.invitations.length, 0, 'expired ones are not pending')

  // A short password is refused before the link is used up.
  offset = 0
  const third = await invite('short@example.com')
  const short = await anon('POST', '/api/invitations/accept', { token: tokenOf(third.url), name: 'S', password: 'short' }, null)
  t.equal(short.status, 400)
  t.equal((await anon('GET', `/api/invitations/${tokenOf(third.url)}`, undefined, null)).status, 200, 'still usable')
})

t.test('the token never reaches the log', async (t) => {
  const lines: string[] = []
  const { Writable } = await import('node:stream')
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  const s = await startServer(t, { env: { LOG_LEVEL: 'debug' }, logStream })
  const { token } = await s.login()
  const api = apiCall(s.url, token)
  const inv = (await api('POST', '/api/users/invitations', { email: 'log@example.com', role: 'agent', channelIds: [] })).body.invitation
  const tok = tokenOf(inv.url)
  await apiCall(s.url, '')('GET', `/api/invitations/${tok}`, undefined, null)
  t.ok(
    lines.some((l) => l.includes('/api/invitations/[redacted]')),
    'the request is logged, redacted',
  )
  t.notOk(
    lines.some((l) => l.includes(tok)),
    'the token is in no log line',
  )
})

t.test('with SMTP_URL the invitation and the forgot-password link are mailed', async (t) => {
  const smtp = await smtpSink(t)
  const s = await startServer(t, { env: { SMTP_URL: smtp.url, PUBLIC_URL: 'http://parley.test', SMTP_FROM: 'Team <team@parley.test>' } })
  const anon = apiCall(s.url, '')
  t.same((await anon('GET', '/api/setup', undefined, null)).body, { needed: false, mail: true }, 'the sign-in page learns mail works')
  const { token } = await s.login()
  const api = apiCall(s.url, token)

  const created = await api('POST', '/api/users/invitations', { email: 'mailed@example.com', role: 'agent', channelIds: [] })
  t.equal(created.status, 201)
  const mail = await smtp.waitFor('mailed@example.com')
  t.match(mail.raw, /From: Team <team@parley\.test>/)
  t.match(mail.raw, /Subject: Admin invited you to My business on Parley/)
  const link = linkIn(mail.raw)
  t.equal(link, created.body.invitation.url, 'the mailed link is the one shown')
  t.match(link, /^http:\/\/parley\.test\/invite#token=/, 'it starts with PUBLIC_URL')
  const accepted = await anon(
    'POST',
    '/api/invitations/accept',
    { token: tokenOf(link!), name: 'Mailed', password: 'mailed password' },
    null,
  )
  t.equal(accepted.status, 201, 'the mailed link works')

  // Forgot password: the same 202 whether or not the address exists; a mail only for the real one.
  const known = await anon('POST', '/api/password-reset/request', { email: 'MAILED@example.com ' }, null)
  const unknown = await anon('POST', '/api/password-reset/request', { email: 'nobody@example.com' }, null)
  t.equal(known.status, 202)
  t.same(unknown, known, 'the same answer for an unknown address')
  const reset = await smtp.waitFor('mailed@example.com'.toLowerCase()).then(async () => {
    // The second mail to that address (the first was the invitation).
    for (;;) {
      const m = smtp.mails.filter((x) => x.to.includes('mailed@example.com'))
      if (m.length >= 2) return m[1]!
      await smtp.waitFor('mailed@example.com', 10_000)
      await new Promise((r) => setImmediate(r))
    }
  })
  const resetLink = linkIn(reset.raw)
  t.match(resetLink, /^http:\/\/parley\.test\/reset-password#token=/)
  const done = await anon('POST', '/api/password-reset', { token: tokenOf(resetLink!), password: 'another password' }, null)
  t.equal(done.status, 200, 'the mailed reset link works')
  await s.login({ email: 'mailed@example.com', password: 'another password' })
  t.notOk(
    smtp.mails.some((m) => m.to.includes('nobody@example.com')),
    'nothing is mailed to an unknown address',
  )
})

t.test('a mail server that is down fails nothing', async (t) => {
  // Port 9 (discard) refuses connections on loopback.
  const s = await startServer(t, { env: { SMTP_URL: 'smtp://127.0.0.1:9', PUBLIC_URL: 'http://parley.test' } })
  const { token } = await s.login()
  const created = await apiCall(s.url, token)('POST', '/api/users/invitations', {
    email: 'down@example.com',
    role: 'agent',
    channelIds: [],
  })
  t.equal(created.status, 201, 'the invitation is made; the link is shown')
  const anon = apiCall(s.url, '')
  for (const email of [ADMIN.email, 'nobody@example.com']) {
    for (let i = 0; i < 3; i++) t.equal((await anon('POST', '/api/password-reset/request', { email }, null)).status, 202)
    // A fourth link for the same address within the quarter hour: refused alike, known or not.
    const fourth = await anon('POST', '/api/password-reset/request', { email }, null)
    t.equal(fourth.status, 429, `${email}: throttled per address asked about`)
    t.equal(fourth.body.error.code, 'RESET_REQUESTS_THROTTLED')
  }
})

t.test('without SMTP the sign-in page offers no forgot-password and the route says why', async (t) => {
  const s = await startServer(t)
  const anon = apiCall(s.url, '')
  t.same((await anon('GET', '/api/setup', undefined, null)).body, { needed: false, mail: false })
  const r = await anon('POST', '/api/password-reset/request', { email: ADMIN.email }, null)
  t.equal(r.status, 409)
  t.equal(r.body.error.code, 'MAIL_NOT_CONFIGURED')
})

t.test('an open stream of the invited person works after accepting', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const inv = (await apiCall(s.url, token)('POST', '/api/users/invitations', { email: 'sse@example.com', role: 'agent', channelIds: [] }))
    .body.invitation
  const acc = await apiCall(s.url, '')(
    'POST',
    '/api/invitations/accept',
    { token: tokenOf(inv.url), name: 'Sse', password: 'sse password 1' },
    null,
  )
  const sse = await connectSse(`${s.url}/stream`, { token: acc.body.token })
  t.equal(sse.status, 200)
  sse.close()
})

t.test('SMTP_URL is checked at start, and needs PUBLIC_URL', async (t) => {
  const { loadConfig, ConfigError } = await import('../src/config.ts')
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-cfg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const base = { DATA_DIR: dir }
  const wrong = (() => {
    try {
      loadConfig({ ...base, SMTP_URL: 'http://mail.example.com', PUBLIC_URL: 'https://x.example' })
    } catch (e) {
      return e
    }
  })()
  t.ok(wrong instanceof ConfigError, 'not an smtp URL: refused at start')
  const noPublic = (() => {
    try {
      loadConfig({ ...base, SMTP_URL: 'smtp://user:secret@mail.example.com:587' })
    } catch (e) {
      return e as Error
    }
  })()
  t.match(noPublic?.message, /PUBLIC_URL/)
  t.notMatch(noPublic?.message, /secret/, 'the password in the URL is never repeated')
  const ok = loadConfig({ ...base, SMTP_URL: 'smtps://user:secret@mail.example.com', PUBLIC_URL: 'https://x.example' })
  t.same(ok.mail, { smtpUrl: 'smtps://user:secret@mail.example.com', from: 'Parley <no-reply@localhost>' })
})
