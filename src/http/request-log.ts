// What the log says about requests (issue 11, points 14 and 18). At the default level
// an operator sees what matters — each webhook's answer, 5xx, slow requests, start and
// stop — and LOG_LEVEL=debug adds a line for every other request (246 info lines in ten
// minutes of light use before). The event stream is never "completed": stream.ts hands
// its response to the hub, so a stream's life is not logged as a slow request.
//
// No secret reaches a line: headers are not logged at all, and query parameters whose
// name says token, secret, password, signature or key (Meta's `hub.verify_token`) are
// replaced before the URL is written.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

const SECRET_PARAM = /token|secret|password|signature|key/i

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

// GET /api/invitations/:token (issue 13) carries an invitation token in its path.
const TOKEN_PATH = /^\/api\/invitations\/(?!check\b|accept\b)[^/?]+/

/** The URL with the values of secret-looking query parameters (and path tokens) replaced. */
export function redactUrl(raw: string): string {
  const url = raw.replace(TOKEN_PATH, '/api/invitations/[redacted]')
  const q = url.indexOf('?')
  if (q < 0) return url
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const name = eq < 0 ? pair : pair.slice(0, eq)
      return eq >= 0 && SECRET_PARAM.test(decode(name)) ? `${name}=[redacted]` : pair
    })
    .join('&')
  return `${url.slice(0, q)}?${query}`
}

// Also (issue 16): a field by one of these names, logged by hand at the top
// of a line or one object down ({body: {password}}), is written as [Redacted].
const SECRET_FIELDS = [
  'password',
  'token',
  'accessToken',
  'appSecret',
  'verifyToken',
  'secret',
  'totp',
  'recoveryCode',
  'authorization',
  'cookie',
]
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'req.headers["x-hub-signature-256"]',
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
]

/** pino's `req` serializer: what Fastify or a handler logs of a request, without headers or secrets. */
export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }
}

/**
 * Fastify's own request lines, by Parley's rule: nothing when a request comes in; when
 * it is answered, warn for 5xx and slow ones, info for webhooks, debug for the rest.
 */
export class RequestLogController extends LogController {
  constructor(private readonly slowMs: number) {
    super()
  }

  // The completion line says everything the incoming one did.
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const ms = Math.round(reply.elapsedTime)
    const statusCode = reply.statusCode
    const line = { method: req.method, url: redactUrl(req.url), statusCode, ms }
    if (error) return reply.log.error({ ...line, err: error }, 'request errored')
    const slow = ms >= this.slowMs
    const webhook = req.url.startsWith('/webhooks/')
    // A route's own logLevel (health checks: warn) still applies through reply.log.
    const level = statusCode >= 500 || slow ? 'warn' : webhook ? 'info' : 'debug'
    reply.log[level](line, slow ? 'slow request' : webhook ? 'webhook answered' : 'request completed')
  }

  override routeNotFound(req: FastifyRequest): void {
    req.log.debug({ method: req.method, url: redactUrl(req.url) }, 'route not found')
  }
}
