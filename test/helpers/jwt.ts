// Hand-made JWTs for the negative auth tests: alg none, other algorithms, expired, tampered.
import { createHmac } from 'node:crypto'

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

export function makeJwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret?: string, hmacAlg = 'sha256'): string {
  const head = `${b64(header)}.${b64(payload)}`
  if (!secret) return `${head}.`
  return `${head}.${createHmac(hmacAlg, secret).update(head).digest('base64url')}`
}

export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}
