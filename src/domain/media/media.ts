// Media files. Inbound: the webhook names a media id; Parley fetches it through the
// Graph flow (id → URL valid 5 minutes → bytes, Bearer on both) into DATA_DIR and
// tells the browsers where it is. Outbound: an agent's upload is kept in DATA_DIR and
// uploaded to Meta when its message is sent: WhatsApp's media endpoint, or a Messenger
// Page's Attachment Upload API.
// Files are named by random ids, never by anything a customer or an agent chose.
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Transform } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { Emitter, EventLog, UnitLog } from '../../events/event-log.ts'
import { SqliteRunner, type UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import { sentFromPhoneApp } from '../../events/types.ts'
import type { ChannelProviders } from '../../channels/index.ts'
import type { Db } from '../../store/db.ts'
import { toMessageDTO, type ChannelRow, type InboxStore, type MessageRow } from '../../store/inbox-store.ts'
import { MediaRepo, type MediaRow, type NewMedia } from '../../store/media.ts'
import { Errors } from '../../errors.ts'
import { retryDelay } from '../sending/outbox-rate.ts'
import { LocalSendError } from '../sending/outbox-worker.ts'
import { LOCAL_REASONS } from '../sending/meta-errors.ts'
import { Wakeup } from '../wakeup.ts'
import type { InboxWriter } from '../inbox/writer.ts'

export type { MediaRow } from '../../store/media.ts'

// Inbound fetches: a few at a time (each may be 100 MB), retried a few times over
// minutes — Meta's ids live 7 days, but a URL only 5 minutes, so each try asks anew.
const FETCH_CONCURRENCY = 3
const FETCH_MAX_ATTEMPTS = 6
const FETCH_RETRY_BASE_MS = 2000
const FETCH_RETRY_CAP_MS = 10 * 60_000
/**
 * How long a claimed download is this process's alone (issue 17: several processes on one
 * PostgreSQL database). Longer than any download at the size limit takes (100 MB on a slow
 * link, plus Graph's timeouts), so a healthy process never loses a claim mid-download; a
 * crashed process's claims are due again by themselves after it. If it does run out, the
 * conditional store keeps one copy (the loser deletes its own file).
 */
const FETCH_LEASE_MS = 10 * 60_000
/**
 * Even when nothing is due the fetcher looks again this often: a safety net. A download is
 * queued inside the webhook's transaction; on PostgreSQL its own kick can run before the
 * commit and find nothing, so app.ts kicks the fetcher again when the tailer publishes the
 * message (every process, after the commit); this tick covers a process that died between
 * its commit and its kick.
 */
const FETCH_SAFETY_TICK_MS = 5000
/** Messenger takes attachments up to 25 MB (saving-assets), whatever their type. */
export const MESSENGER_MAX_BYTES = 25 * 1024 * 1024

export type UploadKind = 'image' | 'document' | 'audio' | 'video'

/** The first bytes kept from an upload to prove its type (an Ogg page header with its segment table fits). */
const HEAD_BYTES = 512
const MB = 1024 * 1024
const prefix =
  (...bytes: number[]) =>
  (h: Buffer) =>
    bytes.every((b, i) => h[i] === b)
const ascii = (h: Buffer, at: number, text: string) => h.subarray(at, at + text.length).toString('latin1') === text
// ISO base media (MP4, M4A, 3GP): the first box is `ftyp`.
const isoMedia = (h: Buffer) => ascii(h, 4, 'ftyp')
// MP3: an ID3 tag or an MPEG audio frame sync (11 bits set).
const mpegAudio = (h: Buffer) => ascii(h, 0, 'ID3') || (h[0] === 0xff && ((h[1] ?? 0) & 0xe0) === 0xe0)
// AAC in ADTS frames: sync 0xFFF, layer 00 (an ID3 tag may come first).
const adts = (h: Buffer) => ascii(h, 0, 'ID3') || (h[0] === 0xff && ((h[1] ?? 0) & 0xf6) === 0xf0)
// WhatsApp takes Ogg only with Opus (W-MEDIA): the first page's first packet is `OpusHead`.
const oggOpus = (h: Buffer) => ascii(h, 0, 'OggS') && h.length > 27 && ascii(h, 27 + (h[26] ?? 0), 'OpusHead')

/**
 * What agents may send (W-MEDIA, saving-assets) and the bytes that prove the type. `maxBytes`
 * is the largest any channel takes — Messenger takes 25 MB of anything — and `whatsappMaxBytes`
 * WhatsApp's smaller limit, checked when the upload is sent there. Codecs are not checked
 * (WhatsApp video is H.264 + AAC): Meta refuses others at upload, and the send fails with
 * Meta's reason.
 */
const UPLOAD_TYPES: Record<string, { kind: UploadKind; maxBytes: number; whatsappMaxBytes?: number; sniff?: (head: Buffer) => boolean }> = {
  'image/jpeg': { kind: 'image', maxBytes: 5 * MB, sniff: prefix(0xff, 0xd8, 0xff) },
  'image/png': { kind: 'image', maxBytes: 5 * MB, sniff: prefix(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a) },
  'audio/aac': { kind: 'audio', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: adts },
  'audio/amr': { kind: 'audio', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: (h) => ascii(h, 0, '#!AMR\n') },
  'audio/mpeg': { kind: 'audio', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: mpegAudio },
  'audio/mp4': { kind: 'audio', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: isoMedia },
  'audio/ogg': { kind: 'audio', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: oggOpus },
  'video/mp4': { kind: 'video', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: isoMedia },
  'video/3gpp': { kind: 'video', maxBytes: 25 * MB, whatsappMaxBytes: 16 * MB, sniff: isoMedia },
  'application/pdf': { kind: 'document', maxBytes: 100 * MB, sniff: prefix(0x25, 0x50, 0x44, 0x46, 0x2d) },
  'text/plain': { kind: 'document', maxBytes: 100 * MB },
  'application/msword': { kind: 'document', maxBytes: 100 * MB },
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': { kind: 'document', maxBytes: 100 * MB },
  'application/vnd.ms-excel': { kind: 'document', maxBytes: 100 * MB },
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { kind: 'document', maxBytes: 100 * MB },
  'application/vnd.ms-powerpoint': { kind: 'document', maxBytes: 100 * MB },
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': { kind: 'document', maxBytes: 100 * MB },
}
// Other names browsers give the same files (an .m4a is audio/x-m4a on some systems); the
// upload is stored and sent under Meta's name.
const TYPE_ALIASES: Record<string, string> = {
  'audio/x-m4a': 'audio/mp4',
  'audio/m4a': 'audio/mp4',
  'audio/mp3': 'audio/mpeg',
  'audio/x-aac': 'audio/aac',
  'audio/opus': 'audio/ogg',
  'video/3gp': 'video/3gpp',
}

/** WhatsApp's limit for an upload's type when it is smaller than what Parley accepts (audio, video: 16 MB). */
export function whatsappMaxBytes(mimeType: string | null): number | null {
  return (mimeType && UPLOAD_TYPES[mimeType]?.whatsappMaxBytes) || null
}

export interface MediaDTO {
  id: number
  kind: UploadKind | null
  mimeType: string | null
  filename: string | null
  size: number | null
  url: string
}

export const mediaUrl = (id: number) => `/api/media/${id}`

export interface MediaDeps {
  /** SQLite: the database and its event log, when `units` and `unitLog` are not given. */
  db?: Db
  /** Channels (their tokens) and messages, read in units: either database. */
  store: Pick<InboxStore, 'channels' | 'messages'>
  /** Messages and conversations change only through the inbox writer. */
  writer: InboxWriter
  events?: EventLog
  /**
   * Issue 17: the fetcher's and the uploads' writes with their events (absent:
   * `events.unitLog()`, SQLite) and their reads (absent: a SqliteRunner on `db`). On
   * PostgreSQL pass both.
   */
  unitLog?: UnitLog
  units?: UnitRunner
  /** Each channel's uploads and downloads go through its own provider. */
  providers: Pick<ChannelProviders, 'for'>
  /** Where the files live (config.mediaDir: shared by every process on PostgreSQL). */
  mediaDir: string
  maxBytes: number
  uploadMaxBytes: number
  now: () => number
  log: FastifyBaseLogger
}

export class MediaService {
  readonly dir: string
  /** Downloads this process runs, with the lease its claim holds (the row's next_attempt_at). */
  private readonly inFlight = new Map<number, { done: Promise<void>; leaseEnd: number }>()
  private readonly wakeup = new Wakeup(() => this.pump(), { safetyMs: FETCH_SAFETY_TICK_MS })
  private readonly repo: MediaRepo
  private readonly log: UnitLog
  private readonly units: UnitRunner

  constructor(private readonly deps: MediaDeps) {
    this.repo = new MediaRepo()
    const log = deps.unitLog ?? deps.events?.unitLog()
    const units = deps.units ?? (deps.db ? new SqliteRunner(deps.db.$client) : undefined)
    if (!log || !units) throw new Error('media: give unitLog and units, or SQLite events and db')
    this.log = log
    this.units = units
    this.dir = deps.mediaDir
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
  }

  // ---- inbound ----------------------------------------------------------------

  /** Ingest hook, inside the webhook's transaction: a media message queues its download. */
  *onInboundStored(channel: ChannelRow, row: MessageRow): Q<void> {
    const m = row.media
    // A file the business sent from the phone app (issue 11) is Meta's to download too.
    if ((row.direction !== 'in' && !sentFromPhoneApp(row)) || !m || typeof m.id !== 'string') return
    const now = this.deps.now()
    yield* this.repo.insertMedia({
      workspaceId: row.workspaceId,
      channelId: channel.id,
      messageId: row.id,
      direction: 'in',
      providerMediaId: m.id,
      state: 'pending',
      mimeType: typeof m.mimeType === 'string' ? m.mimeType : null,
      filename: typeof m.filename === 'string' ? cleanFilename(m.filename) : null,
      sha256: typeof m.sha256 === 'string' ? m.sha256 : null,
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    })
    // After this synchronous commit: the fetch reads committed rows (one that runs
    // before a commit, as on PostgreSQL, finds nothing yet: the tailer's publish kicks again).
    setImmediate(() => this.kick())
  }

  start(): void {
    this.wakeup.start()
  }

  /**
   * Stops fetching; a download in flight is abandoned (its row stays pending for the next
   * start): its claim is given back, so the next start (or another process) fetches it at
   * once instead of after the lease. A claim another process took over is left alone.
   */
  async stop(graceMs: number): Promise<void> {
    this.wakeup.stop()
    if (this.inFlight.size === 0) return
    const claims = [...this.inFlight].map(([id, f]) => ({ id, leaseEnd: f.leaseEnd }))
    let t: NodeJS.Timeout | undefined
    await Promise.race([this.settled(), new Promise<void>((r) => (t = setTimeout(r, graceMs)))])
    clearTimeout(t)
    const now = this.deps.now()
    const repo = this.repo
    try {
      await this.units.transact(function* () {
        for (const c of claims) yield* repo.settleClaim(c.id, c.leaseEnd, { nextAttemptAt: now, updatedAt: now })
      })
    } catch (err) {
      // Not given back: the lease runs out by itself.
      this.deps.log.warn({ err }, 'media: giving back abandoned downloads failed')
    }
  }

  kick(): void {
    this.wakeup.after(0)
  }

  /** Resolves once the downloads in flight now have settled (stored, failed or abandoned). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.done))
  }

  private get stopped(): boolean {
    return this.wakeup.stopped
  }

  /**
   * One pass; resolves to when to look again (ms), which the Wakeup keeps only if no
   * earlier wake-up is set: a kick that came in while this pass awaited its claim must
   * not be pushed back to a later row's due time.
   *
   * Due downloads are claimed, not just read (issue 17): with several processes on one
   * PostgreSQL database each row goes to one of them, leased for FETCH_LEASE_MS. The next
   * due time includes leases, so a claim a crashed process left is picked up when it ends.
   */
  private async pump(): Promise<number | undefined> {
    if (this.stopped) return
    const now = this.deps.now()
    const free = FETCH_CONCURRENCY - this.inFlight.size
    const repo = this.repo
    let pass: { claimed: MediaRow[]; next: number | null }
    try {
      // One transaction: the claim and when the next download is due.
      pass = await this.units.transact(function* () {
        return {
          claimed: free > 0 ? yield* repo.claimDueInbound(now, free, FETCH_LEASE_MS) : [],
          next: yield* repo.nextInboundMediaDueAt(now),
        }
      })
    } catch (err) {
      // The database refused the claim (PostgreSQL gone a moment): look again later.
      if (!this.stopped) this.deps.log.error({ err }, 'media: claiming due downloads failed')
      return FETCH_RETRY_BASE_MS
    }
    // Claimed but stopped: the lease runs out by itself (stop() gives back only what runs).
    if (this.stopped) return
    for (const row of pass.claimed) {
      const running = this.inFlight.get(row.id)
      if (running) {
        // Our own download outlived its lease and we claimed it again: it holds the new lease.
        running.leaseEnd = row.nextAttemptAt ?? 0
        continue
      }
      const done = this.fetchOne(row)
        .catch((err) => {
          if (!this.stopped) this.deps.log.error({ err, mediaId: row.id }, 'media: download bookkeeping failed')
        })
        .finally(() => {
          this.inFlight.delete(row.id)
          this.kick()
        })
      this.inFlight.set(row.id, { done, leaseEnd: row.nextAttemptAt ?? 0 })
    }
    return pass.next === null ? undefined : pass.next - now
  }

  /** `row` as claimed: its next_attempt_at is the lease's end. */
  private async fetchOne(row: MediaRow): Promise<void> {
    const { store } = this.deps
    const channelId = row.channelId
    const channel = channelId ? await this.units.read(() => store.channels.byId(channelId)) : undefined
    const token = channel?.accessToken
    const file = randomBytes(16).toString('hex')
    const dest = path.join(this.dir, file)
    try {
      if (!channel || !token || !row.providerMediaId) throw new Error('the WhatsApp number has no access token')
      const provider = this.deps.providers.for(channel.kind)
      if (!provider.fetchMedia) throw new Error(`a ${channel.kind} channel has no media to fetch by id`)
      const got = await provider.fetchMedia(channel, token, row.providerMediaId, dest + '.part', this.deps.maxBytes)
      const expected = row.sha256 ?? got.sha256
      // Meta's sha256 is base64 in current payloads and hex in older ones.
      if (expected && expected !== got.sha256Base64 && expected.toLowerCase() !== got.sha256Hex) {
        await rm(dest + '.part', { force: true })
        throw new Error('checksum mismatch')
      }
      await rename(dest + '.part', dest)
      // Stopped meanwhile: the database may be closed; the row is fetched again next start,
      // into a new file, so this one is nobody's.
      if (this.stopped) {
        await rm(dest, { force: true })
        return
      }
      const mimeType = row.mimeType ?? got.mimeType ?? got.contentType
      const won = await this.log.transact((batch) => this.stored(batch, row, { path: file, size: got.size, mimeType }))
      // Another process stored this file first (our lease ran out mid-download): its copy is
      // the one the row names; ours is nobody's.
      if (!won) await rm(dest, { force: true })
    } catch (err) {
      await rm(dest + '.part', { force: true })
      const attempts = row.attempts + 1
      const reason = (err as Error).message
      if (this.stopped) return
      this.deps.log.warn({ mediaId: row.id, attempts, reason }, 'media: inbound download failed')
      const leaseEnd = this.inFlight.get(row.id)?.leaseEnd ?? row.nextAttemptAt ?? 0
      await this.log.transact((batch) => this.failedAttempt(batch, row, leaseEnd, attempts, reason))
    }
  }

  /**
   * The download is in place: the row says so and its message learns where (one unit).
   * False, with nothing written or emitted, when the row is no longer pending (another
   * process stored it first).
   */
  private *stored(batch: Emitter, row: MediaRow, got: { path: string; size: number; mimeType: string | null }): Q<boolean> {
    const stored = yield* this.repo.storePendingInbound(row.id, { ...got, updatedAt: this.deps.now() })
    if (!stored) return false
    yield* this.patchMessage(stored, batch, { localId: stored.id, url: mediaUrl(stored.id), size: got.size })
    return true
  }

  /**
   * A failed try: retried later (the new next_attempt_at also ends the lease), or given up
   * with the message told (one unit). Only while the row still carries this claim's lease:
   * a claim another process took over is theirs to settle.
   */
  private *failedAttempt(batch: Emitter, row: MediaRow, leaseEnd: number, attempts: number, reason: string): Q<void> {
    const now = this.deps.now()
    if (attempts >= FETCH_MAX_ATTEMPTS) {
      const failed = yield* this.repo.settleClaim(row.id, leaseEnd, { state: 'failed', attempts, lastError: reason, updatedAt: now })
      if (failed) yield* this.patchMessage(failed, batch, { localId: failed.id, error: 'The file could not be downloaded from WhatsApp.' })
    } else {
      yield* this.repo.settleClaim(row.id, leaseEnd, {
        attempts,
        lastError: reason,
        nextAttemptAt: now + Math.max(500, retryDelay(attempts, FETCH_RETRY_BASE_MS, FETCH_RETRY_CAP_MS)),
        updatedAt: now,
      })
    }
  }

  private update(id: number, set: Partial<NewMedia>): Q<MediaRow> {
    return this.repo.updateMedia(id, { ...set, updatedAt: this.deps.now() })
  }

  /** The message carrying the file learns of it (`message.updated`), in the caller's unit. */
  private *patchMessage(row: MediaRow, batch: Emitter, add: Record<string, unknown>): Q<void> {
    if (!row.messageId) return
    const msg = yield* this.deps.store.messages.messageRowById(row.messageId)
    if (!msg) return
    yield* this.deps.writer.updateMessage(batch, msg.id, { media: { ...(msg.media ?? {}), ...add } })
  }

  // ---- outbound ---------------------------------------------------------------

  /** Stores an agent's upload; the type is checked against the bytes, not the browser's word. */
  async saveUpload(workspaceId: number, userId: number, file: { stream: Readable; mimetype: string; filename: string }): Promise<MediaDTO> {
    const given = file.mimetype.split(';')[0]!.trim().toLowerCase()
    const mimeType = TYPE_ALIASES[given] ?? given
    const type = UPLOAD_TYPES[mimeType]
    if (!type) {
      file.stream.resume()
      throw Errors.mediaTypeUnsupported(
        'Send a JPEG or PNG image, AAC, AMR, MP3, M4A or Ogg Opus audio, an MP4 or 3GP video, or a PDF, Word, Excel, PowerPoint or text document',
      )
    }
    const limit = Math.min(type.maxBytes, this.deps.uploadMaxBytes)
    const name = randomBytes(16).toString('hex')
    const dest = path.join(this.dir, name)
    const hash = createHash('sha256')
    let size = 0
    let head = Buffer.alloc(0)
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length
        if (size > limit) return cb(Errors.mediaTooLarge(`The file is larger than ${Math.floor(limit / 1024 / 1024)} MB`))
        if (head.length < HEAD_BYTES) head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)])
        hash.update(chunk)
        cb(null, chunk)
      },
    })
    try {
      await pipeline(file.stream, meter, createWriteStream(dest + '.part', { mode: 0o600 }))
      // @fastify/multipart truncates instead of failing when its own limit is hit.
      if ((file.stream as Readable & { truncated?: boolean }).truncated) {
        throw Errors.mediaTooLarge(`The file is larger than ${Math.floor(limit / 1024 / 1024)} MB`)
      }
      if (size === 0) throw Errors.invalidMessage('The file is empty')
      if (type.sniff && !type.sniff(head)) {
        throw Errors.mediaTypeUnsupported(`The file is not really ${mimeType}`)
      }
      await rename(dest + '.part', dest)
    } catch (err) {
      await rm(dest + '.part', { force: true })
      throw err
    }
    const now = this.deps.now()
    const row = await this.units.transact(() =>
      this.repo.insertMediaReturning({
        workspaceId,
        direction: 'out',
        state: 'stored',
        mimeType,
        filename: cleanFilename(file.filename) || type.kind,
        sha256: hash.digest('base64'),
        size,
        path: name,
        uploadedBy: userId,
        createdAt: now,
        updatedAt: now,
      }),
    )
    return this.dto(row)
  }

  /** An upload of this workspace, ready to attach to a message. */
  uploadUnit(workspaceId: number, id: number): Q<MediaRow | undefined> {
    return this.repo.storedUpload(workspaceId, id)
  }

  kindOf(row: MediaRow): UploadKind | null {
    return (row.mimeType && UPLOAD_TYPES[row.mimeType]?.kind) || null
  }

  /**
   * Worker hook: Meta's id for this upload (a WhatsApp media id, or a Messenger Page's
   * attachment_id), uploading it (again) when needed: for another channel, or expired.
   */
  async providerIdFor(localMediaId: number, channel: ChannelRow, token: string): Promise<string> {
    const row = await this.units.read(() => this.repo.mediaById(localMediaId))
    if (!row || !row.path) throw new LocalSendError(LOCAL_REASONS.mediaMissing, false)
    const now = this.deps.now()
    const provider = this.deps.providers.for(channel.kind)
    if (row.providerMediaId && row.channelId === channel.id && (row.providerUploadedAt ?? 0) > now - provider.uploadTtlMs) {
      return row.providerMediaId
    }
    let bytes: Buffer
    try {
      bytes = await readFile(path.join(this.dir, row.path))
    } catch {
      throw new LocalSendError(LOCAL_REASONS.mediaMissing, false)
    }
    const file = { bytes, mimeType: row.mimeType ?? 'application/octet-stream', filename: row.filename ?? 'file' }
    const id = await provider.uploadMedia(channel, token, { ...file, kind: this.kindOf(row) })
    await this.units.transact(() =>
      this.update(row.id, { providerMediaId: id, providerUploadedAt: this.deps.now(), channelId: channel.id }),
    )
    return id
  }

  /** Links uploads to the message that sends them (inside the caller's transaction). */
  attachUnit(mediaId: number, messageId: number): Q<void> {
    return this.repo.attachUpload(mediaId, messageId, this.deps.now())
  }

  // ---- serving ----------------------------------------------------------------

  *forServingUnit(workspaceId: number, id: number): Q<{ row: MediaRow; file: string } | undefined> {
    const row = yield* this.repo.storedMediaFile(workspaceId, id)
    if (!row || !row.path) return undefined
    return { row, file: path.join(this.dir, path.basename(row.path)) }
  }

  dto(row: MediaRow): MediaDTO {
    return {
      id: row.id,
      kind: this.kindOf(row),
      mimeType: row.mimeType,
      filename: row.filename,
      size: row.size,
      url: mediaUrl(row.id),
    }
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a filename must lose
const FILENAME_UNSAFE = /[\u0000-\u001f\u007f"]/g

/** A display name only: no directories, no control characters, bounded. */
export function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? ''
  return base.replace(FILENAME_UNSAFE, '').trim().slice(0, 200)
}
