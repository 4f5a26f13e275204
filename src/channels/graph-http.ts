// Meta's Graph API over fetch: the transport both Graph channels (WhatsApp's Cloud API,
// Messenger's Send API) speak. Pure transport: no database, no retries (the outbox
// decides), no logging — a token never leaves this module except in the Authorization
// header. What each channel calls, and what its answers mean, is in its own folder
// (whatsapp/graph-client.ts, messenger/graph-client.ts).
//
// Failures are sorted by what they mean for a retry. The send APIs have no idempotency
// key, so the one question that matters is "could Meta have accepted it?":
//   meta       Meta answered with its error envelope: key on `code` (W-ERRORS).
//   not_sent   the request never reached Meta (refused, DNS): safe to retry.
//   ambiguous  the request went out and no answer came (reset, timeout): Meta may
//              have accepted it; resending could deliver it twice.
//   http       an answer that is not Meta's (a proxy's 502 page).
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export type GraphErrorKind = 'meta' | 'not_sent' | 'ambiguous' | 'http'

export class GraphError extends Error {
  constructor(
    readonly kind: GraphErrorKind,
    message: string,
    readonly code: number | null = null,
    readonly httpStatus: number | null = null,
    /** Meta's title, without its "(#code) " prefix. */
    readonly title: string | null = null,
    /** Meta's error_data.details. */
    readonly details: string | null = null,
  ) {
    super(message)
    this.name = 'GraphError'
  }
}

export interface SendResult {
  /** The provider's id of the sent message (a wamid, a Messenger mid). */
  wamid: string
  waId: string | null
  /** Only for a WhatsApp template being paced: accepted | held_for_quality_assessment | paused. */
  messageStatus: string | null
}

export interface Downloaded {
  size: number
  sha256Hex: string
  sha256Base64: string
  contentType: string | null
}

export interface GraphHttpOptions {
  /**
   * Per token: the sandbox's number talks to the emulator in this process (its address
   * is known only after listen) while every other channel talks to Meta.
   */
  baseUrl: (token: string) => string
  timeoutMs: number
  fetch?: typeof fetch
}

// Socket errors that happen before a request is written: nothing reached Meta.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])

export type Obj = Record<string, unknown>
export const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null)
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

export class GraphHttp {
  private readonly fetch: typeof fetch

  constructor(private readonly opts: GraphHttpOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch
  }

  url(path: string, token: string): string {
    return `${this.opts.baseUrl(token)}/${path.replace(/^\/+/, '')}`
  }

  /** A JSON call: Meta's answer, or a GraphError saying what the failure means. */
  call(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<Obj> {
    return this.callUrl(method, this.url(path, token), token, body)
  }

  async callUrl(method: 'GET' | 'POST', url: string, token: string, body?: unknown): Promise<Obj> {
    const res = await this.request(method, url, token, body === undefined ? undefined : JSON.stringify(body))
    const json = await readJson(res)
    if (res.ok && json) return json
    if (json && isObj(json.error)) throw metaError(res.status, json)
    // A 2xx that is not JSON, or an error page from something in between.
    throw new GraphError(res.ok ? 'ambiguous' : 'http', `Unexpected answer: HTTP ${res.status}`, null, res.status)
  }

  /** A multipart upload: the status and Meta's JSON (if any); each channel reads its own answer. */
  async upload(path: string, token: string, form: FormData): Promise<{ ok: boolean; status: number; json: Obj | undefined }> {
    const res = await this.request('POST', this.url(path, token), token, form)
    return { ok: res.ok, status: res.status, json: await readJson(res) }
  }

  /**
   * Streams the bytes behind a media URL (the Bearer token is mandatory) into `dest`,
   * refusing more than `maxBytes`. Removes `dest` on failure.
   */
  async download(url: string, token: string, dest: string, maxBytes: number): Promise<Downloaded> {
    const res = await this.request('GET', url, token)
    if (!res.ok) throw await errorFrom(res)
    const declared = Number(res.headers.get('content-length'))
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel()
      throw new GraphError('http', `Media is ${declared} bytes, over the ${maxBytes} byte limit`)
    }
    if (!res.body) throw new GraphError('http', 'Media answer without a body')
    const hash = createHash('sha256')
    let size = 0
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length
        if (size > maxBytes) return cb(new GraphError('http', `Media is over the ${maxBytes} byte limit`))
        hash.update(chunk)
        cb(null, chunk)
      },
    })
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        meter,
        createWriteStream(dest, { mode: 0o600 }),
      )
    } catch (err) {
      await rm(dest, { force: true })
      throw err instanceof GraphError ? err : new GraphError('not_sent', `Media download broke: ${(err as Error).message}`)
    }
    const digest = hash.digest()
    return {
      size,
      sha256Hex: digest.toString('hex'),
      sha256Base64: digest.toString('base64'),
      contentType: res.headers.get('content-type'),
    }
  }

  private async request(method: string, url: string, token: string, body?: string | FormData): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (typeof body === 'string') headers['content-type'] = 'application/json'
    try {
      return await this.fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.opts.timeoutMs) })
    } catch (err) {
      throw networkError(err)
    }
  }
}

async function readJson(res: Response): Promise<Obj | undefined> {
  let text: string
  try {
    text = await res.text()
  } catch (err) {
    // The status line arrived but the body broke off: the outcome is unknown.
    throw new GraphError('ambiguous', `Answer broke off: ${(err as Error).message}`, null, res.status)
  }
  try {
    const v = JSON.parse(text) as unknown
    return isObj(v) ? v : undefined
  } catch {
    return undefined
  }
}

async function errorFrom(res: Response): Promise<GraphError> {
  const json = await readJson(res)
  return json && isObj(json.error) ? metaError(res.status, json) : new GraphError('http', `HTTP ${res.status}`, null, res.status)
}

export function metaError(httpStatus: number, json: Obj): GraphError {
  const e = isObj(json.error) ? json.error : {}
  const code = typeof e.code === 'number' ? e.code : Number(e.code)
  const message = typeof e.message === 'string' ? e.message : 'Graph API error'
  const details = isObj(e.error_data) && typeof e.error_data.details === 'string' ? e.error_data.details : null
  // Meta's message reads "(#131047) Re-engagement message"; the title is the part after the code.
  const title = message.replace(/^\(#\d+\)\s*/, '')
  return new GraphError('meta', message, Number.isFinite(code) ? code : null, httpStatus, title, details)
}

function networkError(err: unknown): GraphError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; name?: string; message?: string } }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new GraphError('ambiguous', 'No answer before the timeout')
  }
  const code = e?.cause?.code
  if (code && NOT_SENT_CODES.has(code)) return new GraphError('not_sent', `Could not connect (${code})`)
  // Refused by fetch itself before any connection (a port browsers block, a bad URL).
  if (e?.cause?.message === 'bad port' || code === 'ERR_INVALID_URL') return new GraphError('not_sent', 'Invalid Graph API URL')
  return new GraphError('ambiguous', `Connection broke${code ? ` (${code})` : ''}: ${e?.message ?? 'unknown'}`)
}

// Meta's codes that say "not now" rather than "not this token": ask again later.
// 1/2 unknown/temporary, 4/17/32/613 call-rate limits, 80007 WABA rate limit, 130429 throughput.
const TRANSIENT_CHECK_CODES = new Set([1, 2, 4, 17, 32, 613, 80007, 130429])

/**
 * A failed credentials check, in words an admin can act on; `rejected` words the two
 * codes that mean "this token" (190) and "this id" (100) in the channel's own terms.
 */
export function credentialsVerdictOf(err: unknown, rejected: { 190: string; 100: string }): { status: 'rejected' | null; detail: string } {
  if (!(err instanceof GraphError)) throw err
  if (err.kind !== 'meta') return { status: null, detail: `Meta could not be reached (${err.message}).` }
  const code = err.code ?? 0
  if (TRANSIENT_CHECK_CODES.has(code)) return { status: null, detail: `Meta asked to try later (${code}).` }
  if (code === 190 || code === 100) return { status: 'rejected', detail: rejected[code] }
  return { status: 'rejected', detail: `Meta refused the credentials (${code}): ${err.title ?? err.message}` }
}
