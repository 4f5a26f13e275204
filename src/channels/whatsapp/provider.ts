// WhatsApp's provider (the Cloud API): its send payloads (send.ts), its Graph calls
// (graph-client.ts), read receipts, inbound media by id and the credentials check.
import { credentialsVerdictOf, type GraphHttp } from '../graph-http.ts'
import type {
  ChannelProvider,
  CredentialsVerdict,
  FetchedMedia,
  OutboundMessage,
  ProviderChannel,
  SendContext,
  SendResult,
  StoredSend,
  UploadFile,
} from '../provider.ts'
import { unpackStored } from '../provider.ts'
import { WhatsAppGraph } from './graph-client.ts'
import { buildWhatsAppSend, withMediaId } from './send.ts'

// Uploaded media ids live 30 days; re-upload a day early rather than send a dead id.
const UPLOAD_TTL_MS = 29 * 86400_000

export class WhatsAppProvider implements ChannelProvider {
  readonly kind = 'whatsapp' as const
  readonly label = 'WhatsApp number'
  readonly uploadTtlMs = UPLOAD_TTL_MS
  private readonly graph: WhatsAppGraph

  constructor(http: GraphHttp) {
    this.graph = new WhatsAppGraph(http)
  }

  buildSend(msg: OutboundMessage): StoredSend {
    return buildWhatsAppSend(msg)
  }

  tagFields(): Record<string, unknown> {
    return {}
  }

  async send(channel: ProviderChannel, token: string, stored: StoredSend, ctx: SendContext): Promise<SendResult> {
    const unpacked = unpackStored(stored)
    let body = unpacked.body
    if (unpacked.localMediaId !== undefined) body = withMediaId(body, await ctx.mediaId(unpacked.localMediaId))
    // The callback tag comes back in the status webhooks: a send whose answer was lost is
    // still settled (outbox.ts reconcileStatus).
    return this.graph.sendMessage(channel.externalId, token, { ...body, biz_opaque_callback_data: ctx.callbackData })
  }

  uploadMedia(channel: ProviderChannel, token: string, file: UploadFile): Promise<string> {
    return this.graph.uploadMedia(channel.externalId, token, { bytes: file.bytes, mimeType: file.mimeType, filename: file.filename })
  }

  /** Id → URL valid 5 minutes → bytes, the Bearer token on both (W-MEDIA). */
  async fetchMedia(
    channel: ProviderChannel,
    token: string,
    providerMediaId: string,
    dest: string,
    maxBytes: number,
  ): Promise<FetchedMedia> {
    const info = await this.graph.mediaInfo(providerMediaId, token, channel.externalId)
    const got = await this.graph.downloadMedia(info.url, token, dest, maxBytes)
    return { ...got, mimeType: info.mimeType, sha256: info.sha256 }
  }

  markRead(channel: ProviderChannel, token: string, providerMessageId: string): Promise<void> {
    return this.graph.markRead(channel.externalId, token, providerMessageId)
  }

  /** GET /{phone-number-id}?fields=display_phone_number,verified_name with the number's token. */
  async checkCredentials(channel: ProviderChannel, token: string): Promise<CredentialsVerdict> {
    try {
      const info = await this.graph.phoneNumberInfo(channel.externalId, token)
      const who = [info.verifiedName, info.displayPhoneNumber].filter(Boolean).join(' · ')
      return { status: 'verified', detail: who || `Phone number ID ${info.id}` }
    } catch (err) {
      return credentialsVerdictOf(err, {
        190: 'Meta rejected the access token (190): it is invalid, expired or revoked. Create a permanent system-user token with whatsapp_business_messaging (Business settings → System users) and save it here.',
        100: `Meta does not know phone number ID ${channel.externalId} for this token (100). Check the Phone number ID under WhatsApp → API Setup, and that the token's system user was given this WhatsApp account.`,
      })
    }
  }
}
