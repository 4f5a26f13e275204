// A webhook receiver in its own process (issue 16's outgoing webhooks): a plain HTTP server
// on a fixed loopback port that verifies every request with the `standardwebhooks` package
// (as a customer's system would), answers a fixed status, and writes one JSON line per
// request to stdout. Tests start it, stop it (the port refuses connections), and start it
// again on the same port answering otherwise, so Parley meets a receiver that is down,
// failing, and back.
//
// Run as a script when RECEIVER_PORT is set; otherwise a module with `startReceiver`.
import { spawn } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { Webhook } from 'standardwebhooks'
import { listensOn } from './process.ts'

/** One request as the receiver saw it. */
export interface Received {
  /** webhook-id, webhook-timestamp, webhook-signature as sent. */
  id: string
  timestamp: string
  signature: string
  /** The raw body. */
  body: string
  /** Whether standardwebhooks verified it with the endpoint's secret (and the payload it returned). */
  verified: boolean
  payload: { type: string; timestamp: string; data: unknown } | null
  /** What the receiver answered. */
  status: number
  path: string
}

if (process.env.RECEIVER_PORT) {
  const port = Number(process.env.RECEIVER_PORT)
  const status = Number(process.env.RECEIVER_STATUS ?? '200')
  const wh = new Webhook(process.env.RECEIVER_SECRET ?? '')
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const h = (name: string) => String(req.headers[name] ?? '')
      let payload: Received['payload'] = null
      let verified = false
      try {
        payload = wh.verify(body, {
          'webhook-id': h('webhook-id'),
          'webhook-timestamp': h('webhook-timestamp'),
          'webhook-signature': h('webhook-signature'),
        }) as Received['payload']
        verified = true
      } catch {
        verified = false
      }
      const line: Received = {
        id: h('webhook-id'),
        timestamp: h('webhook-timestamp'),
        signature: h('webhook-signature'),
        body,
        verified,
        payload,
        status,
        path: req.url ?? '',
      }
      // Written before answering: a delivery Parley counts as done is always in the log.
      process.stdout.write(`${JSON.stringify(line)}\n`, () => {
        // Status 0: a receiver that hangs, never answering.
        if (status === 0) return
        res.writeHead(status, { 'content-type': 'text/plain' })
        res.end(status < 300 ? 'ok' : 'failing on purpose')
      })
    })
  })
  server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'))
  process.on('SIGTERM', () => process.exit(0))
}

export interface Receiver {
  /** Everything this process received, in order. */
  received: Received[]
  /** Waits until `pred` holds for what was received. */
  until(pred: (r: Received[]) => boolean, what: string, timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

const SELF = fileURLToPath(import.meta.url)

/** Starts a receiver on `port` answering `status` (0: never answers); resolves once it listens. */
export async function startReceiver(
  t: { teardown(fn: () => unknown): void },
  o: { port: number; secret: string; status?: number },
): Promise<Receiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF], {
    env: { ...process.env, RECEIVER_PORT: String(o.port), RECEIVER_SECRET: o.secret, RECEIVER_STATUS: String(o.status ?? 200) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const received: Received[] = []
  const waiters = new Set<() => void>()
  let buffer = ''
  let listening = false
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString('utf8')
    let nl = buffer.indexOf('\n')
    while (nl >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line === 'listening') listening = true
      else if (line) received.push(JSON.parse(line) as Received)
      nl = buffer.indexOf('\n')
    }
    for (const w of waiters) w()
  })
  // 'close': after its stdout is read to the end, so no line it wrote is lost.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  t.teardown(stop)
  const until = (pred: (r: Received[]) => boolean, what: string, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pred(received)) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`receiver: timed out waiting for ${what} (got ${received.length} requests)`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the receiver did not start')), 30_000)
    const check = () => {
      if (!listening || !listensOn(child.pid, o.port)) return
      waiters.delete(check)
      clearTimeout(timer)
      resolve()
    }
    waiters.add(check)
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code} before listening`)))
    check()
  })
  return { received, until, stop }
}
