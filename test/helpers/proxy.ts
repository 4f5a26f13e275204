// Real nginx and Caddy in front of a real Parley, each run with a config derived from the
// shipped file in deploy/ (only the domain, the certificates and the ports change: plain
// HTTP on a loopback port), and the checks both proxies must pass (issue 16).
// A missing binary fails the test with the command that installs it; PARLEY_SKIP_PROXY_TESTS=1
// skips instead (a development machine without them; CI installs both).
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { metaEscape, signPayload } from '../../src/channels/meta-signature.ts'
import { localNginxConfig } from './nginx-config.ts'
import { freePort } from './process.ts'
import { ADMIN, APP_SECRET, startServer, type TestServer } from './server.ts'
import { connectSse, type SseClient, type SseEvent } from './sse.ts'
import { textWebhook } from './wa.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const NGINX_CONF = path.join(ROOT, 'deploy', 'nginx', 'parley.conf')
export const CADDYFILE = path.join(ROOT, 'deploy', 'Caddyfile')
const READY_MS = 15_000

export interface Proxy {
  /** http(s)://127.0.0.1:<port>: the proxy's front. */
  url: string
  /** For https: the certificate authority the proxy's certificate is trusted by. */
  ca?: string
  /** The proxy's own log so far (for a failure message). */
  log(): string
}

export type StartProxy = (t: ProxyTestLike, upstreamPort: number) => Promise<Proxy>

export type ProxyTestLike = Test

/** Where `binary` is on PATH or in /usr/sbin (nginx is there, outside a user's PATH). */
export function binaryPath(binary: string): string | undefined {
  const PATH = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8', env: { ...process.env, PATH } })
  return found.status === 0 ? found.stdout.trim() : undefined
}

/** Whether `binary` can run; when missing, a failing test (or a skip when PARLEY_SKIP_PROXY_TESTS=1). */
export function haveBinary(t: Test, binary: string, pkg: string): boolean {
  if (binaryPath(binary)) return true
  const message = `${binary} is not installed: apt-get install -y ${pkg} (or set PARLEY_SKIP_PROXY_TESTS=1 to skip)`
  if (process.env.PARLEY_SKIP_PROXY_TESTS === '1') t.plan(0, message)
  else t.fail(message)
  return false
}

function tempDir(t: ProxyTestLike, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Resolves once something accepts connections on the port; rejects when the process ends first. */
async function waitForPort(port: number, exited: () => string | undefined, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_MS
  for (;;) {
    const ended = exited()
    if (ended) throw new Error(`the proxy ended before listening (${ended}):\n${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1')
      sock.once('connect', () => {
        sock.destroy()
        resolve(true)
      })
      sock.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`the proxy did not listen on ${port} within ${READY_MS} ms:\n${log()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Starts a proxy and stops it at teardown: nginx by SIGTERM (its fast shutdown: the master
 * ends its workers), Caddy by SIGKILL (one process; SIGTERM would wait for open streams).
 */
async function run(
  t: ProxyTestLike,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  stop: NodeJS.Signals,
  fileLog?: string,
) {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  let ended: string | undefined
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = `exit ${code ?? signal}`
      resolve()
    }),
  )
  t.teardown(async () => {
    if (!ended) {
      child.kill(stop)
      await exited
    }
  })
  const log = () => {
    let text = output
    if (fileLog) {
      try {
        text += readFileSync(fileLog, 'utf8')
      } catch {
        // not written yet
      }
    }
    return text
  }
  await waitForPort(port, () => ended, log)
  return { url: `http://127.0.0.1:${port}`, log }
}

/** deploy/nginx/parley.conf on a loopback port without TLS, proxying to Parley's test port (nginx-config.ts). */
export function nginxConfig(dir: string, port: number, upstreamPort: number): string {
  return localNginxConfig(NGINX_CONF, { dir, port, upstreamPort })
}

export const startNginx: StartProxy = async (t, upstreamPort) => {
  const dir = tempDir(t, 'parley-nginx-')
  chmodSync(dir, 0o755)
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, port, upstreamPort))
  const nginx = binaryPath('nginx') ?? 'nginx'
  const test = spawnSync(nginx, ['-t', '-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], { encoding: 'utf8' })
  if (test.status !== 0) throw new Error(`nginx -t refused the derived config:\n${test.stderr}`)
  return run(t, nginx, ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], process.env, port, 'SIGTERM', `${dir}/error.log`)
}

/**
 * deploy/Caddyfile as shipped, with the domain (PARLEY_DOMAIN: plain HTTP on a loopback
 * port) and the upstream (PARLEY_UPSTREAM: Parley's test port) given by its own placeholders;
 * global options turn off the admin endpoint and keep Caddy's state in a temp dir.
 */
export function caddyConfig(globalOptions: string[] = ['auto_https off']): string {
  const shipped = readFileSync(CADDYFILE, 'utf8')
  for (const placeholder of ['{$PARLEY_DOMAIN:', '{$PARLEY_UPSTREAM:'])
    if (!shipped.includes(placeholder)) throw new Error(`${CADDYFILE} no longer has ${placeholder}: update test/helpers/proxy.ts`)
  return `{\n\tadmin off\n${globalOptions.map((o) => `\t${o}\n`).join('')}}\n\n${shipped}`
}

export const startCaddy: StartProxy = async (t, upstreamPort) => {
  const dir = tempDir(t, 'parley-caddy-')
  const port = await freePort()
  const conf = path.join(dir, 'Caddyfile')
  writeFileSync(conf, caddyConfig())
  const env = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    PARLEY_DOMAIN: `http://127.0.0.1:${port}`,
    PARLEY_UPSTREAM: `127.0.0.1:${upstreamPort}`,
  }
  return run(t, binaryPath('caddy') ?? 'caddy', ['run', '--config', conf, '--adapter', 'caddyfile'], env, port, 'SIGKILL')
}

/**
 * deploy/Caddyfile as shipped over HTTPS, with a certificate from Caddy's internal CA for
 * https://127.0.0.1:<port> (global options: local certificates, nothing installed in the
 * system's trust store, no port-80 redirect server). The test trusts that CA alone.
 */
export const startCaddyTls: StartProxy = async (t, upstreamPort) => {
  const dir = tempDir(t, 'parley-caddy-tls-')
  const port = await freePort()
  const conf = path.join(dir, 'Caddyfile')
  writeFileSync(conf, caddyConfig(['local_certs', 'skip_install_trust', 'auto_https disable_redirects']))
  const env = {
    ...process.env,
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    PARLEY_DOMAIN: `https://127.0.0.1:${port}`,
    PARLEY_UPSTREAM: `127.0.0.1:${upstreamPort}`,
  }
  const started = await run(t, binaryPath('caddy') ?? 'caddy', ['run', '--config', conf, '--adapter', 'caddyfile'], env, port, 'SIGKILL')
  // The CA is made at start; the site's certificate is issued just after: ready when a
  // request trusting only that CA gets through.
  const root = path.join(dir, 'data', 'caddy', 'pki', 'authorities', 'local', 'root.crt')
  const deadline = Date.now() + READY_MS
  for (;;) {
    try {
      const ca = readFileSync(root, 'utf8')
      const health = await request(`https://127.0.0.1:${port}/api/health`, { ca })
      if (health.status === 200) return { url: `https://127.0.0.1:${port}`, ca, log: started.log }
    } catch {
      // no CA file or no certificate yet
    }
    if (Date.now() > deadline) throw new Error(`Caddy served no trusted HTTPS within ${READY_MS} ms:\n${started.log()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface Answer {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the checks
  body: any
}

/** One HTTP request from a chosen loopback address (127.0.0.2, 127.0.0.3…: distinct clients to the proxy). */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string; ca?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress }
    const send = url.startsWith('https:')
      ? (cb: (res: http.IncomingMessage) => void) => https.request(url, { ...options, ca: opts.ca }, cb)
      : (cb: (res: http.IncomingMessage) => void) => http.request(url, options, cb)
    const req = send((res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => {
        let body: unknown = text
        try {
          body = text ? JSON.parse(text) : null
        } catch {
          // not JSON: the text
        }
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** Where a request goes: Parley itself or a proxy (with its CA for https). */
export type Target = Pick<Proxy, 'url' | 'ca'>

/** A customer's text as Meta posts it (escaped and signed), to `baseUrl`'s webhook route. */
export function postWebhook(to: Target, from: string, text: string): Promise<Answer> {
  const body = metaEscape(JSON.stringify(textWebhook(from, 'Ana', text).payload))
  return request(`${to.url}/webhooks/whatsapp`, {
    ca: to.ca,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(APP_SECRET, body) },
    body,
  })
}

export function login(to: Target, creds: { email: string; password: string }, from?: { localAddress?: string; xff?: string }) {
  return request(`${to.url}/api/auth/login`, {
    ca: to.ca,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(from?.xff ? { 'x-forwarded-for': from.xff } : {}) },
    body: JSON.stringify(creds),
    localAddress: from?.localAddress,
  })
}

const carries = (text: string) => (e: SseEvent) => e.event === 'message.created' && e.data.includes(text)
const withoutPings = (events: SseEvent[]) => events.filter((e) => e.event !== 'ping')

/** Every check issue 16 asks of a proxy in front of Parley, as subtests of `t`. */
export function proxyChecks(t: ProxyTestLike, name: string, startProxy: StartProxy): void {
  t.test(
    `${name}: a webhook through the proxy reaches a stream through the proxy at once, event by event, and a reconnect replays exactly`,
    async (t) => {
      const s = await startServer(t, { env: { TRUST_PROXY: 'true' } })
      const proxy = await startProxy(t, Number(new URL(s.url).port))
      try {
        await streamChecks(t, s, proxy)
      } catch (err) {
        t.comment(proxy.log())
        throw err
      }
    },
  )

  for (const trust of [true, false]) {
    t.test(
      `${name}: the client's address comes from X-Forwarded-For ${trust ? 'with' : 'only with'} TRUST_PROXY (the login throttle per address)`,
      async (t) => {
        const s = await startServer(t, {
          env: { TRUST_PROXY: String(trust), LOGIN_RATE_PER_ADDRESS_PER_MINUTE: '3', LOGIN_RATE_PER_MINUTE: '1000' },
        })
        const proxy = await startProxy(t, Number(new URL(s.url).port))
        // Client A (127.0.0.2) fails three sign-ins on three accounts: its address is throttled.
        const a = { localAddress: '127.0.0.2' }
        for (let i = 0; i < 3; i++) {
          const res = await login(proxy, { email: `nobody${i}@example.com`, password: 'wrong' }, a)
          t.equal(res.status, 401, `A's failed sign-in ${i + 1} answered 401`)
        }
        // Claiming another address in its own X-Forwarded-For does not get A out of it.
        const fourth = await login(proxy, ADMIN, { ...a, xff: '198.51.100.1' })
        t.equal(fourth.status, 429, "A's address is throttled: its own X-Forwarded-For did not make it someone else")
        t.equal(fourth.body?.error?.code, 'LOGIN_THROTTLED')
        // Client B (127.0.0.3) claims to be A: the proxy replaces what a client says.
        const b = await login(proxy, ADMIN, { localAddress: '127.0.0.3', xff: '127.0.0.2' })
        if (trust) t.equal(b.status, 200, "with TRUST_PROXY, B is its own address (from the proxy's X-Forwarded-For)")
        else t.equal(b.status, 429, "without TRUST_PROXY, every client is the proxy's address: B shares A's throttle")
      },
    )
  }
}

async function streamChecks(t: Test, s: TestServer, proxy: Proxy): Promise<void> {
  const signIn = await login(proxy, ADMIN)
  t.equal(signIn.status, 200, 'signed in through the proxy')
  const token = signIn.body.token as string
  // A reference stream straight to Parley sees every event, for the replay comparison.
  const direct = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => direct.close())
  let sse: SseClient = await connectSse(`${proxy.url}/stream`, { token, ca: proxy.ca })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)
  t.match(sse.headers['content-type'], /^text\/event-stream/)

  // One webhook at a time: the next is sent only once the stream has shown the previous
  // one, so a proxy holding events until its buffer fills would stop this loop.
  for (let i = 1; i <= 3; i++) {
    const sent = performance.now()
    const res = await postWebhook(proxy, '5511999990001', `hello ${i}`)
    t.equal(res.status, 200, `webhook ${i} accepted through the proxy`)
    await sse.waitFor((events) => events.some(carries(`hello ${i}`)), 5000)
    const ms = performance.now() - sent
    t.ok(ms < 1000, `webhook ${i} reached the stream through the proxy in ${Math.round(ms)} ms (< 1 s)`)
  }
  await direct.waitFor((events) => events.some(carries('hello 3')))

  // Reconnect from just after the first message, with two more arriving meanwhile.
  const cut = sse.events.find(carries('hello 1'))!.id
  t.ok(cut, 'events carry ids')
  sse.close()
  await sse.closed
  for (const i of [4, 5]) t.equal((await postWebhook(proxy, '5511999990001', `hello ${i}`)).status, 200)
  sse = await connectSse(`${proxy.url}/stream`, { token, lastEventId: cut, ca: proxy.ca })
  await direct.waitFor((events) => events.some(carries('hello 5')))
  const expected = withoutPings(direct.events.slice(direct.events.findIndex((e) => e.id === cut) + 1))
  const lastId = expected.at(-1)!.id
  await sse.waitFor((events) => events.some((e) => e.id === lastId), 5000)
  const replayed = withoutPings(sse.events)
  t.same(
    replayed.map((e) => e.id),
    expected.map((e) => e.id),
    'the replay through the proxy is exactly what came after Last-Event-ID: no gap, no duplicate',
  )
  t.same(replayed, expected, 'with the same events')
  t.equal(new Set(replayed.map((e) => e.id)).size, replayed.length, 'no id twice')
  t.ok(replayed.some(carries('hello 2')) && replayed.some(carries('hello 5')), 'from the second message to the fifth')
  t.notOk(replayed.some(carries('hello 1')), 'not the one before the cut')
  for (const client of [sse, direct]) {
    client.close()
    await client.closed
  }
}
