// WhatsApp's send payloads (W-SEND): POST /{phone-number-id}/messages with
// messaging_product, the recipient, the type and an object of that type; a quoted reply
// adds `context`. A media message names Meta's media id, known only once the file is
// uploaded: the stored body keeps the local upload in `_localMediaId` until then.
import type { OutboundMessage, StoredSend, TemplateMessage } from '../provider.ts'

export function buildWhatsAppSend(msg: OutboundMessage): StoredSend {
  const c = msg.content
  let part: Record<string, unknown>
  switch (c.type) {
    case 'text':
      part = { body: c.body, preview_url: c.previewUrl }
      break
    case 'template':
      part = templateObject(c.template)
      break
    case 'reaction':
      part = { message_id: c.targetId, emoji: c.emoji }
      break
    default:
      // WhatsApp audio has no caption (replies.ts refuses one); a document keeps its name.
      part = {
        ...(c.caption && c.type !== 'audio' ? { caption: c.caption } : {}),
        ...(c.type === 'document' && c.filename ? { filename: c.filename } : {}),
      }
  }
  return {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    // A campaign's "+" and full number: without it Meta prepends the business's country
    // code to an imported number. A reply goes to the wa_id as Meta gave it.
    to: msg.broadcast && /^\d+$/.test(msg.to) ? `+${msg.to}` : msg.to,
    type: c.type,
    [c.type]: part,
    ...(msg.quote ? { context: { message_id: msg.quote } } : {}),
    ...('localMediaId' in c ? { _localMediaId: c.localMediaId } : {}),
  }
}

/** The `template` object (W-TEMPLATE): name, language and the filled-in parameters per component. */
function templateObject(t: TemplateMessage): Record<string, unknown> {
  const parameters = (values: TemplateMessage['body']) =>
    values.map((v) => (v.name === null ? { type: 'text', text: v.text } : { type: 'text', parameter_name: v.name, text: v.text }))
  const components: Record<string, unknown>[] = []
  if (t.header.length) components.push({ type: 'header', parameters: parameters(t.header) })
  if (t.body.length) components.push({ type: 'body', parameters: parameters(t.body) })
  return { name: t.name, language: { code: t.language }, ...(components.length ? { components } : {}) }
}

/** The body with Meta's media id in its media object, copying what it changes. */
export function withMediaId(body: Record<string, unknown>, id: string): Record<string, unknown> {
  const type = String(body.type)
  return { ...body, [type]: { ...(body[type] as Record<string, unknown>), id } }
}
