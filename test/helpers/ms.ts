// Messenger Platform payload builders (fake ids: Page 100000000000010, PSIDs 70000…).
import { metaEscape, signPayload } from '../../src/channels/meta-signature.ts'

export const PAGE_ID = '100000000000010'
let seq = 0
export const mid = () => `m_${Date.now().toString(36)}${(++seq).toString(36)}`

export const item = (psid: string, event: Record<string, unknown>, page = PAGE_ID, timestamp = Date.now()) => ({
  sender: { id: psid },
  recipient: { id: page },
  timestamp,
  ...event,
})

export const echoItem = (psid: string, message: Record<string, unknown>, page = PAGE_ID, timestamp = Date.now()) => ({
  sender: { id: page },
  recipient: { id: psid },
  timestamp,
  message: { is_echo: true, app_id: 1234, ...message },
})

export const pageWebhook = (...items: unknown[]) => ({ object: 'page', entry: [{ id: PAGE_ID, time: Date.now(), messaging: items }] })
export const pageWebhookFor = (page: string, ...items: unknown[]) => ({
  object: 'page',
  entry: [{ id: page, time: Date.now(), messaging: items }],
})

export function postMessenger(url: string, payload: unknown, secret: string): Promise<Response> {
  const body = metaEscape(JSON.stringify(payload))
  return fetch(`${url}/webhooks/messenger`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(secret, body) },
    body,
  })
}
