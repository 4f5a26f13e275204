// X-Hub-Signature-256 verification. Meta signs the bytes it sends (already escaped:
// non-ASCII as \u00e9-style escapes, "/" as "\/"), so the HMAC is computed over the raw request
// body, never over re-serialized JSON.
import { createHmac, timingSafeEqual } from 'node:crypto'

const PREFIX = 'sha256='

export function signPayload(secret: string, body: Buffer | string): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex')
}

export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith(PREFIX)) return false
  const given = header.slice(PREFIX.length).trim()
  if (!/^[0-9a-fA-F]{64}$/.test(given)) return false
  const expected = createHmac('sha256', secret).update(body).digest()
  // Both are 32 bytes here, which timingSafeEqual requires.
  return timingSafeEqual(expected, Buffer.from(given, 'hex'))
}

/** Escapes a JSON text the way Meta does before signing (for the sandbox and tests). */
export function metaEscape(json: string): string {
  return json.replace(/[\u0080-\uffff/<%@]/g, (ch) => (ch === '/' ? '\\/' : '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')))
}

/** The secret among `secrets` that signed this body, or undefined. */
export function verifyWithAny(secrets: readonly string[], body: Buffer, header: string | undefined): string | undefined {
  for (const secret of secrets) if (verifySignature(secret, body, header)) return secret
  return undefined
}
