// What the health page knows that the database does not (issue 16), kept in memory since
// this process started, fed by the webhook routes and the sending path: each number's or
// Page's last webhook, its signature failures of the last hour (and why they most likely
// happen), Meta's token errors (190) and throttles (130429). Every call is a counter
// increment and a map write; the words are put together only when an admin asks.
import type { ChannelKind } from '../channels/channels.ts'
import type { SendOutcome } from '../sending/outbox-worker.ts'
import type { ParleyMetrics } from './metrics.ts'

/** How a webhook failed its signature check. */
export type SignatureProblem = 'missing' | 'mismatch' | 'other_app'

const HOUR_MS = 3600_000
// Per channel; past it the oldest failures of the hour are forgotten (the count says "at least").
const MAX_FAILURES_KEPT = 10_000
// Bodies up to this size are parsed to attribute a refused webhook; larger ones are searched.
const PARSE_LIMIT_BYTES = 256 * 1024
export const UNKNOWN_CHANNEL = '?'

export interface SignatureFacts {
  /** Failure times in the last hour, oldest first. */
  times: number[]
  lastProblem: SignatureProblem | null
}

export interface WebhookFacts {
  lastWebhookAt: number | null
  signature: SignatureFacts
}

export interface SendFacts {
  lastSentAt: number | null
  tokenErrors: number
  lastTokenErrorAt: number | null
  throttles: number
  lastThrottleAt: number | null
}

export interface HealthTrackerDeps {
  metrics: ParleyMetrics
  now: () => number
  /** Whether a number or Page is connected (a refused webhook is attributed to it only then). */
  isChannel(kind: ChannelKind, externalId: string): boolean
}

export class HealthTracker {
  /** By `kind:externalId` (`kind:?` for what names no connected channel). */
  private readonly webhooks = new Map<string, WebhookFacts>()
  /** By channel id. */
  private readonly sends = new Map<number, SendFacts>()
  readonly startedAt: number

  constructor(private readonly d: HealthTrackerDeps) {
    this.startedAt = d.now()
  }

  // ---- Fed by the webhook routes ----

  /** A signed delivery named these numbers or Pages (before its ingest). */
  webhookSeen(kind: ChannelKind, externalId: string): void {
    // Only connected channels are kept: a signed payload may still name anything.
    const facts = this.webhooks.get(`${kind}:${externalId}`) ?? (this.d.isChannel(kind, externalId) ? this.facts(kind, externalId) : null)
    if (facts) facts.lastWebhookAt = this.d.now()
  }

  /** A delivery answered 200 after its commit. */
  webhookAccepted(kind: ChannelKind): void {
    this.d.metrics.webhooks.inc({ provider: kind, result: 'accepted' })
  }

  /** 401: the signature was missing or matched no app secret. Attributed by the payload's number or Page id. */
  webhookRefused(kind: ChannelKind, raw: Buffer, header: string | undefined): void {
    this.d.metrics.webhooks.inc({ provider: kind, result: 'bad_signature' })
    const id = namedChannel(kind, raw)
    const known = id !== null && this.d.isChannel(kind, id)
    this.signatureFailed(kind, known ? id : UNKNOWN_CHANNEL, header ? 'mismatch' : 'missing')
  }

  /** A part of a signed delivery kept raw (webhook-leftovers.ts): its reason says why. */
  keptRaw(provider: string, reason: string): void {
    const kind = provider === 'messenger' ? 'messenger' : 'whatsapp'
    if (reason.startsWith('unknown_channel:')) {
      this.d.metrics.webhooks.inc({ provider: kind, result: 'unknown_channel' })
      return
    }
    this.d.metrics.webhooks.inc({ provider: kind, result: 'stored_raw' })
    // Signed by one app, naming a channel of another: that channel's secret is not the one Meta uses.
    if (reason.startsWith('secret_mismatch:')) this.signatureFailed(kind, reason.slice('secret_mismatch:'.length), 'other_app')
  }

  /** One group commit of the ingest queue. */
  ingestCommitted(seconds: number): void {
    this.d.metrics.ingestCommit.observe(seconds)
  }

  // ---- Fed by the outbox worker ----

  readonly sendOutcome = (o: SendOutcome): void => {
    this.d.metrics.sends.inc({ channel_kind: o.channelKind, result: o.result, code: o.code === null ? '' : String(o.code) })
    const now = this.d.now()
    const f = this.sendFacts(o.channelId)
    if (o.result === 'sent') f.lastSentAt = now
    if (o.code === 190) {
      f.tokenErrors++
      f.lastTokenErrorAt = now
    }
    if (o.code === 130429) {
      f.throttles++
      f.lastThrottleAt = now
      this.d.metrics.throttles.inc({ channel: String(o.channelId) })
    }
  }

  // ---- Read by the health report ----

  webhookFacts(kind: ChannelKind, externalId: string): WebhookFacts | undefined {
    const f = this.webhooks.get(`${kind}:${externalId}`)
    if (f) prune(f.signature, this.d.now())
    return f
  }

  sendFactsOf(channelId: number): SendFacts | undefined {
    return this.sends.get(channelId)
  }

  private signatureFailed(kind: ChannelKind, externalId: string, problem: SignatureProblem): void {
    const f = this.facts(kind, externalId)
    const now = this.d.now()
    prune(f.signature, now)
    f.signature.times.push(now)
    if (f.signature.times.length > MAX_FAILURES_KEPT) f.signature.times.shift()
    f.signature.lastProblem = problem
  }

  private facts(kind: ChannelKind, externalId: string): WebhookFacts {
    const key = `${kind}:${externalId}`
    let f = this.webhooks.get(key)
    if (!f) {
      f = { lastWebhookAt: null, signature: { times: [], lastProblem: null } }
      this.webhooks.set(key, f)
    }
    return f
  }

  private sendFacts(channelId: number): SendFacts {
    let f = this.sends.get(channelId)
    if (!f) {
      f = { lastSentAt: null, tokenErrors: 0, lastTokenErrorAt: null, throttles: 0, lastThrottleAt: null }
      this.sends.set(channelId, f)
    }
    return f
  }
}

function prune(s: SignatureFacts, now: number): void {
  let drop = 0
  while (drop < s.times.length && s.times[drop]! <= now - HOUR_MS) drop++
  if (drop > 0) s.times.splice(0, drop)
}

/**
 * The number (phone_number_id) or Page (entry[].id) an unverified payload names, or null.
 * Read as data only; a payload too large to parse cheaply is searched for the field.
 */
export function namedChannel(kind: ChannelKind, raw: Buffer): string | null {
  if (raw.length <= PARSE_LIMIT_BYTES) {
    try {
      const body = JSON.parse(raw.toString('utf8')) as { entry?: unknown }
      const entry = Array.isArray(body?.entry) ? (body.entry[0] as Record<string, unknown> | undefined) : undefined
      if (kind === 'messenger') return digits(entry?.id)
      const change = Array.isArray(entry?.changes)
        ? (entry.changes[0] as { value?: { metadata?: { phone_number_id?: unknown } } })
        : undefined
      return digits(change?.value?.metadata?.phone_number_id)
    } catch {
      return null
    }
  }
  const head = raw.subarray(0, PARSE_LIMIT_BYTES).toString('latin1')
  const m =
    kind === 'messenger' ? /"entry"\s*:\s*\[\s*\{\s*"id"\s*:\s*"(\d{1,32})"/.exec(head) : /"phone_number_id"\s*:\s*"(\d{1,32})"/.exec(head)
  return m ? m[1]! : null
}

function digits(v: unknown): string | null {
  return typeof v === 'string' && /^\d{1,32}$/.test(v) ? v : null
}
