// GET /stream: the one authenticated Server-Sent Events connection per browser.
// The hub does the work; this route authenticates, writes headers and hands over.
import type { FastifyInstance } from 'fastify'
import type { Services } from '../services.ts'
import { httpChunk } from '../events/stream-hub.ts'

export async function streamRoutes(app: FastifyInstance, opts: { services: Services }) {
  const { hub, auth, access, units } = opts.services
  // A change of role or channels (hub.resetUser) reads the person's access again from
  // their session, as a request would (one read, either database); a session that no
  // longer holds closes the stream.
  hub.readAccessWith((sub) =>
    units.read(function* () {
      const session = yield* auth.sessionUnit(sub.sessionId)
      return session ? yield* access.ofUnit(session) : undefined
    }),
  )

  // No helmet here: its dozen headers would be held by every open stream for its whole
  // life (measured: ~2 KiB of a stream's memory), and a text/event-stream response
  // needs only nosniff of them.
  app.get('/stream', { onRequest: app.authenticate, helmet: false }, (req, reply) => {
    const header = req.headers['last-event-id']
    const query = (req.query as { lastEventId?: unknown }).lastEventId
    // The header wins: a browser's own reconnect carries the id it last received.
    const cursor = typeof header === 'string' && header !== '' ? header : typeof query === 'string' ? query : undefined
    reply.hijack()
    const res = reply.raw
    // Fastify keeps its request, reply and child logger alive through the response's
    // 'finish'/'error' listeners until the response ends — for a stream, its whole
    // life (~1 KiB per open stream, heap snapshot). The hub owns this response from
    // here: its own listeners replace them, and the stream's end is logged by the hub's
    // close, not by Fastify's "request completed".
    for (const ev of ['finish', 'error'] as const) {
      for (const l of res.listeners(ev)) if (l.name === 'onResFinished') res.off(ev, l as (...a: unknown[]) => void)
    }
    res.on('error', ignoreError)
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx buffers proxied responses unless told not to.
      'X-Accel-Buffering': 'no',
      'X-Content-Type-Options': 'nosniff',
    })
    // The hub writes to the socket itself, and Node 24 holds a response's first writes
    // in the response until the socket is uncorked: a replay written now went out before
    // the status line (the client saw a broken response). Send the head at once, and the
    // first bytes the way the hub writes, so nothing overtakes anything.
    res.flushHeaders()
    // Jittered retry: after a restart, browsers do not all come back in the same second.
    const retry = 1000 + Math.floor(Math.random() * 4000)
    const hello = `retry: ${retry}\n: connected\n\n`
    res.socket?.write(res.chunkedEncoding ? httpChunk(hello) : hello)
    res.socket?.setNoDelay(true)
    hub.open(
      res,
      {
        userId: req.session.userId,
        workspaceId: req.session.workspaceId,
        sessionId: req.session.sessionId,
        expiresAt: req.session.expiresAt,
        // What this person may see, read with the session (auth.ts): every event and
        // every replay page of this stream is filtered by it.
        access: req.access,
      },
      cursor,
    )
  })
}

// A write to a connection the peer already dropped; its 'close' removes the stream.
function ignoreError(): void {}
