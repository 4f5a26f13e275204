// Messenger's send payloads (M-SEND): POST /{page-id}/messages with the recipient's
// Page-scoped id, the messaging type (RESPONSE inside 24 hours, MESSAGE_TAG with a tag
// after) and a message of text or one attachment. Messenger has no templates, and Parley
// sends no reactions or quoted replies there. An attachment goes by the attachment_id
// uploaded for it just before sending: the stored body keeps the local upload in
// `_localMediaId` until then.
import type { MediaSendType, OutboundMessage, SendTag, StoredSend } from '../provider.ts'
import type { AttachmentType } from './graph-client.ts'

/** Parley's own sends carry this in `message.metadata`; the echo names its message (messenger-ingest.ts). */
export const ECHO_METADATA_PREFIX = 'parley:'

export function buildMessengerSend(msg: OutboundMessage): StoredSend {
  const c = msg.content
  if (c.type === 'template' || c.type === 'reaction') throw new Error(`Messenger has no ${c.type} messages`)
  // The echo of a Messenger send names the message (`metadata` rides on text and
  // attachments alike), so it is never shown twice.
  const metadata = `${ECHO_METADATA_PREFIX}${msg.messageId}`
  return {
    recipient: { id: msg.to },
    ...(msg.tag ? tagFields(msg.tag) : { messaging_type: 'RESPONSE' }),
    message: c.type === 'text' ? { text: c.body, metadata } : { attachment: { type: attachmentType(c.type), payload: {} }, metadata },
    ...(c.type !== 'text' ? { _localMediaId: c.localMediaId } : {}),
  }
}

export function tagFields(tag: SendTag): Record<string, unknown> {
  return { messaging_type: 'MESSAGE_TAG', tag }
}

/** Messenger's attachment types: a document is a `file`. */
export function attachmentType(kind: MediaSendType | null): AttachmentType {
  return kind === 'image' || kind === 'audio' || kind === 'video' ? kind : 'file'
}

/** message.attachment.payload.attachment_id, copying what it changes (the stored body stays as it is). */
export function withAttachmentId(body: Record<string, unknown>, id: string): Record<string, unknown> {
  const message = (body.message ?? {}) as { attachment?: { type?: unknown; payload?: Record<string, unknown> } }
  const attachment = message.attachment ?? {}
  return { ...body, message: { ...message, attachment: { ...attachment, payload: { ...(attachment.payload ?? {}), attachment_id: id } } } }
}
