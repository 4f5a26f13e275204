// The WhatsApp Cloud API's calls: send, mark as read, the number's identity, templates,
// media. Over the shared Graph transport (../graph-http.ts), which sorts failures by what
// they mean for a retry.
import { GraphError, type Downloaded, type GraphHttp, isObj, metaError, type SendResult, str } from '../graph-http.ts'

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

// Templates come in pages; a WABA has at most a few hundred, so this bounds a bad paging loop.
const MAX_TEMPLATE_PAGES = 20

export class WhatsAppGraph {
  constructor(private readonly http: GraphHttp) {}

  async sendMessage(phoneNumberId: string, token: string, body: Record<string, unknown>): Promise<SendResult> {
    const json = await this.http.call('POST', `${encodeURIComponent(phoneNumberId)}/messages`, token, body)
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

  /**
   * Who a WhatsApp number is, as Meta knows it: GET /{phone-number-id}?fields=… with the
   * number's token. Settings checks saved credentials with it (190: the token; 100: the id).
   */
  async phoneNumberInfo(
    phoneNumberId: string,
    token: string,
  ): Promise<{ id: string; displayPhoneNumber: string | null; verifiedName: string | null }> {
    const json = await this.http.call('GET', `${encodeURIComponent(phoneNumberId)}?fields=display_phone_number,verified_name`, token)
    return { id: str(json.id) ?? phoneNumberId, displayPhoneNumber: str(json.display_phone_number), verifiedName: str(json.verified_name) }
  }

  /** Marks the message (and earlier ones in the thread) read: blue ticks on the customer's phone. */
  async markRead(phoneNumberId: string, token: string, wamid: string): Promise<void> {
    await this.http.call('POST', `${encodeURIComponent(phoneNumberId)}/messages`, token, {
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: wamid,
    })
  }

  async listTemplates(wabaId: string, token: string): Promise<GraphTemplate[]> {
    const out: GraphTemplate[] = []
    let next: string | null = this.http.url(
      `${encodeURIComponent(wabaId)}/message_templates?limit=100&fields=id,name,language,status,category,components,parameter_format`,
      token,
    )
    for (let page = 0; next && page < MAX_TEMPLATE_PAGES; page++) {
      const json = await this.http.callUrl('GET', next, token)
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
    const json = await this.http.call('GET', `${encodeURIComponent(mediaId)}${q}`, token)
    if (typeof json.url !== 'string') throw new GraphError('http', 'Media info without a URL')
    return {
      url: json.url,
      mimeType: typeof json.mime_type === 'string' ? json.mime_type : null,
      sha256: typeof json.sha256 === 'string' ? json.sha256 : null,
      fileSize: typeof json.file_size === 'number' ? json.file_size : Number(json.file_size) || null,
    }
  }

  /** The bytes behind a media URL (valid 5 minutes; the Bearer token is mandatory), into `dest`. */
  downloadMedia(url: string, token: string, dest: string, maxBytes: number): Promise<Downloaded> {
    return this.http.download(url, token, dest, maxBytes)
  }

  /** Uploads a file for sending; the id is valid for 30 days. */
  async uploadMedia(phoneNumberId: string, token: string, file: { bytes: Buffer; mimeType: string; filename: string }): Promise<string> {
    const form = new FormData()
    form.set('messaging_product', 'whatsapp')
    form.set('type', file.mimeType)
    form.set('file', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename)
    const { ok, status, json } = await this.http.upload(`${encodeURIComponent(phoneNumberId)}/media`, token, form)
    if (!ok || !json) throw json ? metaError(status, json) : new GraphError('http', `HTTP ${status}`, null, status)
    if (typeof json.id !== 'string') throw new GraphError('http', 'Upload answered without a media id')
    return json.id
  }
}
