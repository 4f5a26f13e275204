// Load generator child: Meta's side. `fixedRate` posts the delivery plan's webhooks
// at a fixed rate (open loop: a slow server does not slow the sender, as Meta does not
// wait either), recording when each was due, sent and answered. `burst` posts batches
// as fast as `concurrency` connections allow.
import http from 'node:http'
import { serve, sleep } from '../lib/proc.ts'
import { Hist, nowMs } from '../lib/hist.ts'
import { deliveryPlan, inboundBatch, planWebhook, type Encoded } from '../lib/wa.ts'

function post(agent: http.Agent, url: URL, e: Encoded): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: '/webhooks/whatsapp',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(e.body),
          'x-hub-signature-256': e.signature,
        },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', () => resolve(0))
      },
    )
    req.on('error', () => resolve(0))
    req.end(e.body)
  })
}

serve({
  fixedRate: async (a: { url: string; rate: number; webhooks: number; drainMs: number }) => {
    const url = new URL(a.url)
    const plan = deliveryPlan(a.webhooks)
    const bodies = Array.from({ length: a.webhooks }, (_, k) => planWebhook(plan, k))
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
    const due = new Float64Array(a.webhooks)
    const sent = new Float64Array(a.webhooks)
    const acked = new Uint8Array(a.webhooks)
    const answeredAt = new Float64Array(a.webhooks)
    const ack = new Hist()
    const late = new Hist()
    const interval = 1000 / a.rate
    const t0 = nowMs() + 20
    let k = 0
    let inflight = 0
    let maxInflight = 0
    const done: Promise<void>[] = []
    while (k < a.webhooks) {
      const now = nowMs()
      while (k < a.webhooks && t0 + k * interval <= now) {
        const i = k++
        due[i] = t0 + i * interval
        sent[i] = nowMs()
        late.record(sent[i]! - due[i]!)
        inflight++
        maxInflight = Math.max(maxInflight, inflight)
        done.push(
          post(agent, url, bodies[i]!).then((status) => {
            inflight--
            answeredAt[i] = nowMs()
            if (status === 200) {
              acked[i] = 1
              ack.record(nowMs() - due[i]!)
            }
          }),
        )
      }
      await sleep(1)
    }
    const sendEnd = nowMs()
    await Promise.race([Promise.all(done), sleep(a.drainMs)])
    agent.destroy()
    let ackedN = 0
    for (const x of acked) ackedN += x
    return {
      due,
      acked,
      answeredAt,
      ackedN,
      sendSeconds: (sendEnd - t0) / 1000,
      ack: ack.toJSON(),
      late: late.toJSON(),
      maxInflight,
      unanswered: inflight,
    }
  },

  burst: async (a: { url: string; webhooks: number; perWebhook: number; concurrency: number; tag: string }) => {
    const url = new URL(a.url)
    const agent = new http.Agent({ keepAlive: true, maxSockets: a.concurrency })
    let next = 0
    let ok = 0
    const t0 = nowMs()
    const worker = async () => {
      while (next < a.webhooks) {
        const i = next++
        if ((await post(agent, url, inboundBatch(`${a.tag}w${i}`, a.perWebhook))) === 200) ok++
      }
    }
    await Promise.all(Array.from({ length: a.concurrency }, worker))
    agent.destroy()
    return { ok, ms: nowMs() - t0 }
  },
}).ready()
