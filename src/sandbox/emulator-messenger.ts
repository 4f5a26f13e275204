// The Messenger side of the Meta sandbox: a Send API emulator for sandbox Pages and the
// simulated Messenger users (PSIDs) behind them.
//   Send API   POST /{page-id}/messages with the Page token → {recipient_id, message_id}
//              or Meta's error envelope: outside the 24-hour window without the
//              HUMAN_AGENT tag, or beyond 7 days → 400 code 10 / subcode 2018278 (as
//              observed, meta-platform-facts.md §4); a bad token → 190. A message is
//              text or an attachment by `attachment_id` (public URLs are not fetched).
//   Uploads    POST /{page-id}/message_attachments (the Attachment Upload API), multipart
//              `message` + `filedata` with the Page token → {attachment_id}, up to 25 MB;
//              the bytes are kept (with their sha256) for the player and for tests.
//              Both answer scripted Meta errors first when a test asks (sendFaults).
//   Webhooks   signed and escaped exactly like the WhatsApp side (emulator-webhooks.ts),
//              POSTed to Parley's real /webhooks/messenger: the echo of every accepted send
//              (is_echo, the metadata, the mid), then a delivery watermark (sometimes
//              without `mids`, as Meta does), then a read watermark when the user reads.
//   Profiles   GET /{psid}?fields=first_name,last_name with the Page token → the simulated
//              user's name split in two, or Meta's error envelope: 100/33 for a PSID
//              this Page does not know, 190 for a bad token; fault injection makes it
//              refuse (a permission error), fail transiently, or hold the answer.
//   Users      write text, an image, a quick reply, a reply_to a Page message, a reaction
//              or its removal, a postback — each a signed webhook through the real route.
// It shares the WhatsApp emulator's listener, so it is found through that emulator
// (attachMessenger/messengerOf) rather than threaded through every wiring point.
// Its HTTP routes (the CDN, the Send and Upload APIs, the simulator's API) are in
// emulator-messenger-routes.ts.
import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { EmulatorState } from './emulator-state.ts'
import { WebhookSender } from './emulator-webhooks.ts'
import { StateFile } from './state-file.ts'
import { MetaError, metaError, type Emulator } from './emulator.ts'

/** The standard messaging window, and the HUMAN_AGENT tag's (M-POLICY). */
export const WINDOW_MS = 24 * 3600_000
export const HUMAN_AGENT_MS = 7 * 24 * 3600_000
// The Send API's text limit.
const TEXT_MAX = 2000
// A demo sandbox, not an archive.
const MAX_MESSAGES = 5000
const MAX_IMAGES = 100
// Attachments and user images kept in memory for the player: a demo, bounded.
const CDN_MAX_BYTES = 200 * 1024 * 1024
/** Messenger's attachment size limit (saving-assets). */
const ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024
const ATTACHMENT_TYPES = new Set(['image', 'file', 'audio', 'video'])
const METADATA_MAX = 1000
const REQUEST_LOG_MAX = 500

export interface MessengerPage {
  pageId: string
  name: string
  accessToken: string
}

export interface MessengerEmulatorConfig {
  pages: MessengerPage[]
  appSecret: string
  /** Parley's app id, carried by echoes of its own sends. */
  appId?: number
  webhookUrl?: string
  /** Persist users and messages here; in memory when absent (tests). */
  stateDir?: string
  /** deliveredMs: send → delivery watermark; readMs: → read watermark (0: only when the user reads). */
  delays: { deliveredMs: number; readMs: number }
  /** Share of delivery webhooks that carry only the watermark (Meta: `mids` may be absent). */
  noMidsRate: number
  /** Called before the first user is created: the sandbox Page's channel comes into being then. */
  ensurePage?: (page: MessengerPage) => void
  webhookRetry?: { baseMs: number; capMs: number }
  now?: () => number
  random?: () => number
}

export interface MsUser {
  psid: string
  pageId: string
  name: string
  createdAt: number
  /** Opens the 24-hour window (a message or a postback); null: never wrote. */
  lastInboundAt: number | null
}

export type MsStatus = 'sent' | 'delivered' | 'read'

export interface MsMessage {
  mid: string
  /** in: user → Page; out: Page → user. */
  direction: 'in' | 'out'
  pageId: string
  psid: string
  type: 'text' | 'image' | 'file' | 'audio' | 'video' | 'quick_reply' | 'postback' | 'reaction'
  text: string | null
  /** The image the user sent, or the Page's image attachment (served by the emulator's "CDN"). */
  imageId: string | null
  /** The Page's attachment, as uploaded (absent in messages saved before attachments existed). */
  attachment?: MsAttachmentRef | null
  /** reply_to for a reply, the target for a reaction. */
  replyTo: string | null
  reaction: { emoji: string | null; action: 'react' | 'unreact' } | null
  payload: string | null
  timestamp: number
  // Outbound only:
  status: MsStatus | null
  messagingType: string | null
  tag: string | null
  metadata: string | null
}

/** An attachment the Page uploaded (Attachment Upload API) and sent by its id. */
export interface MsAttachmentRef {
  id: string
  type: 'image' | 'file' | 'audio' | 'video'
  mimeType: string
  filename: string | null
  size: number
  /** sha256 of the bytes received, hex: what a test compares with the file it sent. */
  sha256: string
}

interface CdnEntry {
  mimeType: string
  bytes: Buffer
  filename: string | null
}

export interface MsUserInput {
  type: 'text' | 'image' | 'quick_reply' | 'reply' | 'reaction' | 'unreaction' | 'postback'
  text?: string
  /** image bytes, base64, and their type. */
  data?: string
  mimeType?: string
  /** quick reply / postback payload. */
  payload?: string
  /** Postback button title. */
  title?: string
  /** The Page message replied to or reacted to. */
  mid?: string
  emoji?: string
  /** Back-date the message (demo and tests: "wrote three days ago"). */
  timestamp?: number
}

/** Answers for the next profile requests, in order, before `refuseCode` and `hold`. */
export type ProfileStep = { error: number; httpStatus?: number } | { ok: true } | { hold: true }

/** Scripted Meta errors for the next Send API and Attachment Upload API requests (a transient 2, a 190…). */
export interface SendFaults {
  sends: Array<{ error: number; httpStatus?: number }>
  uploads: Array<{ error: number; httpStatus?: number }>
}

export interface ProfileFaults {
  /** Refuse every profile request with this code (230: the app lacks profile access); null: answer. */
  refuseCode: number | null
  /** Keep every profile request unanswered until released (a slow Meta). */
  hold: boolean
  script: ProfileStep[]
}

/** One Graph request to a sandbox Page, as it arrived: where a token would show if it were in the URL. */
export interface GraphRequestRecord {
  at: number
  method: string
  url: string
  bearer: boolean
  status: number | null
}

export type ProfileOutcome =
  | { kind: 'reply'; status: number; json: unknown }
  | { kind: 'hold'; released: Promise<void>; status: number; json: unknown }

export interface MessengerStats {
  sendRequests: number
  /** Attachment Upload API requests, and how many were accepted. */
  attachmentUploads: number
  attachmentsStored: number
  /** User Profile API requests, all and per PSID. */
  profileRequests: number
  profileRequestsByPsid: Record<string, number>
  accepted: number
  rejected: Record<string, number>
  /** Accepted sends per echo metadata: Parley's `parley:<messageId>`. */
  acceptedByMetadata: Record<string, number>
  webhooksDelivered: number
  webhooksPending: number
}

interface Persisted {
  users: MsUser[]
  messages: MsMessage[]
}

type Listener = (change: { psid: string }) => void

export class MessengerEmulator {
  readonly webhooks: WebhookSender
  users = new Map<string, MsUser>()
  messages: MsMessage[] = []
  private byMid = new Map<string, MsMessage>()
  /** User images and Page attachments by id, oldest first (bounded by count and bytes). */
  private cdn = new Map<string, CdnEntry>()
  private cdnBytes = 0
  /** Uploaded attachments by attachment_id: which Page owns each. */
  private uploads = new Map<string, MsAttachmentRef & { pageId: string }>()
  private readonly pages: Map<string, MessengerPage>
  private readonly tokens: Map<string, MessengerPage>
  private readonly now: () => number
  private readonly random: () => number
  private webhookUrl: string | undefined
  private timers = new Set<NodeJS.Timeout>()
  private listeners = new Set<Listener>()
  private readonly stateFile: StateFile<Persisted>
  private pagesEnsured = new Set<string>()
  private counters = {
    sendRequests: 0,
    attachmentUploads: 0,
    attachmentsStored: 0,
    accepted: 0,
    rejected: {} as Record<string, number>,
    byMetadata: {} as Record<string, number>,
    profileRequests: 0,
    profileByPsid: {} as Record<string, number>,
  }
  profileFaults: ProfileFaults = { refuseCode: null, hold: false, script: [] }
  sendFaults: SendFaults = { sends: [], uploads: [] }
  private heldProfiles = new Set<() => void>()
  /** The last Graph requests to sandbox Pages (a test checks no token ever sat in a URL). */
  readonly requestLog: GraphRequestRecord[] = []

  constructor(readonly config: MessengerEmulatorConfig) {
    this.now = config.now ?? Date.now
    this.random = config.random ?? Math.random
    this.pages = new Map(config.pages.map((p) => [p.pageId, p]))
    this.tokens = new Map(config.pages.map((p) => [p.accessToken, p]))
    this.webhookUrl = config.webhookUrl
    // Its own queue (in memory): the WhatsApp sender posts to /webhooks/whatsapp.
    this.webhooks = new WebhookSender(new EmulatorState(), {
      appSecret: config.appSecret,
      url: () => this.webhookUrl,
      retryBaseMs: config.webhookRetry?.baseMs ?? 500,
      retryCapMs: config.webhookRetry?.capMs ?? 30_000,
      timeoutMs: 10_000,
      now: this.now,
    })
    const file = config.stateDir ? path.join(config.stateDir, 'messenger.json') : undefined
    this.stateFile = new StateFile(file, () => ({ users: [...this.users.values()], messages: this.messages }))
    this.load()
  }

  setWebhookUrl(url: string): void {
    this.webhookUrl = url
    this.webhooks.schedule()
  }

  start(): void {
    this.webhooks.start()
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.releaseProfiles()
    this.webhooks.stop()
    this.save()
  }

  hasPage(id: string): boolean {
    return this.pages.has(id)
  }

  get firstPage(): MessengerPage {
    return this.config.pages[0]!
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  private notify(psid: string): void {
    this.changed()
    for (const l of this.listeners) l({ psid })
  }

  stats(): MessengerStats {
    const c = this.counters
    return {
      sendRequests: c.sendRequests,
      attachmentUploads: c.attachmentUploads,
      attachmentsStored: c.attachmentsStored,
      profileRequests: c.profileRequests,
      profileRequestsByPsid: { ...c.profileByPsid },
      accepted: c.accepted,
      rejected: { ...c.rejected },
      acceptedByMetadata: { ...c.byMetadata },
      webhooksDelivered: this.webhooks.delivered,
      webhooksPending: this.webhooks.pending(),
    }
  }

  // ---- Send API -------------------------------------------------------------------

  /** POST /{page-id}/messages (or /me/messages): Meta's answer, status and body. */
  send(
    pageId: string,
    authorization: string | undefined,
    queryToken: string | undefined,
    raw: unknown,
    url = `/${pageId}/messages`,
    /** Where this emulator's "CDN" answers (…/sandbox/graph), for attachment URLs in echoes. */
    cdnBase = '/sandbox/graph',
  ): { status: number; json: unknown } {
    this.counters.sendRequests += 1
    const rec = this.record('POST', url, authorization)
    try {
      const fault = this.sendFaults.sends.shift()
      if (fault) throw scriptedError(fault)
      const out = { status: 200, json: this.accept(pageId, authorization, queryToken, raw, cdnBase) }
      rec.status = 200
      return out
    } catch (err) {
      if (!(err instanceof MetaError)) throw err
      this.counters.rejected[err.code] = (this.counters.rejected[err.code] ?? 0) + 1
      rec.status = err.httpStatus
      return { status: err.httpStatus, json: err.body() }
    }
  }

  /**
   * POST /{page-id}/message_attachments: `message` (JSON: attachment.type and
   * payload.is_reusable) and the bytes in `filedata` → {attachment_id}.
   */
  uploadAttachment(
    pageId: string,
    authorization: string | undefined,
    queryToken: string | undefined,
    form: { message: unknown; file: { bytes: Buffer; mimeType: string; filename: string | null } | undefined },
    url = `/${pageId}/message_attachments`,
  ): { status: number; json: unknown } {
    this.counters.attachmentUploads += 1
    const rec = this.record('POST', url, authorization)
    try {
      const fault = this.sendFaults.uploads.shift()
      if (fault) throw scriptedError(fault)
      const page = this.pageFor(pageId, authorization, queryToken)
      let message: { attachment?: { type?: unknown; payload?: { url?: unknown } } }
      try {
        message = (typeof form.message === 'string' ? JSON.parse(form.message) : form.message) ?? {}
      } catch {
        throw messengerError(100, 'Param message must be a JSON object')
      }
      const type = message.attachment?.type
      if (typeof type !== 'string' || !ATTACHMENT_TYPES.has(type)) {
        throw messengerError(100, 'Param message[attachment][type] must be one of {image, audio, video, file}')
      }
      if (message.attachment?.payload?.url !== undefined)
        throw messengerError(100, 'The sandbox does not fetch URLs: upload the bytes as filedata')
      const file = form.file
      if (!file || file.bytes.length === 0) throw messengerError(100, 'The parameter filedata is required')
      if (file.bytes.length > ATTACHMENT_MAX_BYTES) throw messengerError(100, 'Attachment size exceeds the allowable limit', 2018294)
      if (type === 'image' && !/^image\//.test(file.mimeType))
        throw messengerError(100, 'Upload attachment failure: the file is not an image', 2018047)
      if ((type === 'audio' || type === 'video') && !file.mimeType.startsWith(`${type}/`)) {
        throw messengerError(100, `Upload attachment failure: the file is not ${type === 'audio' ? 'audio' : 'a video'}`, 2018047)
      }
      const ref: MsAttachmentRef & { pageId: string } = {
        pageId: page.pageId,
        id: String(1e15 + Math.floor(this.random() * 9e15)),
        type: type as MsAttachmentRef['type'],
        mimeType: file.mimeType,
        filename: file.filename,
        size: file.bytes.length,
        sha256: createHash('sha256').update(file.bytes).digest('hex'),
      }
      this.uploads.set(ref.id, ref)
      this.putCdn(ref.id, { mimeType: file.mimeType, bytes: file.bytes, filename: file.filename })
      this.counters.attachmentsStored += 1
      rec.status = 200
      return { status: 200, json: { attachment_id: ref.id } }
    } catch (err) {
      if (!(err instanceof MetaError)) throw err
      this.counters.rejected[err.code] = (this.counters.rejected[err.code] ?? 0) + 1
      rec.status = err.httpStatus
      return { status: err.httpStatus, json: err.body() }
    }
  }

  /** Whether this request carries a sandbox Page's token (Bearer, or Meta's ?access_token=). */
  ownsToken(authorization: string | undefined, queryToken: string | undefined): boolean {
    const token = bearerOf(authorization) ?? queryToken
    return token !== undefined && this.tokens.has(token)
  }

  /** GET /me?fields=id,name with a Page token: the Page itself (190 for a bad token). */
  me(authorization: string | undefined, queryToken: string | undefined, url: string): { status: number; json: unknown } {
    const rec = this.record('GET', url, authorization)
    try {
      const page = this.pageFor('me', authorization, queryToken)
      rec.status = 200
      return { status: 200, json: { id: page.pageId, name: page.name } }
    } catch (err) {
      const e = err as MetaError
      rec.status = e.httpStatus
      return { status: e.httpStatus, json: e.body() }
    }
  }

  // ---- User Profile API --------------------------------------------------------------

  /** GET /{psid}?fields=…: the simulated user's name as Meta's first_name/last_name. */
  profile(
    psid: string,
    authorization: string | undefined,
    queryToken: string | undefined,
    fields: string | undefined,
    url: string,
  ): ProfileOutcome {
    const c = this.counters
    c.profileRequests += 1
    c.profileByPsid[psid] = (c.profileByPsid[psid] ?? 0) + 1
    const rec = this.record('GET', url, authorization)
    const reply = (status: number, json: unknown): ProfileOutcome => {
      rec.status = status
      return { kind: 'reply', status, json }
    }
    const token = bearerOf(authorization) ?? queryToken
    const page = token ? this.tokens.get(token) : undefined
    if (!page) return reply(401, metaError(190).body())
    const step = this.profileFaults.script.shift()
    if (step && 'error' in step) {
      const e = profileError(step.error, psid)
      return reply(step.httpStatus ?? e.httpStatus, e.body())
    }
    if (!step && this.profileFaults.refuseCode !== null) {
      const e = profileError(this.profileFaults.refuseCode, psid)
      return reply(e.httpStatus, e.body())
    }
    const user = this.users.get(psid)
    if (!user || user.pageId !== page.pageId) {
      const e = profileError(100, psid)
      return reply(e.httpStatus, e.body())
    }
    // Meta answers the fields asked for (and the id); a simulated user has no picture.
    const wanted = new Set((fields ?? 'first_name,last_name').split(',').map((f) => f.trim()))
    const [first, ...rest] = user.name.trim().split(/\s+/)
    const json: Record<string, unknown> = { id: psid }
    if (wanted.has('first_name')) json.first_name = first ?? ''
    if (wanted.has('last_name')) json.last_name = rest.join(' ')
    if ((step && 'hold' in step) || this.profileFaults.hold) {
      let release!: () => void
      const released = new Promise<void>((r) => (release = r))
      this.heldProfiles.add(release)
      rec.status = 200
      return { kind: 'hold', released, status: 200, json }
    }
    return reply(200, json)
  }

  setSendFaults(patch: Partial<SendFaults>): SendFaults {
    this.sendFaults = { sends: [...(patch.sends ?? this.sendFaults.sends)], uploads: [...(patch.uploads ?? this.sendFaults.uploads)] }
    return this.sendFaults
  }

  setProfileFaults(patch: Partial<ProfileFaults>): ProfileFaults {
    this.profileFaults = { ...this.profileFaults, ...patch, script: patch.script ? [...patch.script] : this.profileFaults.script }
    if (patch.hold === false) this.releaseProfiles()
    return this.profileFaults
  }

  /** Answers every held profile request. */
  releaseProfiles(): number {
    const n = this.heldProfiles.size
    for (const r of [...this.heldProfiles]) r()
    this.heldProfiles.clear()
    return n
  }

  private record(method: string, url: string, authorization: string | undefined): GraphRequestRecord {
    const rec: GraphRequestRecord = { at: this.now(), method, url, bearer: bearerOf(authorization) !== undefined, status: null }
    this.requestLog.push(rec)
    if (this.requestLog.length > REQUEST_LOG_MAX) this.requestLog.splice(0, this.requestLog.length - REQUEST_LOG_MAX)
    return rec
  }

  /** The Page a request's token belongs to, when it may act for `pageId`: 190 or 100/33 otherwise. */
  private pageFor(pageId: string, authorization: string | undefined, queryToken: string | undefined): MessengerPage {
    // The Graph API takes the Page token as a Bearer header or as ?access_token=.
    const token = bearerOf(authorization) ?? queryToken
    const page = token ? this.tokens.get(token) : undefined
    if (!page) throw metaError(190)
    if (pageId !== 'me' && pageId !== page.pageId) {
      throw new MetaError(
        400,
        100,
        `Unsupported post request. Object with ID '${pageId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
        undefined,
        33,
      )
    }
    return page
  }

  private accept(pageId: string, authorization: string | undefined, queryToken: string | undefined, raw: unknown, cdnBase: string) {
    const page = this.pageFor(pageId, authorization, queryToken)
    const body = (raw ?? {}) as Record<string, unknown>
    const psid = (body.recipient as { id?: unknown } | undefined)?.id
    if (typeof psid !== 'string' || psid === '') throw messengerError(100, 'The parameter recipient is required')
    const user = this.users.get(psid)
    if (!user || user.pageId !== page.pageId) throw messengerError(100, 'No matching user found', 2018001)
    const messagingType = body.messaging_type
    if (messagingType !== 'RESPONSE' && messagingType !== 'UPDATE' && messagingType !== 'MESSAGE_TAG') {
      throw messengerError(100, 'Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}')
    }
    const tag = typeof body.tag === 'string' ? body.tag : null
    if (messagingType === 'MESSAGE_TAG' && !tag)
      throw messengerError(100, 'The parameter tag is required when messaging_type is MESSAGE_TAG')
    const message = (body.message ?? {}) as { text?: unknown; metadata?: unknown; attachment?: unknown }
    let attachment: (MsAttachmentRef & { pageId: string }) | null = null
    if (message.attachment !== undefined) {
      if (message.text !== undefined)
        throw messengerError(100, 'Only one of the parameters message[text] and message[attachment] may be set')
      attachment = this.attachmentOf(page, message.attachment)
    } else {
      if (typeof message.text !== 'string' || message.text === '') throw messengerError(100, 'The parameter message[text] is required')
      if (message.text.length > TEXT_MAX) throw messengerError(100, `Param message[text] must be at most ${TEXT_MAX} characters long`)
    }
    if (typeof message.metadata === 'string' && message.metadata.length > METADATA_MAX) {
      throw messengerError(100, `Param message[metadata] must be at most ${METADATA_MAX} characters long`)
    }

    // The window, as Meta enforces it: 24 h for anything, 7 days for a human agent's tag.
    const now = this.now()
    const age = user.lastInboundAt === null ? Infinity : now - user.lastInboundAt
    const humanAgent = messagingType === 'MESSAGE_TAG' && tag === 'HUMAN_AGENT'
    if (age > HUMAN_AGENT_MS || (age > WINDOW_MS && !humanAgent)) {
      throw messengerError(
        10,
        'This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview',
        2018278,
      )
    }

    const metadata = typeof message.metadata === 'string' ? message.metadata : null
    const m: MsMessage = {
      mid: newMid(),
      direction: 'out',
      pageId: page.pageId,
      psid,
      type: attachment ? attachment.type : 'text',
      text: attachment ? attachment.filename : (message.text as string),
      imageId: attachment?.type === 'image' ? attachment.id : null,
      attachment: attachment ? publicRef(attachment) : null,
      replyTo: null,
      reaction: null,
      payload: null,
      timestamp: now,
      status: 'sent',
      messagingType,
      tag,
      metadata,
    }
    this.counters.accepted += 1
    if (metadata) this.counters.byMetadata[metadata] = (this.counters.byMetadata[metadata] ?? 0) + 1
    this.addMessage(m)
    // The echo first (message_echoes), then the receipts, like Messenger.
    this.webhooks.enqueue(
      pageEnvelope(page.pageId, now, {
        sender: { id: page.pageId },
        recipient: { id: psid },
        timestamp: now,
        message: {
          is_echo: true,
          app_id: this.config.appId ?? 1,
          ...(metadata ? { metadata } : {}),
          mid: m.mid,
          // An attachment's echo carries its (public) URL, as Meta's does.
          ...(attachment
            ? { attachments: [{ type: attachment.type, payload: { url: `${cdnBase}/messenger-cdn/${attachment.id}` } }] }
            : { text: m.text }),
        },
      }),
      `echo ${m.mid.slice(-8)}`,
    )
    const d = this.config.delays
    this.later(d.deliveredMs, () => this.deliver(m))
    if (d.readMs > 0) this.later(Math.max(d.deliveredMs, d.readMs), () => this.userRead(psid))
    this.notify(psid)
    return { recipient_id: psid, message_id: m.mid }
  }

  /** message.attachment of a send: by the attachment_id of an upload of this Page. */
  private attachmentOf(page: MessengerPage, raw: unknown): MsAttachmentRef & { pageId: string } {
    const a = (raw ?? {}) as { type?: unknown; payload?: { attachment_id?: unknown; url?: unknown } }
    if (typeof a.type !== 'string' || !ATTACHMENT_TYPES.has(a.type)) {
      throw messengerError(100, 'Param message[attachment][type] must be one of {image, audio, video, file, template}')
    }
    const id = a.payload?.attachment_id
    if (id === undefined) {
      if (a.payload?.url !== undefined)
        throw messengerError(100, 'The sandbox does not fetch URLs: send an attachment_id from message_attachments')
      throw messengerError(100, 'The parameter message[attachment][payload] must have an attachment_id or a url')
    }
    const up = this.uploads.get(String(id))
    // Attachment ids belong to the Page that uploaded them.
    if (!up || up.pageId !== page.pageId || !this.cdn.has(up.id)) throw messengerError(100, 'Invalid attachment_id', 2018047)
    if (up.type !== a.type) throw messengerError(100, `The attachment was uploaded as ${up.type}, not ${a.type}`)
    return up
  }

  private putCdn(id: string, entry: CdnEntry): void {
    this.cdn.set(id, entry)
    this.cdnBytes += entry.bytes.length
    for (const [old, e] of this.cdn) {
      if (this.cdn.size <= MAX_IMAGES && this.cdnBytes <= CDN_MAX_BYTES) break
      if (old === id) continue
      this.cdn.delete(old)
      this.cdnBytes -= e.bytes.length
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    t.unref()
    this.timers.add(t)
  }

  /** The user's phone got it: a delivery watermark (with or without `mids`). */
  private deliver(m: MsMessage): void {
    if (m.status === 'sent') m.status = 'delivered'
    const watermark = this.now()
    const withMids = !(this.config.noMidsRate > 0 && this.random() < this.config.noMidsRate)
    // Meta's example delivery carries no timestamp (M-DELIVERIES).
    this.webhooks.enqueue(
      pageEnvelope(m.pageId, watermark, {
        sender: { id: m.psid },
        recipient: { id: m.pageId },
        delivery: { ...(withMids ? { mids: [m.mid] } : {}), watermark },
      }),
      `delivery ${withMids ? m.mid.slice(-8) : 'watermark'}`,
    )
    this.notify(m.psid)
  }

  // ---- users --------------------------------------------------------------------

  createUser(input: { name: string; psid?: string; pageId?: string }): MsUser {
    const page = input.pageId ? this.pages.get(input.pageId) : this.firstPage
    if (!page) throw new Error('No such Page')
    let psid = input.psid?.trim() ?? ''
    if (psid && !/^\d{6,20}$/.test(psid)) throw new Error('A PSID is 6 to 20 digits')
    if (!this.pagesEnsured.has(page.pageId)) {
      this.config.ensurePage?.(page)
      this.pagesEnsured.add(page.pageId)
    }
    if (!psid) {
      // PSIDs are page-scoped numbers, 16 digits in practice.
      do psid = '7' + String(Math.floor(this.random() * 1e15)).padStart(15, '0')
      while (this.users.has(psid))
    }
    const existing = this.users.get(psid)
    if (existing) {
      if (input.name && input.name !== existing.name) existing.name = input.name
      this.notify(psid)
      return existing
    }
    const u: MsUser = {
      psid,
      pageId: page.pageId,
      name: input.name || `User ${this.users.size + 1}`,
      createdAt: this.now(),
      lastInboundAt: null,
    }
    this.users.set(psid, u)
    this.notify(psid)
    return u
  }

  user(psid: string): MsUser | undefined {
    return this.users.get(psid)
  }

  /** Demo and test hook: move the user's last message in time (open or close the window). */
  setLastInbound(psid: string, at: number | null): MsUser | undefined {
    const u = this.users.get(psid)
    if (!u) return undefined
    u.lastInboundAt = at
    this.notify(psid)
    return u
  }

  conversation(psid: string): MsMessage[] {
    // In the order written: a message dated earlier (a late delivery) takes its place.
    return this.messages.filter((m) => m.psid === psid).sort((a, b) => a.timestamp - b.timestamp)
  }

  /** A user image or a Page attachment, for the "CDN". */
  imageBytes(id: string): CdnEntry | undefined {
    return this.cdn.get(id)
  }

  /** The user writes: a signed webhook to Parley. Resolves after the first delivery attempt. */
  async userSend(psid: string, input: MsUserInput, imageBaseUrl?: string): Promise<{ message: MsMessage; delivered: boolean }> {
    const u = this.users.get(psid)
    if (!u) throw new Error('No such user')
    // Never dated in the future: Meta stamps a message when the user wrote it.
    const ts = Math.min(input.timestamp ?? this.now(), this.now())
    const m: MsMessage = {
      mid: newMid(),
      direction: 'in',
      pageId: u.pageId,
      psid,
      type: 'text',
      text: null,
      imageId: null,
      replyTo: null,
      reaction: null,
      payload: null,
      timestamp: ts,
      status: null,
      messagingType: null,
      tag: null,
      metadata: null,
    }
    let event: Record<string, unknown>
    const pageMessage = (mid: string | undefined) => {
      const target = mid ? this.byMid.get(mid) : undefined
      if (!target || target.psid !== psid) throw new Error('mid must name a message in this conversation')
      return target
    }
    switch (input.type) {
      case 'text':
      case 'reply': {
        if (!input.text) throw new Error('text is required')
        m.text = input.text
        const msg: Record<string, unknown> = { mid: m.mid, text: input.text }
        if (input.type === 'reply') {
          const target = pageMessage(input.mid)
          m.replyTo = target.mid
          msg.reply_to = { mid: target.mid, is_self_reply: target.direction === 'in' }
        }
        event = { message: msg }
        break
      }
      case 'quick_reply': {
        if (!input.text) throw new Error('text is required')
        m.type = 'quick_reply'
        m.text = input.text
        m.payload = input.payload ?? input.text
        event = { message: { mid: m.mid, text: input.text, quick_reply: { payload: m.payload } } }
        break
      }
      case 'image': {
        if (!input.data || !input.mimeType || !/^image\/(jpeg|png|gif|webp)$/.test(input.mimeType)) {
          throw new Error('data (base64) and an image mimeType are required')
        }
        m.type = 'image'
        m.imageId = randomBytes(9).toString('base64url')
        this.putCdn(m.imageId, { mimeType: input.mimeType, bytes: Buffer.from(input.data, 'base64'), filename: null })
        // Meta's attachment URLs are public, signed CDN links; here the emulator serves them.
        const url = `${imageBaseUrl ?? ''}/sandbox/graph/messenger-cdn/${m.imageId}`
        event = { message: { mid: m.mid, attachments: [{ type: 'image', payload: { url } }] } }
        break
      }
      case 'reaction':
      case 'unreaction': {
        const target = pageMessage(input.mid)
        const react = input.type === 'reaction'
        if (react && !input.emoji) throw new Error('emoji is required')
        m.type = 'reaction'
        m.replyTo = target.mid
        m.text = react ? input.emoji! : null
        m.reaction = { emoji: react ? input.emoji! : null, action: react ? 'react' : 'unreact' }
        event = {
          reaction: {
            reaction: react ? reactionName(input.emoji!) : 'other',
            ...(react ? { emoji: input.emoji } : {}),
            action: react ? 'react' : 'unreact',
            mid: target.mid,
          },
        }
        break
      }
      case 'postback': {
        const title = input.title ?? input.text
        if (!title) throw new Error('title is required')
        m.type = 'postback'
        m.text = title
        m.payload = input.payload ?? title
        event = { postback: { mid: m.mid, title, payload: m.payload } }
        break
      }
      default:
        throw new Error(`Unsupported type ${String(input.type)}`)
    }
    // Messages and postbacks open (or renew) the window; a reaction does not.
    if (m.type !== 'reaction' && (u.lastInboundAt === null || ts > u.lastInboundAt)) u.lastInboundAt = ts
    this.addMessage(m)
    this.notify(psid)
    const payload = pageEnvelope(u.pageId, this.now(), { sender: { id: psid }, recipient: { id: u.pageId }, timestamp: ts, ...event })
    const delivered = await this.webhooks.enqueueAndWait(payload, `${input.type} from ${psid}`)
    return { message: m, delivered }
  }

  /** The user opened the chat: one read watermark covers everything the Page sent. */
  userRead(psid: string): number {
    const u = this.users.get(psid)
    if (!u) return 0
    const items = this.messages.filter((m) => m.direction === 'out' && m.psid === psid && m.status !== 'read')
    if (items.length === 0) return 0
    for (const m of items) m.status = 'read'
    const watermark = this.now()
    this.webhooks.enqueue(
      pageEnvelope(u.pageId, watermark, { sender: { id: psid }, recipient: { id: u.pageId }, timestamp: watermark, read: { watermark } }),
      `read by ${psid}`,
    )
    this.notify(psid)
    return items.length
  }

  // ---- state ----------------------------------------------------------------------

  private addMessage(m: MsMessage): void {
    this.messages.push(m)
    this.byMid.set(m.mid, m)
    if (this.messages.length > MAX_MESSAGES) {
      for (const old of this.messages.splice(0, this.messages.length - MAX_MESSAGES)) this.byMid.delete(old.mid)
    }
  }

  private load(): void {
    const p = this.stateFile.read()
    if (!p) return
    try {
      for (const u of p.users ?? []) if (this.pages.has(u.pageId)) this.users.set(u.psid, u)
      for (const m of p.messages ?? []) if (this.users.has(m.psid)) this.addMessage(m)
      // Users exist, so their Page's channel must too.
      for (const pageId of new Set([...this.users.values()].map((u) => u.pageId))) {
        this.config.ensurePage?.(this.pages.get(pageId)!)
        this.pagesEnsured.add(pageId)
      }
    } catch {
      // A broken sandbox file is not worth refusing to start over: begin empty.
    }
  }

  private changed(): void {
    this.stateFile.changed()
  }

  save(): void {
    this.stateFile.save()
  }
}

function publicRef(a: MsAttachmentRef & { pageId: string }): MsAttachmentRef {
  const { pageId: _page, ...ref } = a
  return ref
}

function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim() || undefined
}

/** The User Profile API's refusals, worded as Meta words them. */
function profileError(code: number, psid: string): MetaError {
  switch (code) {
    case 100:
      return new MetaError(
        400,
        100,
        `Unsupported get request. Object with ID '${psid}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
        undefined,
        33,
      )
    case 230:
      return new MetaError(403, 230, 'Requires Business Asset User Profile Access to access the object')
    case 10:
    case 200:
      return new MetaError(403, code, 'Permission denied')
    case 4:
    case 17:
    case 32:
    case 613:
      return new MetaError(400, code, 'Calls to this api have exceeded the rate limit.')
    default:
      return metaError(code)
  }
}

/** A scripted fault, worded as Meta words the common ones. */
function scriptedError(step: { error: number; httpStatus?: number }): MetaError {
  const e =
    step.error === 190
      ? metaError(190)
      : step.error === 2
        ? new MetaError(503, 2, 'Service temporarily unavailable')
        : profileError(step.error, '')
  return step.httpStatus ? new MetaError(step.httpStatus, e.code, e.title, e.details, e.subcode) : e
}

/** Meta's error envelope for the Send API (no WhatsApp error_data). */
function messengerError(code: number, title: string, subcode?: number): MetaError {
  return new MetaError(400, code, title, undefined, subcode)
}

function pageEnvelope(pageId: string, time: number, item: Record<string, unknown>) {
  return { object: 'page', entry: [{ id: pageId, time, messaging: [item] }] }
}

/** Messenger mids: "m_" and an opaque base64url string. */
function newMid(): string {
  return 'm_' + randomBytes(24).toString('base64url')
}

const REACTIONS: Record<string, string> = {
  '😊': 'smile',
  '😠': 'angry',
  '😢': 'sad',
  '😮': 'wow',
  '❤': 'love',
  '❤️': 'love',
  '👍': 'like',
  '👎': 'dislike',
}
function reactionName(emoji: string): string {
  return REACTIONS[emoji] ?? 'other'
}

// ---- finding it from the WhatsApp emulator ----------------------------------------

const attached = new WeakMap<Emulator, MessengerEmulator>()

export function attachMessenger(emulator: Emulator, messenger: MessengerEmulator): void {
  attached.set(emulator, messenger)
}

export function messengerOf(emulator: Emulator): MessengerEmulator | undefined {
  return attached.get(emulator)
}
