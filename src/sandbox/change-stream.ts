// The simulator page's live view of the emulator: a small SSE stream of "something
// changed" notices (the page refetches what changed). Not the inbox's stream: no
// replay, no cursor — a missed notice only delays a refetch.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'

// Same reason as the inbox stream: proxies cut idle connections at 60 s.
const SSE_HEARTBEAT_MS = 20_000

export function registerChangeStream(
  app: FastifyInstance,
  path: string,
  routeOpts: { onRequest?: onRequestHookHandler },
  subscribe: (send: (change: unknown) => void) => () => void,
): void {
  const streams = new Set<ServerResponse>()
  // Long-lived: without ending them, closing the server would wait forever.
  app.addHook('preClose', async () => {
    for (const s of streams) s.end()
  })
  app.get(path, routeOpts, (req, reply) => {
    reply.hijack()
    const res = reply.raw
    streams.add(res)
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    })
    res.write('retry: 2000\n: connected\n\n')
    const off = subscribe((c) => res.write(`event: change\ndata: ${JSON.stringify(c)}\n\n`))
    const hb = setInterval(() => res.write(': hb\n\n'), SSE_HEARTBEAT_MS)
    const done = () => {
      off()
      clearInterval(hb)
      streams.delete(res)
    }
    req.raw.on('close', done)
    res.on('error', done)
  })
}
