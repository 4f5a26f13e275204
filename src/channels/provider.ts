// What every channel provides to the rest of Parley, so the domain never speaks a
// channel's wire format: a send described in Parley's terms goes in, the channel's own
// request body comes out (stored in the outbox) and is sent later by the same provider,
// which also owns the channel's Graph calls (uploads, read receipts, credential checks),
// what agents call the channel and how a rejected credential reads. Meta's error codes
// keep one table for both Graph channels (domain/sending/meta-errors.ts). Providers are
// pure about the database: they take what they need as arguments and never read or
// write a table. The registry is ./index.ts.
import type { ChannelKind } from '../events/types.ts'
import type { Downloaded, SendResult } from './graph-http.ts'

export type { SendResult } from './graph-http.ts'

/** The channel as a provider needs it: its id at Meta (phone number id, Page id). */
export interface ProviderChannel {
  externalId: string
}

export type MediaSendType = 'image' | 'document' | 'audio' | 'video'

/** The message's content, in Parley's terms. */
export type OutboundContent =
  | { type: 'text'; body: string; previewUrl: boolean }
  | {
      type: MediaSendType
      /** The local upload; the provider's id for it is found (or uploaded) only when sending. */
      localMediaId: number
      caption: string | null
      filename: string | null
    }
  | { type: 'template'; template: TemplateMessage }
  /** `emoji` '' removes the business's reaction. */
  | { type: 'reaction'; targetId: string; emoji: string }

/** An approved template with its parameters' values, in order (templates.ts checked them). */
export interface TemplateMessage {
  name: string
  language: string
  /** A named parameter carries its name; a positional one ({{1}}) has none. */
  header: { name: string | null; text: string }[]
  body: { name: string | null; text: string }[]
}

/** Messenger's tag for a person's follow-up outside the 24 hours (M-POLICY). */
export type SendTag = 'HUMAN_AGENT'

export interface OutboundMessage {
  /** The customer on this channel: a wa_id or phone number, a Page-scoped id. */
  to: string
  content: OutboundContent
  /** Parley's id of the message (Messenger's echo names the message by it). */
  messageId: number
  /** The provider's id of the message this one quotes. */
  quote?: string | null
  tag?: SendTag | null
  /** A campaign's recipient may be a number from an import rather than an id Meta gave. */
  broadcast?: boolean
}

/**
 * What the outbox stores for a send is a provider's `buildSend` answer, handed back to
 * the same provider's `send`. Keys starting with `_` are Parley's bookkeeping and never
 * reach Meta: the outbox's `_parley` (its resend count, outbox.ts) and the provider's
 * `_localMediaId` (which upload to turn into the channel's media id when sending).
 */
export type StoredSend = Record<string, unknown>

export interface SendContext {
  /** Travels with a WhatsApp send and comes back in its status webhooks (outbox.ts). */
  callbackData: string
  /**
   * The channel's id for a local upload, uploading it first when needed. The outbox
   * worker decides what its failures mean (an upload is safe to repeat).
   */
  mediaId(localMediaId: number): Promise<string>
}

export interface UploadFile {
  bytes: Buffer
  mimeType: string
  filename: string
  kind: MediaSendType | null
}

/** Inbound media fetched by the provider's id: the bytes in `dest`, and what Meta said about them. */
export interface FetchedMedia extends Downloaded {
  mimeType: string | null
  /** Meta's checksum, base64 or hex. */
  sha256: string | null
}

/** What Meta said about saved credentials: verified, rejected, or not known yet (null: ask again later). */
export interface CredentialsVerdict {
  status: 'verified' | 'rejected' | null
  detail: string
}

export interface ChannelProvider {
  readonly kind: ChannelKind
  /** What agents call a channel of this kind ("WhatsApp number"), in failure reasons. */
  readonly label: string
  /** The request body for a message, stored in the outbox until it is sent. */
  buildSend(msg: OutboundMessage): StoredSend
  /** Body fields that make a resend go under `tag` ({} where the channel has no tags). */
  tagFields(tag: SendTag): Record<string, unknown>
  /** Sends a stored body; throws a GraphError (or what ctx.mediaId threw) on failure. */
  send(channel: ProviderChannel, token: string, stored: StoredSend, ctx: SendContext): Promise<SendResult>
  /** Uploads a file for sending; answers the channel's id for it. */
  uploadMedia(channel: ProviderChannel, token: string, file: UploadFile): Promise<string>
  /** How long an uploaded id can be sent (a day short of the channel's own limit). */
  readonly uploadTtlMs: number
  /** Downloads inbound media named by the provider's id (channels whose webhooks carry an id, not a URL). */
  fetchMedia?(channel: ProviderChannel, token: string, providerMediaId: string, dest: string, maxBytes: number): Promise<FetchedMedia>
  /** Read receipts for the customer, where the channel has them. */
  markRead?(channel: ProviderChannel, token: string, providerMessageId: string): Promise<void>
  /** Asks Meta who the saved credentials belong to. */
  checkCredentials(channel: ProviderChannel, token: string): Promise<CredentialsVerdict>
}

/** Splits a stored send into what goes to Meta and the provider's local upload, if any. */
export function unpackStored(stored: StoredSend): { body: Record<string, unknown>; localMediaId: number | undefined } {
  const body: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(stored)) if (!k.startsWith('_')) body[k] = v
  // `_parley.mediaId`: where rows stored before the providers kept it (a failed send retried later).
  const id = stored._localMediaId ?? (stored._parley as { mediaId?: unknown } | undefined)?.mediaId
  return { body, localMediaId: typeof id === 'number' ? id : undefined }
}
