// The Meta sandbox: a Graph API emulator and the simulated customers behind it.
// It answers like the Cloud API (success bodies with wamids, Meta's error envelope with
// real codes), enforces the 24-hour window the way Meta does (the send is accepted, a
// `failed` status with 131047 follows) and the number's throughput (130429), and sends
// signed status webhooks back through Parley's real webhook route.
// Fault injection (configuration or the control API): transient errors, latency,
// duplicate and out-of-order statuses, accept-then-drop-the-connection, and holding
// a send unanswered (the crash test's "Meta has it, Parley never heard back").
import { createHash, randomBytes } from 'node:crypto'
import { EmulatorState, type SimCustomer, type SimMedia, type SimMessage, type SimStatus } from './emulator-state.ts'
import { WebhookSender } from './emulator-webhooks.ts'
import { placeholders, renderTemplate, SANDBOX_TEMPLATES } from './emulator-templates.ts'

export const GRAPH_VERSION = 'v23.0'
/** Meta's customer-service window. */
const WINDOW_MS = 24 * 3600_000
// A media URL lives 5 minutes (W-MEDIA).
const MEDIA_URL_TTL_MS = 5 * 60_000
const TEXT_MAX = 4096
const CALLBACK_MAX = 512

export interface EmulatorNumber {
  phoneNumberId: string
  displayPhoneNumber: string
  wabaId: string
  accessToken: string
  /** The business name Meta shows for the number (GET /{phone-number-id}). */
  verifiedName?: string
}

export type ScriptStep = { error: number; httpStatus?: number } | { drop: true } | { hold: true } | { ok: true }

export interface Faults {
  /** Share of sends answered with `errorCode` (a transient error by default). */
  errorRate: number
  errorCode: number
  latencyMs: number
  /** Share of status webhooks delivered twice. */
  duplicateRate: number
  /** Deliver each message's automatic statuses in reverse order. */
  outOfOrder: boolean
  /** Share of sends accepted and then answered by dropping the connection. */
  dropRate: number
  /** Keep every send unanswered (accepted) until released. */
  holdSends: boolean
  /** Queue webhooks instead of delivering them (Parley is "down"). */
  pauseWebhooks: boolean
  /** Answers for the next sends, in order, before any random fault. */
  script: ScriptStep[]
}

export const NO_FAULTS: Faults = {
  errorRate: 0,
  errorCode: 131000,
  latencyMs: 0,
  duplicateRate: 0,
  outOfOrder: false,
  dropRate: 0,
  holdSends: false,
  pauseWebhooks: false,
  script: [],
}

export interface EmulatorConfig {
  numbers: EmulatorNumber[]
  appSecret: string
  webhookUrl?: string
  /** Persist the sandbox here; in memory when absent (tests). */
  stateDir?: string
  statusDelays: { sentMs: number; deliveredMs: number; readMs: number }
  ratePerSecond: number
  faults?: Partial<Faults>
  webhookRetry?: { baseMs: number; capMs: number }
  webhookTimeoutMs?: number
  now?: () => number
  random?: () => number
}

/** Meta's error envelope (W-ERRORS). */
export class MetaError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    readonly title: string,
    readonly details?: string,
    readonly subcode?: number,
  ) {
    super(title)
  }

  body() {
    return {
      error: {
        message: this.code === 190 ? this.title : `(#${this.code}) ${this.title}`,
        type: 'OAuthException',
        code: this.code,
        ...(this.details ? { error_data: { messaging_product: 'whatsapp', details: this.details } } : {}),
        ...(this.subcode ? { error_subcode: this.subcode } : {}),
        fbtrace_id: 'A' + randomBytes(11).toString('base64url'),
      },
    }
  }
}

// Titles and details as Meta words them, for the codes the emulator produces.
const META_ERRORS: Record<number, { http: number; title: string; details: string; subcode?: number }> = {
  1: { http: 500, title: 'An unknown error occurred', details: 'An unknown error occurred.' },
  2: { http: 503, title: 'Service temporarily unavailable', details: 'Service temporarily unavailable.' },
  100: { http: 400, title: 'Invalid parameter', details: 'Invalid parameter.' },
  131000: { http: 500, title: 'Something went wrong', details: 'Message failed to send due to an unknown error.' },
  131009: { http: 400, title: 'Parameter value is not valid', details: 'One or more parameter values are invalid.' },
  131026: { http: 400, title: 'Message undeliverable', details: 'Unable to deliver message.' },
  131047: {
    http: 400,
    title: 'Re-engagement message',
    details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  131053: { http: 400, title: 'Media upload error', details: 'Unable to upload the media used in the message.' },
  131057: { http: 503, title: 'Account in maintenance mode', details: 'Business Account is in maintenance mode.' },
  130429: {
    http: 429,
    title: 'Rate limit hit',
    details: 'Cloud API message throughput has been reached.',
    subcode: 2494055,
  },
  132000: {
    http: 400,
    title: 'Number of parameters does not match the expected number of params',
    details: 'body: number of localizable_params (1) does not match the expected number of params (3)',
  },
  132001: {
    http: 404,
    title: 'Template name does not exist in the translation',
    details: 'template name does not exist in the translation',
  },
  190: { http: 401, title: 'Invalid OAuth access token - Cannot parse access token', details: '' },
  368: { http: 403, title: 'Temporarily blocked for policies violations', details: 'The account is restricted.' },
}

export function metaError(code: number, details?: string): MetaError {
  const e = META_ERRORS[code] ?? { http: 400, title: `Error ${code}`, details: '' }
  return new MetaError(e.http, code, e.title, details ?? (e.details || undefined), e.subcode)
}

export type SendOutcome =
  | { kind: 'reply'; status: number; json: unknown }
  | { kind: 'drop' }
  | { kind: 'hold'; released: Promise<void>; json: unknown }

export interface CustomerInput {
  type: 'text' | 'image' | 'document' | 'reaction' | 'button' | 'interactive' | 'location'
  text?: string
  caption?: string
  /** Quote a business message (a reply), or the message a button belongs to. */
  contextId?: string
  /** image/document bytes, base64. */
  data?: string
  mimeType?: string
  filename?: string
  reaction?: { messageId: string; emoji: string }
  button?: { text: string; payload?: string; id?: string }
  location?: { latitude: number; longitude: number; name?: string; address?: string }
  /**
   * When the customer wrote it (ms), if earlier than now: a message Meta delivers late
   * carries its own old timestamp, and both Meta and Parley count the 24-hour window
   * from the customer's newest message. The simulator's "wrote 25 h ago" uses it.
   */
  timestamp?: number
}

export interface EmulatorStats {
  sendRequests: number
  accepted: number
  rejected: Record<string, number>
  dropped: number
  held: number
  /** Send requests received per phone number per second (Unix seconds). */
  requestsPerSecond: Record<string, Record<string, number>>
  markReads: number
  uploads: number
  webhooksDelivered: number
  webhookAttemptsFailed: number
  webhooksPending: number
  /** Status webhooks still waiting for their moment. */
  statusesScheduled: number
}

interface ScheduledStatus {
  at: number
  messageId: string
  status: Exclude<SimStatus, 'accepted'>
  error?: { code: number; title: string; details: string }
}

/** A status a recipient behaviour asks for (when, which, and Meta's error for a failure). */
export type PlayedStatus = Omit<ScheduledStatus, 'messageId'>

/**
 * Plays recipients the simulator does not script itself — a campaign's audience (issue 7,
 * emulator-campaign.ts): which statuses an accepted message gets, and what the
 * recipient does after each one (read, reply).
 */
export interface RecipientBehaviour {
  /** Statuses for this accepted message, or undefined for the emulator's usual rules. */
  statusesFor(
    m: SimMessage,
    customer: SimCustomer | undefined,
    at: number,
    delays: EmulatorConfig['statusDelays'],
  ): PlayedStatus[] | undefined
  /** After a status webhook for the message was queued. */
  afterStatus?(m: SimMessage, status: string): void
}

type Listener = (change: { customer: string }) => void

export class Emulator {
  readonly state: EmulatorState
  readonly webhooks: WebhookSender
  faults: Faults
  recipients: RecipientBehaviour | undefined
  private webhookUrl: string | undefined
  private readonly now: () => number
  private readonly random: () => number
  private readonly numbers: Map<string, EmulatorNumber>
  private readonly tokens: Map<string, EmulatorNumber>
  private scheduled: ScheduledStatus[] = []
  private statusTimer: NodeJS.Timeout | undefined
  private statusTimerAt = Infinity
  private held = new Set<() => void>()
  private listeners = new Set<Listener>()
  private readonly counters = {
    sendRequests: 0,
    accepted: 0,
    rejected: {} as Record<string, number>,
    dropped: 0,
    held: 0,
    perSecond: {} as Record<string, Record<string, number>>,
    markReads: 0,
    uploads: 0,
  }

  constructor(readonly config: EmulatorConfig) {
    this.now = config.now ?? Date.now
    this.random = config.random ?? Math.random
    this.numbers = new Map(config.numbers.map((n) => [n.phoneNumberId, n]))
    this.tokens = new Map(config.numbers.map((n) => [n.accessToken, n]))
    this.faults = { ...NO_FAULTS, ...config.faults, script: [...(config.faults?.script ?? [])] }
    this.webhookUrl = config.webhookUrl
    this.state = new EmulatorState(config.stateDir)
    this.webhooks = new WebhookSender(this.state, {
      appSecret: config.appSecret,
      url: () => this.webhookUrl,
      retryBaseMs: config.webhookRetry?.baseMs ?? 500,
      retryCapMs: config.webhookRetry?.capMs ?? 30_000,
      timeoutMs: config.webhookTimeoutMs ?? 10_000,
      now: this.now,
    })
    this.webhooks.paused = this.faults.pauseWebhooks
  }

  setWebhookUrl(url: string): void {
    this.webhookUrl = url
    this.webhooks.schedule()
  }

  start(): void {
    this.webhooks.start()
  }

  stop(): void {
    clearTimeout(this.statusTimer)
    this.webhooks.stop()
    this.release()
    this.state.save()
  }

  setFaults(patch: Partial<Faults>): Faults {
    this.faults = { ...this.faults, ...patch, script: patch.script ? [...patch.script] : this.faults.script }
    if (patch.pauseWebhooks === false) this.webhooks.resume()
    else if (patch.pauseWebhooks === true) this.webhooks.paused = true
    if (patch.holdSends === false) this.release()
    return this.faults
  }

  /** Answers every held send (their messages were accepted when they arrived). */
  release(): number {
    const n = this.held.size
    for (const r of [...this.held]) r()
    this.held.clear()
    return n
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  private notify(customer: string): void {
    this.state.changed()
    for (const l of this.listeners) l({ customer })
  }

  stats(): EmulatorStats {
    const c = this.counters
    return {
      sendRequests: c.sendRequests,
      accepted: c.accepted,
      rejected: { ...c.rejected },
      dropped: c.dropped,
      held: c.held,
      requestsPerSecond: JSON.parse(JSON.stringify(c.perSecond)) as Record<string, Record<string, number>>,
      markReads: c.markReads,
      uploads: c.uploads,
      webhooksDelivered: this.webhooks.delivered,
      webhookAttemptsFailed: this.webhooks.failedAttempts,
      webhooksPending: this.webhooks.pending(),
      statusesScheduled: this.scheduled.length,
    }
  }

  // ---- Graph API side ------------------------------------------------------------

  /** Bearer token → the number it belongs to; `objectId` must be that number or its WABA. */
  authorize(authorization: string | undefined, objectId?: string): EmulatorNumber {
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim()
    const num = token ? this.tokens.get(token) : undefined
    if (!num) throw metaError(190)
    if (objectId !== undefined && objectId !== num.phoneNumberId && objectId !== num.wabaId) {
      throw new MetaError(
        400,
        100,
        `Unsupported post request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
        undefined,
        33,
      )
    }
    return num
  }

  /**
   * GET /{phone-number-id}?fields=display_phone_number,verified_name: who the number is,
   * for the number's own token only (190 for a bad token, 100 for another object).
   */
  numberInfo(authorization: string | undefined, phoneNumberId: string): Record<string, string> {
    const num = this.authorize(authorization, phoneNumberId)
    if (phoneNumberId !== num.phoneNumberId) throw metaError(100, 'The fields asked for belong to a phone number id')
    return {
      verified_name: num.verifiedName ?? 'Parley Sandbox',
      display_phone_number: `+${num.displayPhoneNumber}`,
      id: num.phoneNumberId,
    }
  }

  async send(num: EmulatorNumber, body: Record<string, unknown>): Promise<SendOutcome> {
    const c = this.counters
    c.sendRequests += 1
    const sec = String(Math.floor(this.now() / 1000))
    const perNumber = (c.perSecond[num.phoneNumberId] ??= {})
    perNumber[sec] = (perNumber[sec] ?? 0) + 1
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs)

    const step = this.faults.script.shift()
    if (step && 'error' in step) return this.reject(metaError(step.error), step.httpStatus)
    if (!step && this.faults.errorRate > 0 && this.random() < this.faults.errorRate) {
      return this.reject(metaError(this.faults.errorCode))
    }
    // Throughput: accepted sends of this number in this second (W-THROUGHPUT).
    const acceptedThisSecond = this.acceptedIn(num.phoneNumberId, sec)
    if (acceptedThisSecond >= this.config.ratePerSecond) return this.reject(metaError(130429))

    let accepted: { json: unknown }
    try {
      accepted = this.accept(num, body, sec)
    } catch (err) {
      if (err instanceof MetaError) return this.reject(err)
      throw err
    }
    if ((step && 'drop' in step) || (!step && this.faults.dropRate > 0 && this.random() < this.faults.dropRate)) {
      c.dropped += 1
      return { kind: 'drop' }
    }
    if ((step && 'hold' in step) || this.faults.holdSends) {
      c.held += 1
      let release!: () => void
      const released = new Promise<void>((r) => (release = r))
      this.held.add(release)
      return { kind: 'hold', released, json: accepted.json }
    }
    return { kind: 'reply', status: 200, json: accepted.json }
  }

  private acceptedPerSecond = new Map<string, { sec: string; n: number }>()
  private acceptedIn(phoneNumberId: string, sec: string): number {
    const a = this.acceptedPerSecond.get(phoneNumberId)
    return a && a.sec === sec ? a.n : 0
  }

  private reject(err: MetaError, httpStatus?: number): SendOutcome {
    this.counters.rejected[err.code] = (this.counters.rejected[err.code] ?? 0) + 1
    return { kind: 'reply', status: httpStatus ?? err.httpStatus, json: err.body() }
  }

  /** Validates like Meta, records the message, schedules its statuses. */
  private accept(num: EmulatorNumber, body: Record<string, unknown>, sec: string): { json: unknown } {
    if (body.messaging_product !== 'whatsapp') throw metaError(100, 'The parameter messaging_product is required.')
    const toRaw = typeof body.to === 'string' ? body.to : ''
    const to = toRaw.replace(/[\s+()-]/g, '')
    if (!/^\d{6,20}$/.test(to)) throw metaError(100, 'The parameter to is required.')
    const type = typeof body.type === 'string' ? body.type : 'text'
    const part = (body[type] ?? {}) as Record<string, unknown>
    const cb = typeof body.biz_opaque_callback_data === 'string' ? body.biz_opaque_callback_data : null
    if (cb && cb.length > CALLBACK_MAX)
      throw metaError(100, `Param biz_opaque_callback_data must be at most ${CALLBACK_MAX} characters long.`)
    const ctx = body.context as { message_id?: unknown } | undefined
    const m: SimMessage = {
      id: wamid(to),
      direction: 'out',
      phoneNumberId: num.phoneNumberId,
      customer: to,
      type,
      text: null,
      media: null,
      contextId: typeof ctx?.message_id === 'string' ? ctx.message_id : null,
      reaction: null,
      extra: null,
      timestamp: this.now(),
      status: 'accepted',
      error: null,
      callbackData: cb,
      readByBusiness: false,
    }
    switch (type) {
      case 'text': {
        if (typeof part.body !== 'string' || part.body === '') throw metaError(100, "The parameter text['body'] is required.")
        if (part.body.length > TEXT_MAX) throw metaError(100, `Param text['body'] must be at most ${TEXT_MAX} characters long.`)
        m.text = part.body
        break
      }
      case 'image':
      case 'document':
      case 'video':
      case 'audio':
      case 'sticker': {
        const id = typeof part.id === 'string' ? part.id : null
        const media = id ? this.state.media.get(id) : undefined
        if (id && !media) throw metaError(131009, `Parameter value is not valid: media id ${id}`)
        if (!id && typeof part.link !== 'string') throw metaError(100, `The parameter ${type}['id'] or ${type}['link'] is required.`)
        // Audio and stickers have no caption on WhatsApp; the sandbox refuses one, so a client sending it is caught here.
        if ((type === 'audio' || type === 'sticker') && part.caption !== undefined)
          throw metaError(100, `Param ${type}['caption'] is not a valid parameter.`)
        m.text = typeof part.caption === 'string' ? part.caption : null
        m.media = media
          ? { id: media.id, mimeType: media.mimeType, filename: typeof part.filename === 'string' ? part.filename : media.filename }
          : null
        break
      }
      case 'reaction': {
        if (typeof part.message_id !== 'string') throw metaError(100, "The parameter reaction['message_id'] is required.")
        m.reaction = { messageId: part.message_id, emoji: typeof part.emoji === 'string' ? part.emoji : '' }
        m.text = m.reaction.emoji || null
        break
      }
      case 'template': {
        const name = typeof part.name === 'string' ? part.name : ''
        const language = (part.language as { code?: unknown } | undefined)?.code
        const t = SANDBOX_TEMPLATES.find((x) => x.name === name && x.language === language && x.status === 'APPROVED')
        if (!t) throw metaError(132001, `template name (${name}) does not exist in ${String(language)}`)
        m.text = this.renderSentTemplate(t, part)
        m.extra = {
          template: { name, language },
          buttons: ((t.components.find((c) => c.type === 'BUTTONS')?.buttons as { text: string }[] | undefined) ?? []).map((b) => b.text),
        }
        break
      }
      case 'interactive': {
        const i = part as { body?: { text?: unknown }; action?: { buttons?: { reply?: { id?: string; title?: string } }[] } }
        m.text = typeof i.body?.text === 'string' ? i.body.text : null
        m.extra = { buttons: (i.action?.buttons ?? []).map((b) => b.reply?.title ?? '').filter(Boolean) }
        break
      }
      default:
        throw metaError(100, `Param type must be one of text, image, document, audio, video, sticker, reaction, template, interactive.`)
    }
    // Counted as throughput only once accepted.
    const a = this.acceptedPerSecond.get(num.phoneNumberId)
    if (a && a.sec === sec) a.n += 1
    else this.acceptedPerSecond.set(num.phoneNumberId, { sec, n: 1 })
    this.counters.accepted += 1
    this.state.addMessage(m)
    this.scheduleStatusesFor(num, m)
    this.notify(to)
    return {
      json: { messaging_product: 'whatsapp', contacts: [{ input: toRaw, wa_id: to }], messages: [{ id: m.id }] },
    }
  }

  private renderSentTemplate(t: (typeof SANDBOX_TEMPLATES)[number], part: Record<string, unknown>): string {
    const given = Array.isArray(part.components) ? (part.components as { type?: string; parameters?: unknown[] }[]) : []
    const out: string[] = []
    for (const comp of t.components) {
      const type = String(comp.type).toLowerCase()
      if (type !== 'header' && type !== 'body' && type !== 'footer') continue
      const text = typeof comp.text === 'string' ? comp.text : ''
      const names = placeholders(text)
      const params = (given.find((g) => String(g.type).toLowerCase() === type)?.parameters ?? []) as {
        text?: string
        parameter_name?: string
      }[]
      if (params.length !== names.length) {
        throw metaError(
          132000,
          `${type}: number of localizable_params (${params.length}) does not match the expected number of params (${names.length})`,
        )
      }
      const values: Record<string, string> = {}
      names.forEach((n, i) => {
        const p = t.parameter_format === 'NAMED' ? params.find((x) => x.parameter_name === n) : params[i]
        if (!p || typeof p.text !== 'string') throw metaError(132000, `${type}: parameter ${n} is missing`)
        values[n] = p.text
      })
      if (text) out.push(renderTemplate(text, values))
    }
    return out.join('\n')
  }

  markRead(num: EmulatorNumber, body: Record<string, unknown>): { success: true } {
    const id = typeof body.message_id === 'string' ? body.message_id : ''
    const target = this.state.byId.get(id)
    if (!target || target.direction !== 'in' || target.phoneNumberId !== num.phoneNumberId) {
      throw metaError(100, `Invalid parameter: message_id ${id}`)
    }
    this.counters.markReads += 1
    // Marks this message and every earlier one in the thread (W-READ).
    for (const m of this.state.messages) {
      if (m.direction === 'in' && m.customer === target.customer && m.timestamp <= target.timestamp) m.readByBusiness = true
    }
    this.notify(target.customer)
    return { success: true }
  }

  templates(wabaId: string, limit: number, after: string | undefined, selfUrl: string): unknown {
    const all = SANDBOX_TEMPLATES.map((t) => ({ ...t }))
    const start = after ? Number(Buffer.from(after, 'base64url').toString()) || 0 : 0
    const page = all.slice(start, start + limit)
    const end = start + page.length
    const cursor = (n: number) => Buffer.from(String(n)).toString('base64url')
    return {
      data: page,
      paging: {
        cursors: { before: cursor(start), after: cursor(end) },
        ...(end < all.length ? { next: `${selfUrl}/${wabaId}/message_templates?limit=${limit}&after=${cursor(end)}` } : {}),
      },
    }
  }

  upload(num: EmulatorNumber, file: { bytes: Buffer; mimeType: string; filename: string | null }, product: unknown): { id: string } {
    if (product !== 'whatsapp') throw metaError(100, 'The parameter messaging_product is required.')
    const allowed: Record<string, number> = {
      'image/jpeg': 5 << 20,
      'image/png': 5 << 20,
      'image/webp': 500 << 10,
      // Audio (Ogg only with Opus; the sandbox takes the name) and video (H.264 + AAC): 16 MB.
      'audio/aac': 16 << 20,
      'audio/amr': 16 << 20,
      'audio/mpeg': 16 << 20,
      'audio/mp4': 16 << 20,
      'audio/ogg': 16 << 20,
      'video/mp4': 16 << 20,
      'video/3gpp': 16 << 20,
      'video/3gp': 16 << 20,
      'application/pdf': 100 << 20,
      'text/plain': 100 << 20,
    }
    const max = allowed[file.mimeType] ?? (file.mimeType.startsWith('application/') ? 100 << 20 : 0)
    if (max === 0 || file.bytes.length === 0 || file.bytes.length > max) {
      throw metaError(131053, `Unsupported media type or size: ${file.mimeType}, ${file.bytes.length} bytes`)
    }
    this.counters.uploads += 1
    return { id: this.storeMedia(file).id }
  }

  storeMedia(file: { bytes: Buffer; mimeType: string; filename: string | null }): SimMedia {
    const meta: SimMedia = {
      id: mediaId(),
      mimeType: file.mimeType,
      filename: file.filename,
      sha256: createHash('sha256').update(file.bytes).digest('base64'),
      size: file.bytes.length,
      createdAt: this.now(),
    }
    this.state.putMedia(meta, file.bytes)
    return meta
  }

  /** GET /{media-id}: a short-lived URL (Bearer still required to fetch it). */
  mediaInfo(id: string, downloadBase: string): unknown {
    const m = this.state.media.get(id)
    if (!m) throw metaError(100, `Unsupported get request. Object with ID '${id}' does not exist`)
    const exp = this.now() + MEDIA_URL_TTL_MS
    return {
      messaging_product: 'whatsapp',
      url: `${downloadBase}/${encodeURIComponent(id)}?ext=${exp}&hash=${randomBytes(6).toString('base64url')}`,
      mime_type: m.mimeType,
      sha256: m.sha256,
      file_size: m.size,
      id,
    }
  }

  /** The bytes behind a media URL; expired URLs answer 404 like Meta's. */
  mediaBytes(id: string, ext: number): { meta: SimMedia; bytes: Buffer } | undefined {
    if (!Number.isFinite(ext) || ext < this.now()) return undefined
    const meta = this.state.media.get(id)
    const bytes = meta && this.state.mediaData(id)
    return meta && bytes ? { meta, bytes } : undefined
  }

  // ---- statuses ------------------------------------------------------------------

  private scheduleStatusesFor(num: EmulatorNumber, m: SimMessage): void {
    const d = this.config.statusDelays
    const t0 = this.now()
    const customer = this.state.customers.get(m.customer)
    const played = this.recipients?.statusesFor(m, customer, t0, d)
    if (played) {
      this.scheduleStatuses(played.map((p) => ({ ...p, messageId: m.id })))
      return
    }
    const steps: ScheduledStatus[] = []
    const freeForm = m.type !== 'template'
    const windowOpen = customer?.lastInboundAt != null && t0 - customer.lastInboundAt < WINDOW_MS
    if (!customer) {
      steps.push({ at: t0 + d.sentMs, messageId: m.id, status: 'failed', error: errorOf(131026) })
    } else if (freeForm && !windowOpen) {
      // What Meta does in practice: 200 with a wamid, then a failed status (OBS-131047).
      steps.push({ at: t0 + d.sentMs, messageId: m.id, status: 'failed', error: errorOf(131047) })
    } else if (m.reaction && !this.state.byId.has(m.reaction.messageId)) {
      steps.push({ at: t0 + d.sentMs, messageId: m.id, status: 'failed', error: errorOf(131009) })
    } else if (m.reaction) {
      // A reaction gets only `sent` (W-SEND-REACTION).
      steps.push({ at: t0 + d.sentMs, messageId: m.id, status: 'sent' })
    } else {
      steps.push({ at: t0 + d.sentMs, messageId: m.id, status: 'sent' })
      steps.push({ at: t0 + Math.max(d.sentMs, d.deliveredMs), messageId: m.id, status: 'delivered' })
      if (d.readMs > 0) steps.push({ at: t0 + Math.max(d.deliveredMs, d.readMs), messageId: m.id, status: 'read' })
    }
    if (this.faults.outOfOrder && steps.length > 1) {
      // Same statuses, same timestamps in the payload, delivered last-first.
      const times = steps.map((s) => s.at).reverse()
      for (const [i, s] of steps.entries()) s.at = times[i]! + i
    }
    void num
    this.scheduleStatuses(steps)
  }

  /** Adds statuses; the timer moves only when one of them is due before it (a campaign adds thousands). */
  private scheduleStatuses(steps: ScheduledStatus[]): void {
    let earliest = Infinity
    for (const st of steps) {
      this.scheduled.push(st)
      if (st.at < earliest) earliest = st.at
    }
    // Due already (a zero delay): out at once, as before any timer.
    if (earliest <= this.now()) this.pumpStatuses()
    else if (earliest < this.statusTimerAt) this.armStatusTimer(earliest)
  }

  private armStatusTimer(at: number): void {
    clearTimeout(this.statusTimer)
    this.statusTimerAt = at
    this.statusTimer = setTimeout(
      () => {
        this.statusTimerAt = Infinity
        this.pumpStatuses()
      },
      Math.max(0, at - this.now()),
    )
    this.statusTimer.unref()
  }

  private pumpStatuses(): void {
    const now = this.now()
    const due: ScheduledStatus[] = []
    const later: ScheduledStatus[] = []
    let next = Infinity
    for (const st of this.scheduled) {
      if (st.at <= now) due.push(st)
      else {
        later.push(st)
        if (st.at < next) next = st.at
      }
    }
    this.scheduled = later
    due.sort((a, b) => a.at - b.at)
    for (const st of due) this.emitStatus(st)
    // Emitting may have scheduled earlier ones (and armed the timer for them).
    if (next < this.statusTimerAt) this.armStatusTimer(next)
  }

  private emitStatus(s: ScheduledStatus): void {
    const m = this.state.byId.get(s.messageId)
    if (!m) return
    // The simulated phone's own view only moves forward; the webhook goes out regardless
    // (Meta's are not ordered either).
    if (rank(s.status) > rank(m.status ?? 'accepted') && m.status !== 'failed') {
      m.status = s.status
      if (s.error) m.error = { code: s.error.code, title: s.error.title }
    }
    this.sendStatuses([{ m, status: s.status, error: s.error }])
    this.notify(m.customer)
    this.recipients?.afterStatus?.(m, s.status)
  }

  private sendStatuses(items: { m: SimMessage; status: string; error?: { code: number; title: string; details: string } }[]): void {
    if (items.length === 0) return
    const num = this.numbers.get(items[0]!.m.phoneNumberId)
    if (!num) return
    const statuses = items.map(({ m, status, error }) => ({
      id: m.id,
      status,
      timestamp: String(Math.floor(this.now() / 1000)),
      recipient_id: m.customer,
      ...(m.callbackData ? { biz_opaque_callback_data: m.callbackData } : {}),
      ...(status === 'sent' && m.type !== 'reaction'
        ? {
            pricing: {
              billable: true,
              pricing_model: 'PMP',
              category: m.type === 'template' ? 'utility' : 'service',
              type: m.type === 'template' ? 'regular' : 'free_customer_service',
            },
          }
        : {}),
      ...(error
        ? {
            errors: [
              {
                code: error.code,
                title: error.title,
                message: error.title,
                error_data: { details: error.details },
                href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
              },
            ],
          }
        : {}),
    }))
    const payload = envelope(num, { statuses })
    const label = items.map((i) => `${i.status} ${i.m.id.slice(-8)}`).join(', ')
    this.webhooks.enqueue(payload, label)
    if (this.faults.duplicateRate > 0 && this.random() < this.faults.duplicateRate) this.webhooks.enqueue(payload, label + ' (duplicate)')
  }

  // ---- customer side -------------------------------------------------------------

  createCustomer(input: { name: string; phone?: string }): SimCustomer {
    let phone = (input.phone ?? '').replace(/[\s+()-]/g, '')
    if (phone && !/^\d{6,20}$/.test(phone)) throw new Error('A phone number is 6 to 20 digits')
    if (!phone) {
      do phone = '1555' + String(Math.floor(this.random() * 1e7)).padStart(7, '0')
      while (this.state.customers.has(phone))
    }
    const existing = this.state.customers.get(phone)
    if (existing) {
      if (input.name && input.name !== existing.name) existing.name = input.name
      this.notify(phone)
      return existing
    }
    const c: SimCustomer = {
      phone,
      name: input.name || `Customer ${this.state.customers.size + 1}`,
      createdAt: this.now(),
      lastInboundAt: null,
    }
    this.state.customers.set(phone, c)
    this.notify(phone)
    return c
  }

  customer(phone: string): SimCustomer | undefined {
    return this.state.customers.get(phone)
  }

  /** Test and demo hook: move the customer's last message in time (open or close the window). */
  setLastInbound(phone: string, at: number | null): SimCustomer | undefined {
    const c = this.state.customers.get(phone)
    if (!c) return undefined
    c.lastInboundAt = at
    this.notify(phone)
    return c
  }

  conversation(phone: string): SimMessage[] {
    // In the order written: a message dated earlier (a late delivery) takes its place.
    return this.state.messages.filter((m) => m.customer === phone).sort((a, b) => a.timestamp - b.timestamp)
  }

  /** The customer writes: a signed webhook to Parley. Resolves after the first delivery attempt. */
  async customerSend(phone: string, input: CustomerInput, phoneNumberId?: string): Promise<{ message: SimMessage; delivered: boolean }> {
    const c = this.state.customers.get(phone)
    if (!c) throw new Error('No such customer')
    const num = phoneNumberId ? this.numbers.get(phoneNumberId) : this.config.numbers[0]
    if (!num) throw new Error('No such business number')
    const now = Math.min(input.timestamp ?? this.now(), this.now())
    const m: SimMessage = {
      id: wamid(phone),
      direction: 'in',
      phoneNumberId: num.phoneNumberId,
      customer: phone,
      type: input.type,
      text: null,
      media: null,
      contextId: input.contextId ?? null,
      reaction: null,
      extra: null,
      timestamp: now,
      status: null,
      error: null,
      callbackData: null,
      readByBusiness: false,
    }
    const wire: Record<string, unknown> = { from: phone, id: m.id, timestamp: String(Math.floor(now / 1000)), type: input.type }
    const context = input.contextId ? { from: num.displayPhoneNumber, id: input.contextId } : undefined
    switch (input.type) {
      case 'text': {
        if (!input.text) throw new Error('text is required')
        m.text = input.text
        wire.text = { body: input.text }
        break
      }
      case 'image':
      case 'document': {
        if (!input.data || !input.mimeType) throw new Error('data (base64) and mimeType are required')
        const bytes = Buffer.from(input.data, 'base64')
        const media = this.storeMedia({ bytes, mimeType: input.mimeType, filename: input.filename ?? null })
        m.media = { id: media.id, mimeType: media.mimeType, filename: media.filename }
        m.text = input.caption ?? null
        wire[input.type] = {
          ...(input.caption ? { caption: input.caption } : {}),
          ...(input.type === 'document' ? { filename: input.filename ?? 'document' } : {}),
          mime_type: media.mimeType,
          sha256: media.sha256,
          id: media.id,
        }
        break
      }
      case 'reaction': {
        if (!input.reaction) throw new Error('reaction is required')
        m.reaction = input.reaction
        m.text = input.reaction.emoji || null
        // Removing a reaction is a reaction without an emoji (W-REACTION).
        wire.reaction = { message_id: input.reaction.messageId, ...(input.reaction.emoji ? { emoji: input.reaction.emoji } : {}) }
        break
      }
      case 'button': {
        if (!input.button || !input.contextId) throw new Error('button and contextId are required')
        m.text = input.button.text
        m.extra = { payload: input.button.payload ?? input.button.text }
        wire.button = { payload: input.button.payload ?? input.button.text, text: input.button.text }
        break
      }
      case 'interactive': {
        if (!input.button || !input.contextId) throw new Error('button and contextId are required')
        m.text = input.button.text
        wire.interactive = { type: 'button_reply', button_reply: { id: input.button.id ?? input.button.text, title: input.button.text } }
        break
      }
      case 'location': {
        const l = input.location
        if (!l) throw new Error('location is required')
        m.text = [l.name, l.address].filter(Boolean).join(', ') || null
        wire.location = l
        break
      }
      default:
        throw new Error(`Unsupported type ${String(input.type)}`)
    }
    if (context) wire.context = context
    // Every message the customer sends opens (or renews) the 24-hour window, counted from
    // the newest one: a late message dated earlier does not move it back.
    if (c.lastInboundAt === null || now > c.lastInboundAt) c.lastInboundAt = now
    this.state.addMessage(m)
    this.notify(phone)
    const payload = envelope(num, { contacts: [{ profile: { name: c.name }, wa_id: phone }], messages: [wire] })
    const delivered = await this.webhooks.enqueueAndWait(payload, `${input.type} from ${phone}`)
    return { message: m, delivered }
  }

  /** The customer opened the chat: everything delivered (or sent) becomes read, in one webhook. */
  customerRead(phone: string): number {
    const items = this.state.messages.filter(
      (m) => m.direction === 'out' && m.customer === phone && (m.status === 'sent' || m.status === 'delivered') && m.type !== 'reaction',
    )
    for (const m of items) m.status = 'read'
    // Grouped per business number: one POST, several statuses (Meta batches too).
    const byNumber = new Map<string, SimMessage[]>()
    for (const m of items) byNumber.set(m.phoneNumberId, [...(byNumber.get(m.phoneNumberId) ?? []), m])
    for (const group of byNumber.values()) this.sendStatuses(group.map((m) => ({ m, status: 'read' })))
    if (items.length) this.notify(phone)
    return items.length
  }
}

const RANK: Record<SimStatus, number> = { accepted: 0, sent: 1, delivered: 2, read: 3, failed: 4 }
function rank(s: SimStatus): number {
  return RANK[s]
}

function errorOf(code: number): { code: number; title: string; details: string } {
  const e = META_ERRORS[code]!
  return { code, title: e.title, details: e.details }
}

function envelope(num: EmulatorNumber, value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: num.wabaId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: num.displayPhoneNumber, phone_number_id: num.phoneNumberId },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  }
}

/** Audio and video types a page's <audio>/<video> plays passively; the emulator's file routes keep their name. */
export const PLAYABLE = /^(audio|video)\/[a-z0-9.+-]+$/

/** wamid.HBgL<base64 of the number and random bytes>, the shape Meta's ids have. */
function wamid(phone: string): string {
  return (
    'wamid.HBgL' +
    Buffer.concat([Buffer.from(phone), randomBytes(18)])
      .toString('base64')
      .replace(/=+$/, '') +
    'AA=='
  )
}

/** Meta's media ids are 15–16 digit numbers. */
function mediaId(): string {
  return '1' + Array.from(randomBytes(15), (b) => b % 10).join('')
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
