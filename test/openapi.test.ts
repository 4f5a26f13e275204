// Issue 16: the OpenAPI document covers every public route. The routes are collected as
// the app registers them (an onRoute hook on the very Fastify instance buildApp makes,
// reached through Fastify's `fastify.initialization` diagnostics channel), so a route
// added later without thought shows up here: each /api/*, /webhooks/* and /stream route
// must be in the document with its methods, unless it is listed below with a reason.
// Which routes the document calls public is checked against the server: every other
// one answers 401 without credentials.
import diagnostics from 'node:diagnostics_channel'
import t from 'tap'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { ADMIN, APP_SECRET, VERIFY_TOKEN, startServer, type TestLike, type TestServer } from './helpers/server.ts'
import { launchBrowser, watchPage } from './helpers/browser.ts'

/** Routes deliberately left out of the document, by pattern, and why. */
const NOT_DOCUMENTED: Array<{ pattern: RegExp; why: string }> = [
  { pattern: /^\/api\/sandbox(\/|$)/, why: 'the sandbox simulator: sandbox mode only, a tool for trying Parley, not an API' },
  { pattern: /^\/api\/docs(\/|$)/, why: 'the documentation page itself and its static files' },
]
/** What must be described: the API, the webhooks, the stream, the metrics (health is /api/health). */
const PUBLIC_SURFACE = /^\/(api|webhooks|stream|metrics)(\/|$)/
/** Operations with a credential of their own (not a person's session), not probed for 401. */
const OWN_CREDENTIAL: Record<string, unknown[]> = { 'get /metrics': [{ metricsToken: [] }] }

interface Operation {
  security?: unknown[]
  tags?: string[]
  parameters?: Array<{ in: string; name: string; schema?: { type?: string } }>
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }
}
type Doc = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  security: unknown[]
  components: { securitySchemes: Record<string, Record<string, string>> }
}

/** Starts Parley (sandbox mode: its routes exist too) and records every route its Fastify registers. */
async function startRecording(t: TestLike) {
  const seen = new Map<FastifyInstance, RouteOptions[]>()
  const onInit = (msg: unknown) => {
    const fastify = (msg as { fastify: FastifyInstance }).fastify
    const list: RouteOptions[] = []
    seen.set(fastify, list)
    fastify.addHook('onRoute', (route) => void list.push(route))
  }
  diagnostics.subscribe('fastify.initialization', onInit)
  let s: TestServer
  try {
    // The sandbox's routes are listed (and deliberately left out of the document): SQLite's only.
    s = await startServer(t, { sqlite: true })
  } finally {
    diagnostics.unsubscribe('fastify.initialization', onInit)
  }
  const routes = seen.get(s.app)
  if (!routes) throw new Error('the app was not seen')
  return { s, routes }
}
const toOpenApi = (url: string) => url.replace(/:(\w+)/g, '{$1}')

t.test('every public route is in /api/openapi.json with its methods; the public ones are really public', async (t) => {
  const { s, routes } = await startRecording(t)
  const res = await fetch(`${s.url}/api/openapi.json`)
  t.equal(res.status, 200, 'served without a session')
  t.match(res.headers.get('content-type'), /application\/json/)
  const text = await res.text()
  const doc = JSON.parse(text) as Doc
  t.match(doc.openapi, /^3\./, 'OpenAPI 3')

  const required = new Map<string, Set<string>>()
  const skipped = new Set<string>()
  for (const route of routes) {
    if (!PUBLIC_SURFACE.test(route.url)) continue
    if (NOT_DOCUMENTED.some((e) => e.pattern.test(route.url))) {
      skipped.add(route.url)
      continue
    }
    // HEAD is Fastify's automatic twin of every GET (exposeHeadRoutes): the GET stands for both.
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD')
    const url = toOpenApi(route.url)
    for (const m of methods) (required.get(url) ?? required.set(url, new Set()).get(url)!).add(m.toLowerCase())
  }
  t.ok(required.size > 50, `${required.size} routes to describe`)
  t.ok(
    required.has('/api/health') && required.has('/stream') && required.has('/webhooks/whatsapp'),
    'health, stream, webhooks are among them',
  )
  t.ok(
    [...skipped].some((u) => u.startsWith('/api/sandbox/')),
    'the sandbox routes exist in this run (so leaving them out is deliberate)',
  )

  const missing: string[] = []
  for (const [url, methods] of required) {
    for (const m of methods) if (!doc.paths[url]?.[m]) missing.push(`${m.toUpperCase()} ${url}`)
  }
  t.same(missing, [], 'no route missing from the document')
  const extra = Object.keys(doc.paths).filter((p) => !required.has(p))
  t.same(extra, [], 'nothing else described (no pages, assets, sandbox)')

  // Security: bearer (session JWT or API token) and the cookie, required unless the route is public.
  t.same(doc.components.securitySchemes.bearer, {
    type: 'http',
    scheme: 'bearer',
    description: doc.components.securitySchemes.bearer!.description,
  })
  t.match(doc.components.securitySchemes.cookie, { type: 'apiKey', in: 'cookie', name: 'parley_session' })
  t.same(doc.security, [{ bearer: [] }, { cookie: [] }], 'both schemes by default')

  const publicOps: string[] = []
  const wrong: string[] = []
  for (const [url, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      // Valid OpenAPI: every {param} of the path is declared.
      for (const [, name] of url.matchAll(/\{(\w+)\}/g)) {
        if (!op.parameters?.some((p) => p.in === 'path' && p.name === name)) wrong.push(`${method} ${url}: {${name}} undeclared`)
      }
      if (!op.tags?.length) wrong.push(`${method} ${url}: no tag`)
      const own = OWN_CREDENTIAL[`${method} ${url}`]
      if (own || op.security?.length) {
        if (JSON.stringify(op.security) !== JSON.stringify(own)) wrong.push(`${method} ${url}: security ${JSON.stringify(op.security)}`)
        continue
      }
      const isPublic = Array.isArray(op.security) && op.security.length === 0
      if (isPublic) publicOps.push(`${method.toUpperCase()} ${url}`)
      // Asked without credentials: a protected route answers 401 UNAUTHORIZED, a public one never does.
      const path = url.replace(/\{\w+\}/g, '1')
      const answer = await fetch(`${s.url}${path}`, { method: method.toUpperCase() })
      const body = answer.headers.get('content-type')?.includes('json') ? ((await answer.json()) as { error?: { code?: string } }) : null
      if (!answer.body?.locked) await answer.body?.cancel()
      const refused = answer.status === 401 && body?.error?.code === 'UNAUTHORIZED'
      if (isPublic && refused) wrong.push(`${method} ${url}: documented public, answers 401`)
      if (!isPublic && !refused) wrong.push(`${method} ${url}: documented as needing a session, answers ${answer.status}`)
    }
  }
  t.same(wrong, [], 'every operation is well formed and its security says the truth')
  t.same(
    publicOps.sort(),
    [
      'GET /api/health',
      'GET /api/invitations/{token}',
      'GET /api/openapi.json',
      'GET /api/setup',
      'GET /webhooks/messenger',
      'GET /webhooks/whatsapp',
      'POST /api/auth/login',
      'POST /api/invitations/accept',
      'POST /api/invitations/check',
      'POST /api/password-reset',
      'POST /api/password-reset/check',
      'POST /api/password-reset/request',
      'POST /api/setup',
      'POST /webhooks/messenger',
      'POST /webhooks/whatsapp',
    ].sort(),
    'the public routes, and only those',
  )

  // The TypeBox schemas are rendered: bodies, path parameters with their types.
  const login = doc.paths['/api/auth/login']!.post!
  t.match(Object.keys(login.requestBody!.content['application/json']!.schema.properties!), ['email', 'password'], 'a login body')
  const conv = doc.paths['/api/conversations/{id}']!.get!
  t.match(conv.parameters, [{ in: 'path', name: 'id', schema: { type: 'integer' } }], 'an integer path parameter')

  // No secret of the configuration in it.
  const { token } = await s.login()
  for (const secret of [APP_SECRET, VERIFY_TOKEN, ADMIN.password, s.config.jwtSecret, token]) {
    t.notOk(text.includes(secret), 'no secret in the document')
  }
})

t.test('/api/docs renders the document in Chromium, within the CSP, with files from the package', async (t) => {
  const s = await startServer(t)
  const html = await fetch(`${s.url}/api/docs`)
  t.equal(html.status, 200)
  t.match(html.headers.get('content-type'), /text\/html/)
  t.match(html.headers.get('content-security-policy'), /script-src 'self'/, "the app's CSP applies")
  const page = await html.text()
  t.notMatch(page, /https?:\/\//, 'no file from elsewhere (no CDN)')

  const browser = await launchBrowser(t)
  const tab = await browser.newPage()
  watchPage(t, tab, 'docs')
  const outside: string[] = []
  tab.on('request', (r) => void (r.url().startsWith(s.url) || r.url().startsWith('data:') || outside.push(r.url())))
  await tab.goto(`${s.url}/api/docs`)
  await tab.getByText('Parley API', { exact: false }).first().waitFor({ timeout: 30_000 })
  await tab.locator('.opblock-summary-path', { hasText: '/api/conversations/{id}/messages' }).first().waitFor({ timeout: 30_000 })
  t.ok((await tab.locator('.opblock').count()) > 50, 'the operations are listed')
  t.same(outside, [], 'nothing fetched from another host')
})
