// Messenger's provider (a Facebook Page): its send payloads (send.ts), its Graph calls
// (graph-client.ts) and the credentials check. No read receipts are sent, and inbound
// attachments arrive as URLs (shown as they are), so there is nothing to fetch by id.
import { credentialsVerdictOf, type GraphHttp } from '../graph-http.ts'
import type {
  ChannelProvider,
  CredentialsVerdict,
  OutboundMessage,
  ProviderChannel,
  SendContext,
  SendResult,
  SendTag,
  StoredSend,
  UploadFile,
} from '../provider.ts'
import { unpackStored } from '../provider.ts'
import { MessengerGraph } from './graph-client.ts'
import { attachmentType, buildMessengerSend, tagFields, withAttachmentId } from './send.ts'

// Attachment ids live 90 days; re-upload a day early rather than send a dead id.
const UPLOAD_TTL_MS = 89 * 86400_000

export class MessengerProvider implements ChannelProvider {
  readonly kind = 'messenger' as const
  readonly label = 'Messenger page'
  readonly uploadTtlMs = UPLOAD_TTL_MS
  private readonly graph: MessengerGraph

  constructor(http: GraphHttp) {
    this.graph = new MessengerGraph(http)
  }

  buildSend(msg: OutboundMessage): StoredSend {
    return buildMessengerSend(msg)
  }

  tagFields(tag: SendTag): Record<string, unknown> {
    return tagFields(tag)
  }

  // Uploading first (ctx.mediaId), by choice: the Send API could also take the bytes itself
  // (multipart `filedata`), but then the one call that is not safe to repeat would carry up
  // to 25 MB, and a connection broken mid-upload would leave the message "unknown" (never
  // resent by itself). Uploading to the Attachment Upload API first keeps that call a small
  // JSON request by attachment_id, exactly like a text send — same lease, same echo
  // reconciliation — and a retried send reuses the (reusable) id.
  async send(channel: ProviderChannel, token: string, stored: StoredSend, ctx: SendContext): Promise<SendResult> {
    const unpacked = unpackStored(stored)
    let body = unpacked.body
    if (unpacked.localMediaId !== undefined) body = withAttachmentId(body, await ctx.mediaId(unpacked.localMediaId))
    // No callback tag: Messenger's echo carries the message's own metadata back instead (send.ts).
    return this.graph.sendPageMessage(channel.externalId, token, body)
  }

  uploadMedia(channel: ProviderChannel, token: string, file: UploadFile): Promise<string> {
    return this.graph.uploadPageAttachment(channel.externalId, token, {
      bytes: file.bytes,
      mimeType: file.mimeType,
      filename: file.filename,
      type: attachmentType(file.kind),
    })
  }

  /** GET /me?fields=id,name with the Page token: it must answer this Page. */
  async checkCredentials(channel: ProviderChannel, token: string): Promise<CredentialsVerdict> {
    try {
      const me = await this.graph.me(token)
      if (me.id !== null && me.id !== channel.externalId) {
        return {
          status: 'rejected',
          detail: `This token belongs to ${me.name ? `the Page “${me.name}”` : 'another Page'} (ID ${me.id}), not to Page ID ${channel.externalId}. Paste the access token of this Page.`,
        }
      }
      return { status: 'verified', detail: me.name ?? `Page ID ${channel.externalId}` }
    } catch (err) {
      return credentialsVerdictOf(err, {
        190: "Meta rejected the access token (190): it is invalid, expired or revoked. Copy the Page's access token again (Messenger → Settings → Access tokens) and save it here.",
        100: `Meta refused this token for Page ID ${channel.externalId} (100). Check the Page ID and that the token is this Page's own access token.`,
      })
    }
  }
}
