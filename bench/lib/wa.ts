// WhatsApp Cloud API payloads for the load generators, shaped like test/helpers/wa.ts
// (fields from meta-platform-facts.md §1) and encoded as Meta encodes them: compact
// JSON, escaped (metaEscape), signed over those exact bytes.
import { metaEscape, signPayload } from '../../src/channels/meta-signature.ts'

export const APP_SECRET = 'bench-app-secret'
export const VERIFY_TOKEN = 'bench-verify-token'
export const PHONE_NUMBER_ID = '100000000000002'
export const WABA_ID = '100000000000001'
export const ADMIN = { email: 'bench@example.com', password: 'bench password 123' }
export const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123456789'

// Customer texts with accents and emoji, so Meta's \uXXXX escaping is on the path.
const TEXTS = [
  'Olá! Meu pedido #4821 ainda não chegou, podem verificar?',
  'Hi, can I change the delivery address to 22 Baker St / flat 3?',
  'Gracias 🙏 llegó perfecto',
  'Is the store open on Sunday? 10:00–14:00?',
  'Merci, je voudrais annuler ma commande @ 18h',
  'ok 👍',
  'The link https://example.com/track?id=991 says 100% delivered but nothing here',
  'Можно оплатить картой?',
]

export const customer = (i: number) => String(15551000000 + i)

export function inboundText(from: string, wamid: string, text: string, ts: string) {
  return { from, id: wamid, timestamp: ts, type: 'text', text: { body: text } }
}

export function status(wamid: string, st: string, recipient: string, ts: string) {
  return {
    id: wamid,
    status: st,
    timestamp: ts,
    recipient_id: recipient,
    ...(st === 'sent' || st === 'delivered'
      ? { pricing: { billable: true, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' } }
      : {}),
  }
}

export function envelope(value: { contacts?: unknown[]; messages?: unknown[]; statuses?: unknown[] }) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: WABA_ID,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001000', phone_number_id: PHONE_NUMBER_ID },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  }
}

export interface Encoded {
  body: string
  signature: string
}

export function encode(payload: unknown): Encoded {
  const body = metaEscape(JSON.stringify(payload))
  return { body, signature: signPayload(APP_SECRET, body) }
}

const nowTs = () => String(Math.floor(Date.now() / 1000))

// ---- the fixed-rate delivery plan ----
// Webhook k carries items; every item (an inbound message, or a status for an outbound
// message seeded beforehand) produces exactly one event. Its wamid carries the item's
// global index g, so a receiver can tell which webhook an event came from without a
// lookup table crossing processes.

export interface PlanItem {
  kind: 'in' | 'status'
  g: number
  wamid: string
  from: string
}

export interface Plan {
  /** items of webhook k are g in [start[k], start[k+1]) */
  start: Int32Array
  items: PlanItem[]
  /** webhook index of item g */
  webhookOf: Int32Array
}

export const planInbound = (g: number) => `wamid.HBgLBENCH${g}Z`
export const planOutbound = (g: number) => `wamid.HBgLOUT${g}Z`

/** Shape of webhook k: mostly single messages, one in five a status, some batched. */
function shape(k: number): Array<'in' | 'status'> {
  const r = k % 20
  if (r < 13) return ['in']
  if (r < 17) return ['status']
  if (r === 17) return ['in', 'in', 'in']
  if (r === 18) return ['status', 'status', 'status', 'status']
  return ['in', 'in']
}

export function deliveryPlan(webhooks: number, contacts = 3000): Plan {
  const start = new Int32Array(webhooks + 1)
  const items: PlanItem[] = []
  for (let k = 0; k < webhooks; k++) {
    start[k] = items.length
    for (const kind of shape(k)) {
      const g = items.length
      items.push({
        kind,
        g,
        wamid: kind === 'in' ? planInbound(g) : planOutbound(g),
        from: customer((g * 7919) % contacts),
      })
    }
  }
  start[webhooks] = items.length
  const webhookOf = new Int32Array(items.length)
  for (let k = 0; k < webhooks; k++) for (let g = start[k]!; g < start[k + 1]!; g++) webhookOf[g] = k
  return { start, items, webhookOf }
}

export function planWebhook(plan: Plan, k: number): Encoded {
  const ts = nowTs()
  const items = plan.items.slice(plan.start[k]!, plan.start[k + 1]!)
  const messages = items.filter((i) => i.kind === 'in')
  const statuses = items.filter((i) => i.kind === 'status')
  const payload = envelope({
    ...(messages.length
      ? {
          contacts: [...new Set(messages.map((m) => m.from))].map((wa) => ({ profile: { name: `Customer ${wa.slice(-4)}` }, wa_id: wa })),
          messages: messages.map((m) => inboundText(m.from, m.wamid, TEXTS[m.g % TEXTS.length]!, ts)),
        }
      : {}),
    ...(statuses.length ? { statuses: statuses.map((s) => status(s.wamid, 'delivered', s.from, ts)) } : {}),
  })
  return encode(payload)
}

/** Outbound messages the plan's statuses refer to (seeded before the run). */
export function planOutboundTargets(plan: Plan): Array<{ wamid: string; to: string }> {
  return plan.items.filter((i) => i.kind === 'status').map((i) => ({ wamid: i.wamid, to: i.from }))
}

/** Finds the item index in an event's JSON: the digits after `"providerMessageId":"wamid.HBgL<LETTERS>`. */
const MARK = Buffer.from('"providerMessageId":"wamid.HBgL')
export function itemOf(buf: Buffer, from: number, to: number): number {
  const at = buf.indexOf(MARK, from)
  if (at < 0 || at >= to) return -1
  let i = at + MARK.length
  while (i < to && buf[i]! >= 65 && buf[i]! <= 90) i++
  let g = 0
  let digits = 0
  while (i < to && buf[i]! >= 48 && buf[i]! <= 57) {
    g = g * 10 + (buf[i]! - 48)
    i++
    digits++
  }
  return digits ? g : -1
}

// ---- the mixed ingest stream (closed-loop, every payload unique) ----
// 55% one inbound text, 25% one status, 10% five inbound messages, 10% ten statuses.
// Statuses point at seeded outbound messages (some repeat: Meta redelivers and skips
// steps) and some at ids Parley never sent (kept as pending statuses).

export const OUTBOUND_POOL = 20_000
export const ingestOutbound = (i: number) => `wamid.HBgLSEEDOUT${i}Z`

export function ingestMix(tag: string, contacts = 5000): () => Encoded {
  let n = 0
  let w = 0
  const STEPS = ['sent', 'delivered', 'read']
  const one = () => {
    const i = n++
    return { i, wamid: `wamid.HBgLING${tag}x${i}Z` }
  }
  const st = (i: number) => {
    // A multiplicative hash spreads statuses over the pool; one in eleven is foreign.
    const target = (Math.imul(i, 2654435761) >>> 0) % Math.floor(OUTBOUND_POOL * 1.1)
    const wamid = target < OUTBOUND_POOL ? ingestOutbound(target) : `wamid.HBgLFOREIGN${tag}x${i}Z`
    return status(wamid, STEPS[i % 3]!, customer(target % contacts), nowTs())
  }
  return () => {
    const r = w++ % 20
    const ts = nowTs()
    if (r < 11) {
      const { i, wamid } = one()
      const from = customer((i * 7919) % contacts)
      return encode(
        envelope({
          // A customer's WhatsApp profile name is stable (as in the other plans): a name
          // that changed with every message made each one rename its contact, an UPDATE
          // real traffic almost never needs.
          contacts: [{ profile: { name: `Customer ${from.slice(-4)}` }, wa_id: from }],
          messages: [inboundText(from, wamid, TEXTS[i % TEXTS.length]!, ts)],
        }),
      )
    }
    if (r < 16) return encode(envelope({ statuses: [st(one().i)] }))
    if (r < 18) {
      const msgs = Array.from({ length: 5 }, () => {
        const { i, wamid } = one()
        return inboundText(customer((i * 7919) % contacts), wamid, TEXTS[i % TEXTS.length]!, ts)
      })
      return encode(
        envelope({
          contacts: msgs.map((m) => ({ profile: { name: `Customer ${m.from.slice(-4)}` }, wa_id: m.from })),
          messages: msgs,
        }),
      )
    }
    return encode(envelope({ statuses: Array.from({ length: 10 }, () => st(one().i)) }))
  }
}

/** A webhook with `count` inbound messages (bursts for the replay workload). */
export function inboundBatch(tag: string, count: number, contacts = 2000): Encoded {
  const ts = nowTs()
  const msgs = Array.from({ length: count }, (_, j) =>
    inboundText(customer((j * 31) % contacts), `wamid.HBgLBURST${tag}x${j}Z`, TEXTS[j % TEXTS.length]!, ts),
  )
  return encode(
    envelope({
      contacts: [...new Set(msgs.map((m) => m.from))].map((wa) => ({ profile: { name: `Customer ${wa.slice(-4)}` }, wa_id: wa })),
      messages: msgs,
    }),
  )
}
