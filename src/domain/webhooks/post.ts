// One delivery attempt over HTTP (issue 16): a POST with a timeout, no redirects followed,
// the answer's body read and dropped (at most a little of it), a fresh connection each time.
// The outcome is a status code or a short error in words; it never throws.
import http from 'node:http'
import https from 'node:https'
import { isPrivateAddress, PRIVATE_ADDRESS, publicOnlyLookup } from './address-guard.ts'

export type PostOutcome = { statusCode: number; error: null } | { statusCode: null; error: string }

const ERROR_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed (try again)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  EPIPE: 'connection closed',
  [PRIVATE_ADDRESS]: 'refused: the address is private (WEBHOOK_ALLOW_PRIVATE is off)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: self-signed certificate',
  CERT_HAS_EXPIRED: 'TLS: certificate expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: certificate is for another name',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: certificate not trusted',
}

export interface PostOptions {
  timeoutMs: number
  allowPrivate: boolean
  signal: AbortSignal
}

export function postWebhook(url: string, headers: Record<string, string>, body: string, o: PostOptions): Promise<PostOutcome> {
  return new Promise((resolve) => {
    let done = false
    const finish = (outcome: PostOutcome) => {
      if (done) return
      done = true
      clearTimeout(timer)
      o.signal.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
    const u = new URL(url)
    const host = u.hostname.replace(/^\[|\]$/g, '')
    // A literal address is connected to without a lookup: checked here instead.
    if (!o.allowPrivate && (isPrivateAddress(host) || host === 'localhost')) {
      return resolve({ statusCode: null, error: ERROR_WORDS[PRIVATE_ADDRESS]! })
    }
    if (o.signal.aborted) return resolve({ statusCode: null, error: 'cancelled: Parley stopped' })
    const payload = Buffer.from(body)
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-length': String(payload.length) },
      ...(o.allowPrivate ? {} : { lookup: publicOnlyLookup }),
    })
    const timer = setTimeout(() => {
      finish({ statusCode: null, error: `no answer within ${o.timeoutMs} ms` })
      req.destroy()
    }, o.timeoutMs)
    const onAbort = () => {
      finish({ statusCode: null, error: 'cancelled: Parley stopped' })
      req.destroy()
    }
    o.signal.addEventListener('abort', onAbort)
    req.on('response', (res) => {
      // Only the status counts; the body is drained so the socket closes cleanly.
      res.resume()
      res.on('end', () => finish({ statusCode: res.statusCode ?? 0, error: null }))
      // Cut off mid-answer: the status was given, so it counts as given.
      res.on('error', () => finish({ statusCode: res.statusCode ?? 0, error: null }))
      res.on('close', () => finish({ statusCode: res.statusCode ?? 0, error: null }))
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ statusCode: null, error: (err.code && ERROR_WORDS[err.code]) ?? err.code ?? 'request failed' })
    })
    req.end(payload)
  })
}
