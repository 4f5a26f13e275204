// A stream opened with a cursor behind the log is replayed at once, by the hub writing to
// the socket itself. On Node 24 the response's own first writes (its status line and
// headers) waited in the response until the socket was uncorked, so the replay went out
// first and the client saw a broken response (HPE_INVALID_CONSTANT; found running
// test/durability.test.ts on Node 24). Read as raw bytes: the status line comes first,
// then the greeting, then the replay. On Node 20 and 22 this held before the fix too.
import t from 'tap'
import net from 'node:net'
import { startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'

t.test('the status line, then the greeting, then the replay — on every Node', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  for (let i = 0; i < 5; i++) t.equal((await s.webhook(textWebhook('15550001111', 'Alice', `m${i}`).payload)).status, 200)
  const cursor = `${s.app.services.events.epoch}:0`
  const { port } = new URL(s.url)

  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nLast-Event-ID: ${cursor}\r\n\r\n`)
    })
    let buf = ''
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      buf += d
      // The fifth message's event is in: everything of the replay has been written.
      if ((buf.match(/event: message\.created/g) ?? []).length >= 5) {
        socket.destroy()
        resolve(buf)
      }
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(buf))
  })
  t.match(raw, /^HTTP\/1\.1 200 OK\r\n/, 'the response starts with its status line')
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  t.ok(body.indexOf('retry: ') < body.indexOf('event: message.created'), 'the greeting precedes the replay')
  t.notMatch(raw.slice(raw.indexOf('\r\n') + 2), /HTTP\/1\.1 200/, 'one status line, not a second one after stream bytes')
})
