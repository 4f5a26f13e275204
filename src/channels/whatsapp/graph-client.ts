// The WhatsApp Cloud API over fetch: send, mark as read, templates, media.
// Pure transport: no database, no retries (the outbox decides), no logging — a token
// never leaves this module except in the Authorization header.
//
// Failures are sorted by what they mean for a retry. The send API has no idempotency
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
  wamid: string
  waId: string | null
  /** Only for a template being paced: accepted | held_for_quality_assessment | paused. */
  messageStatus: string | null
}

export interface GraphTemplateComponent {
  type: string
  format?: string
  text?: string
  buttons?: unknown[]
  example?: unknown
  [k: string]: unknown
}

export interface GraphTemplate {
  id?: string
  name: string
  language: string
  status: string
  category?: string
  parameter_format?: string
  components: GraphTemplateComponent[]
}

export interface MediaInfo {
  url: string
  mimeType: string | null
  sha256: string | null
  fileSize: number | null
}

export interface Downloaded {
  size: number
  sha256Hex: string
  sha256Base64: string
  contentType: string | null
}

export interface GraphClientOptions {
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

// Templates come in pages; a WABA has at most a few hundred, so this bounds a bad paging loop.
const MAX_TEMPLATE_PAGES = 20

type Obj = Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null)
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

export class GraphClient {
  private readonly fetch: typeof fetch

  constructor(private readonly opts: GraphClientOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch
  }

  url(path: string, token: string): string {
    return `${this.opts.baseUrl(token)}/${path.replace(/^\/+/, '')}`
  }

  async sendMessage(phoneNumberId: string, token: string, body: Record<string, unknown>): Promise<SendResult> {
    const json = await this.call('POST', `${encodeURIComponent(phoneNumberId)}/messages`, token, body)
    const msg = Array.isArray(json.messages) && isObj(json.messages[0]) ? json.messages[0] : undefined
    const contact = Array.isArray(json.contacts) && isObj(json.contacts[0]) ? json.contacts[0] : undefined
    if (!msg || typeof msg.id !== 'string') {
      // A 200 without a message id: Meta took the request, the outcome is not known.
      throw new GraphError('ambiguous', 'Send answered 200 without a message id')
    }
    return {
      wamid: msg.id,
      waId: contact && typeof contact.wa_id === 'string' ? contact.wa_id : null,
      messageStatus: typeof msg.message_status === 'string' ? msg.message_status : null,
    }
  }

  /** Messenger's Send API: POST /{page-id}/messages → { recipient_id, message_id } (M-SEND). */
  async sendPageMessage(pageId: string, token: string, body: Record<string, unknown>): Promise<SendResult> {
    const json = await this.call('POST', `${encodeURIComponent(pageId)}/messages`, token, body)
    if (typeof json.message_id !== 'string') throw new GraphError('ambiguous', 'Send answered 200 without a message id')
    return { wamid: json.message_id, waId: typeof json.recipient_id === 'string' ? json.recipient_id : null, messageStatus: null }
  }

  /**
   * Messenger's User Profile API: GET /{psid}?fields=first_name,last_name with the Page
   * token. Only the name is asked for: it is all Parley shows (no avatar is stored).
   */
  async userProfile(psid: string, token: string): Promise<{ firstName: string | null; lastName: string | null }> {
    const json = await this.call('GET', `${encodeURIComponent(psid)}?fields=first_name,last_name`, token)
    const s = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null)
    return { firstName: s(json.first_name), lastName: s(json.last_name) }
  }

  /**
   * Who a WhatsApp number is, as Meta knows it: GET /{phone-number-id}?fields=… with the
   * number's token. Settings checks saved credentials with it (190: the token; 100: the id).
   */
  async phoneNumberInfo(
    phoneNumberId: string,
    token: string,
  ): Promise<{ id: string; displayPhoneNumber: string | null; verifiedName: string | null }> {
    const json = await this.call('GET', `${encodeURIComponent(phoneNumberId)}?fields=display_phone_number,verified_name`, token)
    return { id: str(json.id) ?? phoneNumberId, displayPhoneNumber: str(json.display_phone_number), verifiedName: str(json.verified_name) }
  }

  /** Who a Page token belongs to: GET /me?fields=id,name answers the Page itself. */
  async me(token: string): Promise<{ id: string | null; name: string | null }> {
    const json = await this.call('GET', 'me?fields=id,name', token)
    return { id: str(json.id), name: str(json.name) }
  }

  /** Marks the message (and earlier ones in the thread) read: blue ticks on the customer's phone. */
  async markRead(phoneNumberId: string, token: string, wamid: string): Promise<void> {
    await this.call('POST', `${encodeURIComponent(phoneNumberId)}/messages`, token, {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: wamid,
    })
  }

  async listTemplates(wabaId: string, token: string): Promise<GraphTemplate[]> {
    const out: GraphTemplate[] = []
    let next: string | null = this.url(
      `${encodeURIComponent(wabaId)}/message_templates?limit=100&fields=id,name,language,status,category,components,parameter_format`,
      token,
    )
    for (let page = 0; next && page < MAX_TEMPLATE_PAGES; page++) {
      const json = await this.callUrl('GET', next, token)
      for (const t of Array.isArray(json.data) ? json.data : []) {
        if (isObj(t) && typeof t.name === 'string' && typeof t.language === 'string') {
          out.push({
            ...(t as unknown as GraphTemplate),
            status: typeof t.status === 'string' ? t.status : 'UNKNOWN',
            components: Array.isArray(t.components) ? (t.components.filter(isObj) as GraphTemplateComponent[]) : [],
          })
        }
      }
      const paging = isObj(json.paging) ? json.paging : undefined
      next = paging && typeof paging.next === 'string' ? paging.next : null
    }
    return out
  }

  async mediaInfo(mediaId: string, token: string, phoneNumberId?: string): Promise<MediaInfo> {
    const q = phoneNumberId ? `?phone_number_id=${encodeURIComponent(phoneNumberId)}` : ''
    const json = await this.call('GET', `${encodeURIComponent(mediaId)}${q}`, token)
    if (typeof json.url !== 'string') throw new GraphError('http', 'Media info without a URL')
    return {
      url: json.url,
      mimeType: typeof json.mime_type === 'string' ? json.mime_type : null,
      sha256: typeof json.sha256 === 'string' ? json.sha256 : null,
      fileSize: typeof json.file_size === 'number' ? json.file_size : Number(json.file_size) || null,
    }
  }

  /**
   * Streams the bytes behind a media URL (valid 5 minutes; the Bearer token is
   * mandatory) into `dest`, refusing more than `maxBytes`. Removes `dest` on failure.
   */
  async downloadMedia(url: string, token: string, dest: string, maxBytes: number): Promise<Downloaded> {
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

  /** Uploads a file for sending; the id is valid for 30 days. */
  async uploadMedia(phoneNumberId: string, token: string, file: { bytes: Buffer; mimeType: string; filename: string }): Promise<string> {
    const form = new FormData()
    form.set('messaging_product', 'whatsapp')
    form.set('type', file.mimeType)
    form.set('file', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename)
    const res = await this.request('POST', this.url(`${encodeURIComponent(phoneNumberId)}/media`, token), token, form)
    const json = await readJson(res)
    if (!res.ok || !json) throw json ? metaError(res.status, json) : new GraphError('http', `HTTP ${res.status}`, null, res.status)
    if (typeof json.id !== 'string') throw new GraphError('http', 'Upload answered without a media id')
    return json.id
  }

  /**
   * Messenger's Attachment Upload API: POST /{page-id}/message_attachments as multipart,
   * `message` = {attachment: {type, payload: {is_reusable: true}}} and the bytes in
   * `filedata` → {attachment_id}. Reusable so a send retried later reuses the id instead
   * of uploading again; ids live 90 days and belong to the Page.
   */
  async uploadPageAttachment(
    pageId: string,
    token: string,
    file: { bytes: Buffer; mimeType: string; filename: string; type: 'image' | 'file' | 'audio' | 'video' },
  ): Promise<string> {
    const form = new FormData()
    form.set('message', JSON.stringify({ attachment: { type: file.type, payload: { is_reusable: true } } }))
    form.set('filedata', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename)
    const res = await this.request('POST', this.url(`${encodeURIComponent(pageId)}/message_attachments`, token), token, form)
    const json = await readJson(res)
    if (!res.ok || !json)
      throw json && isObj(json.error) ? metaError(res.status, json) : new GraphError('http', `HTTP ${res.status}`, null, res.status)
    const id =
      typeof json.attachment_id === 'string'
        ? json.attachment_id
        : typeof json.attachment_id === 'number'
          ? String(json.attachment_id)
          : null
    if (!id) throw new GraphError('http', 'Attachment upload answered without an attachment_id')
    return id
  }

  private call(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<Obj> {
    return this.callUrl(method, this.url(path, token), token, body)
  }

  private async callUrl(method: 'GET' | 'POST', url: string, token: string, body?: unknown): Promise<Obj> {
    const res = await this.request(method, url, token, body === undefined ? undefined : JSON.stringify(body))
    const json = await readJson(res)
    if (res.ok && json) return json
    if (json && isObj(json.error)) throw metaError(res.status, json)
    // A 2xx that is not JSON, or an error page from something in between.
    throw new GraphError(res.ok ? 'ambiguous' : 'http', `Unexpected answer: HTTP ${res.status}`, null, res.status)
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

function metaError(httpStatus: number, json: Obj): GraphError {
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
