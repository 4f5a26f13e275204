// Issue 11, points 15, 17 and 19, over real HTTP: login throttling per account and per
// address, malformed Origin headers, and authentication before body validation.
import t from 'tap'
import { startServer, ADMIN, type TestServer } from './helpers/server.ts'

const OTHER = { email: 'agent@example.com', password: 'another long password' }

/** A clock the test moves: the login windows are crossed without waiting. */
function testClock() {
  let offset = 0
  return { now: () => Date.now() + offset, advance: (ms: number) => void (offset += ms) }
}

async function login(s: TestServer, creds: { email: string; password: string }, address: string) {
  const res = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(creds),
  })
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any }
}

async function addAgent(s: TestServer) {
  const { auth } = s.app.services
  await auth.createUser({ ...OTHER, name: 'Agent', workspaceId: await auth.defaultWorkspace(), role: 'agent' })
}

t.test('a locked account blocks no other account, is locked from every address, and opens when the window passes', async (t) => {
  const clock = testClock()
  const s = await startServer(t, { env: { LOGIN_RATE_PER_MINUTE: '10', TRUST_PROXY: 'true' }, clock })
  await addAgent(s)

  const wrong: number[] = []
  for (let i = 0; i < 10; i++) wrong.push((await login(s, { email: ADMIN.email, password: `guess ${i}` }, '10.0.0.1')).status)
  t.same(wrong, Array(10).fill(401), 'ten wrong passwords are each refused as wrong')

  const other = await login(s, OTHER, '10.0.0.1')
  t.equal(other.status, 200, 'another account signs in from the same address')

  const elsewhere = await login(s, ADMIN, '10.0.0.2')
  t.equal(elsewhere.status, 429, 'the locked account is locked from another address too, right password or not')
  t.match(elsewhere.body, { error: { code: 'LOGIN_THROTTLED' } })
  const retryAfter = Number(elsewhere.retryAfter)
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After names the seconds left in the window (${elsewhere.retryAfter})`)
  t.equal((await login(s, { ...ADMIN, email: ' Admin@Example.com ' }, '10.0.0.3')).status, 429, 'the account key ignores case and spaces')

  clock.advance(30_000)
  t.equal((await login(s, ADMIN, '10.0.0.1')).status, 429, 'still locked half-way through the window')
  clock.advance(31_000)
  t.equal((await login(s, ADMIN, '10.0.0.1')).status, 200, 'the right password works once the window has passed')
})

t.test('the address limit is higher and counts failures across accounts', async (t) => {
  const s = await startServer(t, {
    env: { LOGIN_RATE_PER_MINUTE: '3', LOGIN_RATE_PER_ADDRESS_PER_MINUTE: '6', TRUST_PROXY: 'true' },
  })
  await addAgent(s)
  const sprayed: number[] = []
  for (let i = 0; i < 6; i++) sprayed.push((await login(s, { email: `user${i}@example.com`, password: 'Summer2026!' }, '10.0.1.1')).status)
  t.same(sprayed, Array(6).fill(401), 'one failure on each of six accounts')
  const blocked = await login(s, OTHER, '10.0.1.1')
  t.equal(blocked.status, 429, 'that address is throttled, whatever account it names')
  t.match(blocked.body, { error: { code: 'LOGIN_THROTTLED' } })
  t.ok(Number(blocked.retryAfter) >= 1)
  t.equal((await login(s, OTHER, '10.0.1.2')).status, 200, 'the account itself is not locked')

  // Successes do not use up an address's allowance: an office behind one NAT signs in all day.
  for (let i = 0; i < 8; i++) t.equal((await login(s, OTHER, '10.0.1.3')).status, 200)
})

t.test('parallel guesses cannot slip past the limit before the first failure is counted', async (t) => {
  const s = await startServer(t, { env: { LOGIN_RATE_PER_MINUTE: '5', TRUST_PROXY: 'true' } })
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => login(s, { email: ADMIN.email, password: `burst ${i}` }, `10.0.2.${i}`)),
  )
  const statuses = results.map((r) => r.status)
  t.equal(statuses.filter((x) => x === 401).length, 5, 'exactly the allowance was checked')
  t.equal(statuses.filter((x) => x === 429).length, 15, 'the rest were refused unchecked')
})

t.test('a malformed or foreign Origin on a cookie-authenticated write is 403 CROSS_ORIGIN, never 500', async (t) => {
  const s = await startServer(t)
  const { cookie } = await s.login()
  for (const origin of ['null', 'garbage', 'http://host.evil.com', 'http://', `${s.url}.evil.com`]) {
    const res = await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { cookie, origin } })
    t.equal(res.status, 403, `Origin: ${origin}`)
    t.match(await res.json(), { error: { code: 'CROSS_ORIGIN' } })
  }
  const me = await fetch(`${s.url}/api/me`, { headers: { cookie } })
  t.equal(me.status, 200, 'none of them ended the session')
  const same = await fetch(`${s.url}/api/auth/logout`, { method: 'POST', headers: { cookie, origin: s.url } })
  t.equal(same.status, 200, 'this server as Origin is accepted')
})

t.test('without a session an invalid body is 401, not the schema 400', async (t) => {
  // The list includes the sandbox's routes, which are SQLite's only.
  const s = await startServer(t, { sqlite: true })
  const { token } = await s.login()
  const invalid: [string, string, string][] = [
    ['POST', '/api/campaigns', '{"name": 7}'],
    ['POST', '/api/contacts', '{"phone": []}'],
    ['POST', '/api/channels', '{"kind": "fax"}'],
    ['POST', '/api/conversations/1/messages', '{}'],
    ['POST', '/api/contacts/import/preview', '{"csv": 1}'],
    ['POST', '/api/campaigns', '{not json'],
    // The sandbox's customer simulator (on in tests: no WhatsApp access token).
    ['POST', '/api/sandbox/customers', '{"name": ""}'],
  ]
  for (const [method, path, body] of invalid) {
    const send = (auth?: string) =>
      fetch(`${s.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
        body,
      })
    const anonymous = await send()
    t.equal(anonymous.status, 401, `${method} ${path} ${body} without a session`)
    t.match(await anonymous.json(), { error: { code: 'UNAUTHORIZED' } })
    const signedIn = await send(token)
    t.equal(signedIn.status, 400, `…and the same body is invalid with one`)
  }
  const badQuery = await fetch(`${s.url}/api/conversations?limit=many`)
  t.equal(badQuery.status, 401, 'an invalid query string too')
})
