// Issue 16: the API described by its own route schemas. @fastify/swagger collects every
// route as it is registered (so it is registered before them, in app.ts) and renders
// the TypeBox schemas the routes validate with; the document is served at
// GET /api/openapi.json and read at /api/docs (Swagger UI, its files from the npm
// package — no CDN, so the app's CSP of 'self' holds).
//
// Both are public: the document lists routes and their shapes, nothing of a workspace
// (Parley is open source, and a script or an API client's generator can fetch it
// without a session). Tokens, secrets and examples of them never appear in it.
//
// What is described: /api/*, /webhooks/*, /stream and /metrics. Not described: the browser
// app's pages and assets, and the sandbox's emulator and simulator (sandbox mode only,
// a tool for trying Parley, not an API to build on).
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { SESSION_COOKIE } from './auth.ts'

export const OPENAPI_PATH = '/api/openapi.json'
export const DOCS_PATH = '/api/docs'

/** Routes any caller may use without a session (the rest need the bearer token or the cookie). */
const PUBLIC = [
  /^\/api\/health$/,
  /^\/api\/auth\/login$/,
  // First run only: creates the admin while no user exists, then answers 403.
  /^\/api\/setup$/,
  /^\/api\/password-reset(\/|$)/,
  /^\/api\/invitations(\/|$)/,
  /^\/webhooks\//,
  /^\/api\/openapi\.json$/,
]

/** What the document describes: the API, the webhooks and the stream — not pages, assets or the sandbox. */
const DESCRIBED = /^\/(api|webhooks|stream|metrics)(\/|$)/
const UNDESCRIBED = /^\/api\/(sandbox|docs)(\/|$)/

export const isPublicRoute = (url: string) => PUBLIC.some((re) => re.test(url))
export const isDescribedRoute = (url: string) => DESCRIBED.test(url) && !UNDESCRIBED.test(url)

/** A route without a params schema still names its path parameters (strings), as OpenAPI requires. */
function pathParams(url: string): Record<string, unknown> | undefined {
  const names = [...url.matchAll(/:(\w+)/g)].map((m) => m[1]!)
  if (names.length === 0) return undefined
  return {
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])),
    required: names,
  }
}

/** Routes with their own credential (not a person's session), by path. */
const OWN_SECURITY: Record<string, Array<Record<string, string[]>>> = {
  // Prometheus scrapes with METRICS_TOKEN; without it set the route answers 404.
  '/metrics': [{ metricsToken: [] }],
}

/** A tag per area, from the path: /api/conversations/:id/notes → conversations. */
function tagOf(url: string): string {
  if (url === '/metrics') return 'operations'
  if (url.startsWith('/webhooks/')) return 'webhooks'
  if (url === '/stream') return 'stream'
  const first = url.split('/')[2] ?? 'api'
  if (first === 'auth' || first === 'me' || first === 'password-reset' || first === 'invitations') return 'accounts'
  return first
}

/** Short words for routes whose path does not say enough on its own. */
const SUMMARIES: Record<string, string> = {
  'GET /api/health': 'Whether this process can take webhooks (no session needed)',
  'POST /api/auth/login': 'Sign in: answers a bearer token and sets the session cookie',
  'POST /api/auth/logout': 'End this session (and its streams)',
  'GET /api/me': 'The signed-in person',
  'GET /stream': 'Server-Sent Events: every change in the workspace this person may see; resumes from Last-Event-ID',
  'GET /webhooks/whatsapp': "Meta's verification handshake (hub.verify_token, hub.challenge)",
  'POST /webhooks/whatsapp': 'WhatsApp Cloud API webhook, signed with X-Hub-Signature-256',
  'GET /webhooks/messenger': "Meta's verification handshake (hub.verify_token, hub.challenge)",
  'POST /webhooks/messenger': 'Messenger Platform webhook, signed with X-Hub-Signature-256',
  'GET /api/openapi.json': 'This document',
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Parley API',
        version: '1',
        description:
          'The API the Parley inbox uses. Send `Authorization: Bearer <token>` — the token from ' +
          '`POST /api/auth/login` or a personal API token — or, from a browser, the session cookie. ' +
          'Errors answer `{"error": {"code", "message"}}`. Live changes arrive on `GET /stream` (Server-Sent Events).',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'A session token (JWT from POST /api/auth/login) or a personal API token',
          },
          cookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: "The browser's session cookie" },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for GET /metrics only' },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
    },
    transform: ({ schema, url, route }) => {
      if (!isDescribedRoute(url)) return { schema: { ...schema, hide: true }, url }
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const summary = SUMMARIES[`${methods[0]} ${url}`]
      return {
        url,
        schema: {
          ...schema,
          params: schema?.params ?? pathParams(url),
          tags: schema?.tags ?? [tagOf(url)],
          ...(summary && !schema?.summary ? { summary } : {}),
          ...(isPublicRoute(url) ? { security: [] } : OWN_SECURITY[url] ? { security: OWN_SECURITY[url] } : {}),
        },
      }
    },
  })
}

export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  // Built once, at the first request (after ready, when every route is known).
  let document: string | undefined
  app.get(OPENAPI_PATH, async (_req, reply) => {
    document ??= JSON.stringify(app.swagger())
    return reply.type('application/json; charset=utf-8').send(document)
  })
  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    uiConfig: { docExpansion: 'list', defaultModelsExpandDepth: 0 },
    theme: { title: 'Parley API' },
  })
}
