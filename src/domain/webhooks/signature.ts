// Standard Webhooks signing (https://www.standardwebhooks.com, issue 16): a secret is
// `whsec_` + base64 of random bytes; each request carries `webhook-id`, `webhook-timestamp`
// (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
// keyed with the secret's bytes, so any of the spec's libraries verifies it.
import { createHmac, randomBytes } from 'node:crypto'

const PREFIX = 'whsec_'

/** A new secret: 32 random bytes (the spec asks for 24 to 64). */
export function newWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64')
}

/** The secret's key bytes (base64 after `whsec_`). */
export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64')
}

export function signatureHeader(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`
}

/** The event's stable id on the wire: the same on every retry, unique across databases (the epoch). */
export const webhookEventId = (epoch: string, eventId: number) => `evt_${epoch}_${eventId}`

/** The request body: `{type, timestamp, data}`, the payload's stored JSON spliced in as it is. */
export const webhookBody = (type: string, createdAt: number, data: string) =>
  `{"type":${JSON.stringify(type)},"timestamp":"${new Date(createdAt).toISOString()}","data":${data}}`
