// Messenger's Graph calls with a Page token: the Send API, the Attachment Upload API,
// the User Profile API and "who is this token". Over the shared Graph transport
// (../graph-http.ts), which sorts failures by what they mean for a retry.
import { GraphError, type GraphHttp, isObj, metaError, type SendResult, str } from '../graph-http.ts'

export type AttachmentType = 'image' | 'file' | 'audio' | 'video'

export class MessengerGraph {
  constructor(private readonly http: GraphHttp) {}

  /** Messenger's Send API: POST /{page-id}/messages → { recipient_id, message_id } (M-SEND). */
  async sendPageMessage(pageId: string, token: string, body: Record<string, unknown>): Promise<SendResult> {
    const json = await this.http.call('POST', `${encodeURIComponent(pageId)}/messages`, token, body)
    if (typeof json.message_id !== 'string') throw new GraphError('ambiguous', 'Send answered 200 without a message id')
    return { wamid: json.message_id, waId: typeof json.recipient_id === 'string' ? json.recipient_id : null, messageStatus: null }
  }

  /**
   * Messenger's User Profile API: GET /{psid}?fields=first_name,last_name with the Page
   * token. Only the name is asked for: it is all Parley shows (no avatar is stored).
   */
  async userProfile(psid: string, token: string): Promise<{ firstName: string | null; lastName: string | null }> {
    const json = await this.http.call('GET', `${encodeURIComponent(psid)}?fields=first_name,last_name`, token)
    return { firstName: str(json.first_name), lastName: str(json.last_name) }
  }

  /** Who a Page token belongs to: GET /me?fields=id,name answers the Page itself. */
  async me(token: string): Promise<{ id: string | null; name: string | null }> {
    const json = await this.http.call('GET', 'me?fields=id,name', token)
    return { id: str(json.id), name: str(json.name) }
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
    file: { bytes: Buffer; mimeType: string; filename: string; type: AttachmentType },
  ): Promise<string> {
    const form = new FormData()
    form.set('message', JSON.stringify({ attachment: { type: file.type, payload: { is_reusable: true } } }))
    form.set('filedata', new Blob([new Uint8Array(file.bytes)], { type: file.mimeType }), file.filename)
    const { ok, status, json } = await this.http.upload(`${encodeURIComponent(pageId)}/message_attachments`, token, form)
    if (!ok || !json) throw json && isObj(json.error) ? metaError(status, json) : new GraphError('http', `HTTP ${status}`, null, status)
    const id =
      typeof json.attachment_id === 'string'
        ? json.attachment_id
        : typeof json.attachment_id === 'number'
          ? String(json.attachment_id)
          : null
    if (!id) throw new GraphError('http', 'Attachment upload answered without an attachment_id')
    return id
  }
}
