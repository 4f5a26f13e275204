// WhatsApp Cloud API payload builders, composed from the field lists in
// meta-platform-facts.md (fake ids: business 15550001000, phone_number_id
// 100000000000002, WABA 100000000000001).
import { PHONE_NUMBER_ID, type TestServer } from './server.ts'

let seq = 0
export const wamid = (tag = 'm') => `wamid.HBgL${tag}${Date.now().toString(36)}${(++seq).toString(36)}AA==`
export const ts = (offsetSeconds = 0) => String(Math.floor(Date.now() / 1000) + offsetSeconds)

export interface ValueParts {
  contacts?: unknown[]
  messages?: unknown[]
  statuses?: unknown[]
  errors?: unknown[]
  phoneNumberId?: string
}

export function value(parts: ValueParts) {
  return {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: '15550001000', phone_number_id: parts.phoneNumberId ?? PHONE_NUMBER_ID },
    ...(parts.contacts ? { contacts: parts.contacts } : {}),
    ...(parts.messages ? { messages: parts.messages } : {}),
    ...(parts.statuses ? { statuses: parts.statuses } : {}),
    ...(parts.errors ? { errors: parts.errors } : {}),
  }
}

export function envelope(...values: ReturnType<typeof value>[]) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: '100000000000001', changes: values.map((v) => ({ value: v, field: 'messages' })) }],
  }
}

export const contact = (waId: string, name: string) => ({ profile: { name }, wa_id: waId })

export function inbound(from: string, type: string, body: unknown, extra: Record<string, unknown> = {}) {
  return { from, id: wamid(), timestamp: ts(), type, ...(body === undefined ? {} : { [type]: body }), ...extra }
}

export const text = (from: string, bodyText: string, extra: Record<string, unknown> = {}) =>
  inbound(from, 'text', { body: bodyText }, extra)

/** One inbound message from one contact, wrapped for posting. */
export function textWebhook(from: string, name: string, bodyText: string, id?: string) {
  const m = text(from, bodyText)
  if (id) m.id = id
  return { payload: envelope(value({ contacts: [contact(from, name)], messages: [m] })), id: m.id }
}

/** The customer `from` (called `name`) writes `body` on the configured number: a signed webhook that must answer 200. */
export async function say(s: TestServer, from: string, name: string, body: string): Promise<void> {
  const res = await s.webhook(textWebhook(from, name, body).payload)
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
}

export function status(id: string, st: string, recipient: string, extra: Record<string, unknown> = {}) {
  return { id, status: st, timestamp: ts(), recipient_id: recipient, ...extra }
}

export const statusWebhook = (...statuses: unknown[]) => envelope(value({ statuses }))
