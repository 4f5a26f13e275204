// Load generator child: closed-loop GETs over keep-alive node:http, each timed from
// the request to the last byte of the body, cycling through a list of paths.
import http from 'node:http'
import { serve } from '../lib/proc.ts'
import { Hist, nowMs } from '../lib/hist.ts'

function get(agent: http.Agent, url: URL, path: string, token: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve) => {
    const req = http.get({ agent, host: url.hostname, port: url.port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let bytes = 0
      res.on('data', (c: Buffer) => (bytes += c.length))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
      res.on('error', () => resolve({ status: 0, bytes }))
    })
    req.on('error', () => resolve({ status: 0, bytes: 0 }))
  })
}

serve({
  run: async (a: { url: string; token: string; paths: string[]; concurrency: number; seconds: number }) => {
    const url = new URL(a.url)
    const agent = new http.Agent({ keepAlive: true, maxSockets: a.concurrency })
    const hist = new Hist()
    let errors = 0
    let firstError = ''
    let bytes = 0
    let i = 0
    const t0 = nowMs()
    const end = t0 + a.seconds * 1000
    const worker = async () => {
      while (nowMs() < end) {
        const path = a.paths[i++ % a.paths.length]!
        const s = nowMs()
        const r = await get(agent, url, path, a.token)
        if (r.status === 200) {
          hist.record(nowMs() - s)
          bytes += r.bytes
        } else {
          errors++
          firstError ||= `${r.status} ${path}`
        }
      }
    }
    await Promise.all(Array.from({ length: a.concurrency }, worker))
    const secs = (nowMs() - t0) / 1000
    agent.destroy()
    return { hist: hist.toJSON(), rps: hist.n / secs, errors, firstError, avgBytes: hist.n ? bytes / hist.n : 0 }
  },
}).ready()
