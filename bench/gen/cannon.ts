// Load generator child: closed-loop HTTP load with autocannon (raw sockets, far
// cheaper per request than node:http), posting the mixed, signed, unique webhook
// stream. Latency comes from autocannon's per-response times into our own histogram
// (its built-in one rounds to whole milliseconds).
import autocannon from 'autocannon'
import { serve } from '../lib/proc.ts'
import { Hist } from '../lib/hist.ts'
import { ingestMix } from '../lib/wa.ts'

let runNo = 0

serve({
  run: (a: { url: string; connections: number; seconds: number; tag: string }) =>
    new Promise((resolve, reject) => {
      const next = ingestMix(`${a.tag}r${runNo++}p${process.pid}`)
      const hist = new Hist()
      let bytesSent = 0
      const inst = autocannon(
        {
          url: a.url,
          connections: a.connections,
          duration: a.seconds,
          pipelining: 1,
          timeout: 20,
          requests: [
            {
              method: 'POST',
              path: '/webhooks/whatsapp',
              setupRequest: (req) => {
                const e = next()
                bytesSent += e.body.length
                return {
                  ...req,
                  body: e.body,
                  headers: { ...req.headers, 'content-type': 'application/json', 'x-hub-signature-256': e.signature },
                }
              },
            },
          ],
        },
        (err, r) => {
          if (err) return reject(err)
          resolve({
            rps: r['2xx'] / r.duration,
            ok: r['2xx'],
            non2xx: r.non2xx,
            errors: r.errors,
            timeouts: r.timeouts,
            seconds: r.duration,
            hist: hist.toJSON(),
            bytesSent,
          })
        },
      )
      inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        if (status >= 200 && status < 300) hist.record(ms)
      })
    }),
}).ready()
