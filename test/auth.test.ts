// Login, sessions, and the negative cases: every bad token is a 401, never a 500.
import t from 'tap'
import { startServer, ADMIN } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { decodePayload, makeJwt } from './helpers/jwt.ts'

t.test('login returns a token and an HttpOnly SameSite=Strict cookie; both authenticate', async (t) => {
  const s = await startServer(t)
  const res = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  t.equal(res.status, 200)
  const body = (await res.json()) as { token: string; user: Record<string, unknown> }
  t.match(body.user, { email: ADMIN.email, role: 'admin' })
  t.notOk('passwordHash' in body.user)
  const cookie = res.headers.get('set-cookie')!
  t.match(cookie, /parley_session=/)
  t.match(cookie, /HttpOnly/i)
  t.match(cookie, /SameSite=Strict/i)
  const claims = decodePayload(body.token)
  t.ok(typeof claims.exp === 'number' && typeof claims.sid === 'string')
  t.equal(JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString()).alg, 'HS256')

  const byBearer = await fetch(`${s.url}/api/me`, { headers: { authorization: `Bearer ${body.token}` } })
  t.equal(byBearer.status, 200)
  const byCookie = await fetch(`${s.url}/api/me`, { headers: { cookie: cookie.split(';')[0]! } })
  t.equal(byCookie.status, 200)

  // The stored hash is argon2id at OWASP parameters.
  const row = (await s.sql.get<{ password_hash: string }>('SELECT password_hash FROM users'))!
  t.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
})

t.test('wrong password and unknown user get the same answer', async (t) => {
  const s = await startServer(t)
  const attempt = async (email: string, password: string) => {
    const res = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    })
    return { status: res.status, body: await res.json() }
  }
  const wrong = await attempt(ADMIN.email, 'not the password')
  const unknown = await attempt('nobody@example.com', 'not the password')
  t.equal(wrong.status, 401)
  t.same(wrong, unknown, 'indistinguishable')
  const bad = await attempt('x', '')
  t.equal(bad.status, 400)
  t.match(bad.body, { error: { code: 'VALIDATION_FAILED' } })
})

t.test('login is throttled per account', async (t) => {
  const s = await startServer(t, { env: { LOGIN_RATE_PER_MINUTE: '3' } })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN.email, password: 'guess ' + i }),
    })
    statuses.push(res.status)
    if (res.status === 429) t.match(await res.json(), { error: { code: 'LOGIN_THROTTLED' } })
  }
  t.same(statuses, [401, 401, 401, 429, 429])
})

t.test('bad tokens: alg none, other algorithm, expired, tampered, garbage, revoked → 401, never 500', async (t) => {
  const s = await startServer(t)
  const good = await s.login()
  const claims = decodePayload(good.token)
  const now = Math.floor(Date.now() / 1000)
  const secret = s.config.jwtSecret
  const tokens: Record<string, string> = {
    'alg none': makeJwt({ alg: 'none', typ: 'JWT' }, claims),
    'alg none with signature stripped': makeJwt({ alg: 'none', typ: 'JWT' }, claims).slice(0, -1),
    'HS512 with the right secret': makeJwt({ alg: 'HS512', typ: 'JWT' }, claims, secret, 'sha512'),
    expired: makeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, iat: now - 100, exp: now - 10 }, secret),
    'wrong secret': makeJwt({ alg: 'HS256', typ: 'JWT' }, claims, 'guessed'),
    'tampered payload': `${good.token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, sub: '2' })).toString('base64url')}.${good.token.split('.')[2]}`,
    'unknown session': makeJwt({ alg: 'HS256', typ: 'JWT' }, { ...claims, sid: 'nope' }, secret),
    'no session claim': makeJwt({ alg: 'HS256', typ: 'JWT' }, { sub: '1', iat: now, exp: now + 60 }, secret),
    garbage: 'not.a.jwt',
    empty: '',
  }
  for (const [name, token] of Object.entries(tokens)) {
    for (const path of ['/api/me', '/api/conversations', '/stream']) {
      const viaHeader = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      t.equal(viaHeader.status, 401, `${name} (header) ${path}`)
      const body = (await viaHeader.json()) as { error: { code: string } }
      t.equal(body.error.code, 'UNAUTHORIZED')
      const viaCookie = await fetch(`${s.url}${path}`, { headers: { cookie: `parley_session=${token}` } })
      t.equal(viaCookie.status, 401, `${name} (cookie) ${path}`)
    }
  }
  for (const path of ['/api/me', '/api/conversations', '/stream', '/api/conversations/1/messages']) {
    const res = await fetch(`${s.url}${path}`)
    t.equal(res.status, 401, `no credentials ${path}`)
  }
  // A token never travels in the URL: ?token= is not an authentication method.
  const inUrl = await fetch(`${s.url}/stream?token=${good.token}`)
  t.equal(inUrl.status, 401)

  const logout = await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${good.token}` } })
  t.equal(logout.status, 200)
  t.match(logout.headers.get('set-cookie'), /parley_session=;/)
  const revoked = await fetch(`${s.url}/api/me`, { headers: { authorization: `Bearer ${good.token}` } })
  t.equal(revoked.status, 401, 'a logged-out token is dead')
  const sse = await connectSse(`${s.url}/stream`, { token: good.token })
  t.equal(sse.status, 401)
  sse.close()
})

t.test('cookie-authenticated writes refuse a foreign Origin', async (t) => {
  const s = await startServer(t)
  const { cookie } = await s.login()
  const foreign = await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } })
  t.equal(foreign.status, 403)
  t.match(await foreign.json(), { error: { code: 'CROSS_ORIGIN' } })
  const same = await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { cookie, origin: s.url } })
  t.equal(same.status, 200)
})

t.test('first-run setup creates the admin once', async (t) => {
  const s = await startServer(t, { env: { ADMIN_EMAIL: '', ADMIN_PASSWORD: '' } })
  t.same(await (await fetch(`${s.url}/api/setup`)).json(), { needed: true, mail: false })
  const create = (email: string) =>
    fetch(`${s.url}/api/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, name: 'Owner', password: 'a long password' }),
    })
  const first = await create('owner@example.com')
  t.equal(first.status, 200)
  t.match(await first.json(), { token: String, user: { role: 'admin', email: 'owner@example.com' } })
  t.same(await (await fetch(`${s.url}/api/setup`)).json(), { needed: false, mail: false })
  const second = await create('intruder@example.com')
  t.equal(second.status, 403, 'closed once a user exists')
})
