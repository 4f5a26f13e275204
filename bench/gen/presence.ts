// Load generator child (issue 14's benchmark): agents typing. Each agent posts
// `POST /api/conversations/:id/presence {state: 'typing'}` every `everyMs`, starts
// spread evenly over the first period (as real agents would not all press a key in the
// same millisecond), on keep-alive connections. Open loop: a slow answer does not delay
// the next signal.
import http from 'node:http'
import { serve } from '../lib/proc.ts'
import { Hist, nowMs } from '../lib/hist.ts'

let timers: NodeJS.Timeout[] = []
let stats = { sent: 0, answered: 0, status204: 0, other: 0, errors: 0 }
const answer = new Hist()

function post(agent: http.Agent, url: URL, token: string, conversationId: number): void {
  const body = JSON.stringify({ state: 'typing', mode: 'reply' })
  const t0 = nowMs()
  stats.sent++
  const req = http.request(
    {
      agent,
      host: url.hostname,
      port: url.port,
      path: `/api/conversations/${conversationId}/presence`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
    },
    (res) => {
      res.resume()
      res.on('end', () => {
        stats.answered++
        if (res.statusCode === 204) stats.status204++
        else stats.other++
        answer.record(nowMs() - t0)
      })
    },
  )
  req.on('error', () => stats.errors++)
  req.end(body)
}

serve({
  start: (a: { url: string; agents: Array<{ token: string; conversationId: number }>; everyMs: number }) => {
    const url = new URL(a.url)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
    stats = { sent: 0, answered: 0, status204: 0, other: 0, errors: 0 }
    answer.reset()
    timers = a.agents.map((who, i) => {
      const offset = Math.floor((i * a.everyMs) / a.agents.length)
      const t = setTimeout(() => {
        post(agent, url, who.token, who.conversationId)
        const every = setInterval(() => post(agent, url, who.token, who.conversationId), a.everyMs)
        timers.push(every)
      }, offset)
      return t
    })
    return true
  },
  stop: () => {
    for (const t of timers) clearTimeout(t)
    timers = []
    return { ...stats, answerP50: answer.pct(50), answerP99: answer.pct(99) }
  },
}).ready()
