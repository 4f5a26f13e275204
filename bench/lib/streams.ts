// What the stream workloads (3. fan-out, 13. per-user streams) share: opening N idle
// SSE streams from the receiver processes, collecting which event reached how many of
// them, posting a signed webhook, and what the servers answer ('mem', 'samples').
import { nowMs } from './hist.ts'
import type { Child } from './proc.ts'
import { split, type Running } from './servers.ts'

/** A server's memory after a full GC ('mem'). */
export interface Mem {
  rss: number
  heapUsed: number
  external: number
  streams: number
}

/** One publish as the server timed it ('samples'): its loop, and until every response was with the kernel. */
export type PublishSample = { startMs: number; durMs: number; flushMs: number; events: number; conns: number }

/** Per event id: how many streams got it, and the latest arrival (receivers' clock, ms). */
export type Arrivals = Map<number, { n: number; max: number }>

/** Posts a signed WhatsApp webhook; anything but a 200 is an error. */
export async function postWebhook(url: string, e: { body: string; signature: string }): Promise<void> {
  const res = await fetch(`${url}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': e.signature },
    body: e.body,
  })
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
}

/**
 * Opens n idle streams to the server, spread over the receivers (receiver i connects
 * from 127.0.0.<firstAddr + i>, so each has its own ports), with the tokens in turn;
 * throws unless all opened and the server holds exactly n. Returns how long opening took.
 */
export async function openStreams(server: Running, receivers: Child[], n: number, tokens: string[], firstAddr: number): Promise<number> {
  const t0 = nowMs()
  const opened = await Promise.all(
    receivers.map((r, i) =>
      r.call<{ opened: number; failed: number; firstError: string }>(
        'open',
        {
          url: `${server.url}/stream`,
          tokens,
          count: split(n, receivers.length, i),
          localAddress: `127.0.0.${firstAddr + i}`,
          mode: 'fanout',
          concurrency: 64,
        },
        180_000,
      ),
    ),
  )
  const failed = opened.reduce((a, r) => a + r.failed, 0)
  if (failed) throw new Error(`${failed} of ${n} streams failed to open: ${opened.find((r) => r.failed)?.firstError}`)
  const openMs = nowMs() - t0
  const held = await server.child.call<number>('streams')
  if (held !== n) throw new Error(`${server.name} holds ${held} streams, expected ${n}`)
  return openMs
}

/** Adds the arrivals every receiver saw since it was last asked into `acc`. */
export async function collectArrivals(receivers: Child[], acc: Arrivals): Promise<void> {
  const parts = await Promise.all(receivers.map((r) => r.call<Array<{ id: number; n: number; max: number }>>('fanout')))
  for (const p of parts)
    for (const f of p) {
      const a = acc.get(f.id) ?? { n: 0, max: 0 }
      a.n += f.n
      a.max = Math.max(a.max, f.max)
      acc.set(f.id, a)
    }
}
