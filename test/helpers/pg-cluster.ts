// Several real Parley processes (`node --import tsx src/main.ts`) on one PostgreSQL database
// (issue 17), pointed at one Graph emulator, and nginx in front of them with the upstream of
// deploy/nginx/parley-several.conf. Each process has its own PARLEY_NODE_ID, PORT and DATA_DIR;
// MEDIA_DIR and every secret are shared, as the README's "Several processes" asks.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { metaEscape, signPayload } from '../../src/channels/meta-signature.ts'
import { type Emu, GRAPH_TOKEN, WABA_ID } from './emulator.ts'
import { localNginxConfig } from './nginx-config.ts'
import { freePort, listensOn, type ParleyProcess } from './process.ts'
import { binaryPath } from './proxy.ts'
import { ADMIN, type ApiCall, APP_SECRET, PHONE_NUMBER_ID, type TestLike, VERIFY_TOKEN } from './server.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const NGINX_SEVERAL_CONF = path.join(ROOT, 'deploy', 'nginx', 'parley-several.conf')

// The same in every process: a session signed by one is checked by another, a secret sealed
// by one is opened by another.
const SHARED_SECRETS = {
  JWT_SECRET: 'multi-process-test-jwt-secret-0123456789abcdef',
  PARLEY_SECRET_KEY: '7'.repeat(64),
  META_APP_SECRET: APP_SECRET,
  META_VERIFY_TOKEN: VERIFY_TOKEN,
}

export interface ClusterNode {
  name: string
  port: number
  url: string
  proc: ParleyProcess
}

export interface Cluster {
  nodes: ClusterNode[]
  mediaDir: string
  /** The environment every process got (without PORT, DATA_DIR, PARLEY_NODE_ID). */
  env: Record<string, string>
  /** Every process's log so far, each line prefixed with its name (for a failure message). */
  logs(): string
}

/**
 * Spawns one Parley child, killed (SIGKILL) at teardown whether or not it started: a start
 * that fails in a Promise.all must not leave its siblings running.
 */
function launch(t: TestLike, env: Record<string, string>, port: number): { proc: ParleyProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const kill = (signal: NodeJS.Signals = 'SIGKILL') =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill(signal)
    })
  t.teardown(() => kill())
  const proc: ParleyProcess = { url: `http://127.0.0.1:${port}`, child, output: () => output, kill }
  return { proc, ready: serving(proc, port) }
}

// Three cold starts at once (tsx compiling, one migrating, the others waiting for its lock)
// on a 2-core machine that runs other tests too: far longer than one start's 30 s.
const CLUSTER_START_MS = 180_000

/** Resolves when the process itself answers /api/health on `port`; rejects when it exits or the time runs out. */
async function serving(proc: ParleyProcess, port: number): Promise<void> {
  const deadline = Date.now() + CLUSTER_START_MS
  for (;;) {
    const { exitCode, signalCode } = proc.child
    if (exitCode !== null || signalCode !== null)
      throw new Error(`Parley on port ${port} exited (${exitCode ?? signalCode}) during start:\n${proc.output()}`)
    try {
      const res = await fetch(`${proc.url}/api/health`)
      await res.text()
      if (res.ok && listensOn(proc.child.pid, port)) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Parley on port ${port} did not start within ${CLUSTER_START_MS} ms:\n${proc.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** `n` processes started at the same moment on `databaseUrl` (a fresh, empty database migrates on the way). */
export async function startCluster(
  t: TestLike,
  databaseUrl: string,
  emu: Emu,
  n = 3,
  extraEnv: Record<string, string> = {},
): Promise<Cluster> {
  const base = mkdtempSync(path.join(tmpdir(), 'parley-cluster-'))
  t.teardown(() => rmSync(base, { recursive: true, force: true }))
  const mediaDir = path.join(base, 'media')
  mkdirSync(mediaDir)
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    MEDIA_DIR: mediaDir,
    ...SHARED_SECRETS,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    // A real WhatsApp channel on the emulator (no sandbox on PostgreSQL).
    GRAPH_API_URL: emu.graphUrl,
    WHATSAPP_ACCESS_TOKEN: GRAPH_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
    LOGIN_RATE_PER_MINUTE: '1000',
    ...extraEnv,
  }
  const ports: number[] = []
  // Distinct ports: freePort checks each alone, so two picks could coincide.
  while (ports.length < n) {
    const p = await freePort()
    if (!ports.includes(p)) ports.push(p)
  }
  const launched = ports.map((port, i) => {
    const name = `node-${i + 1}`
    const dataDir = path.join(base, name)
    mkdirSync(dataDir)
    return { name, port, ...launch(t, { ...env, PARLEY_NODE_ID: name, DATA_DIR: dataDir }, port) }
  })
  const nodes = launched.map(({ name, port, proc }) => ({ name, port, url: proc.url, proc }))
  const logs = () =>
    nodes
      .map((node) =>
        node.proc
          .output()
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => `[${node.name}] ${l}`)
          .join('\n'),
      )
      .join('\n')
  const started = await Promise.allSettled(launched.map((l) => l.ready))
  const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed.length) throw new Error(`${failed.length} of ${n} processes did not start:\n${failed.map((f) => String(f.reason)).join('\n')}`)
  return { nodes, mediaDir, env, logs }
}

/** Signs in on `url` (any process: the session lives in the database) and returns the bearer token. */
export async function signIn(url: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`login on ${url} answered ${res.status}: ${text}`)
  return (JSON.parse(text) as { token: string }).token
}

/** POSTs `payload` to `url`'s WhatsApp webhook, escaped and signed as Meta does; the status and body. */
export async function postSigned(url: string, payload: unknown): Promise<{ status: number; text: string }> {
  const body = metaEscape(JSON.stringify(payload))
  const res = await fetch(`${url}/webhooks/whatsapp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(APP_SECRET, body) },
    body,
  })
  return { status: res.status, text: await res.text() }
}

export interface StoredMessage {
  id: number
  text: string | null
  conversationId: number
}

/** Every message of every conversation, read through `call`'s process (paged to the end). */
export async function storedMessages(call: ApiCall): Promise<StoredMessage[]> {
  const out: StoredMessage[] = []
  let cursor: string | null = null
  do {
    const q: string = `/api/conversations?status=all&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
    const page = await call('GET', q)
    if (page.status !== 200) throw new Error(`GET ${q}: ${page.status} ${JSON.stringify(page.body)}`)
    for (const c of page.body.conversations as Array<{ id: number }>) {
      let older: string | null = null
      do {
        const m: string = `/api/conversations/${c.id}/messages?limit=200${older ? `&cursor=${encodeURIComponent(older)}` : ''}`
        const msgs = await call('GET', m)
        if (msgs.status !== 200) throw new Error(`GET ${m}: ${msgs.status} ${JSON.stringify(msgs.body)}`)
        for (const msg of msgs.body.messages as Array<{ id: number; text?: string | null }>)
          out.push({ id: msg.id, text: msg.text ?? null, conversationId: c.id })
        older = msgs.body.nextCursor
      } while (older)
    }
    cursor = page.body.nextCursor
  } while (cursor)
  return out
}

export interface Nginx {
  url: string
  log(): string
  /** The upstream address (127.0.0.1:port) of every request nginx passed on so far. */
  upstreams(): string[]
}

/**
 * deploy/nginx/parley-several.conf's upstream and HTTPS server block on loopback ports
 * without TLS, the upstream's servers replaced by `upstreamPorts` (nginx-config.ts).
 */
export function nginxSeveralConfig(dir: string, port: number, upstreamPorts: number[]): string {
  return localNginxConfig(NGINX_SEVERAL_CONF, {
    dir,
    port,
    upstreamPorts,
    workerConnections: 1024,
    // Which process served each request, for the test to see that nginx spread them.
    accessLog: ["  log_format upstream '$upstream_addr';", `  access_log ${dir}/access.log upstream;`],
  })
}

export async function startNginxSeveral(t: TestLike, upstreamPorts: number[]): Promise<Nginx> {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-nginx-several-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  chmodSync(dir, 0o755)
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(conf, nginxSeveralConfig(dir, port, upstreamPorts))
  const nginx = binaryPath('nginx') ?? 'nginx'
  const args = ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`]
  const check = spawnSync(nginx, ['-t', ...args], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`nginx -t refused the derived config:\n${check.stderr}`)
  const child = spawn(nginx, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  const log = () => {
    let text = output
    try {
      text += readFileSync(path.join(dir, 'error.log'), 'utf8')
    } catch {
      // not written yet
    }
    return text
  }
  // An upstream that failed before the one that answered is listed too ("a:1, b:2").
  const upstreams = () =>
    readFileSync(path.join(dir, 'access.log'), 'utf8')
      .split('\n')
      .flatMap((line) => line.split(/[,:]\s+/))
      .map((a) => a.trim())
      .filter((a) => /^127\.0\.0\.1:\d+$/.test(a))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx ended before listening:\n${log()}`)
    try {
      const res = await fetch(`${url}/api/health`)
      await res.text()
      if (res.status === 200) return { url, log, upstreams }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nginx did not answer /api/health within 15 s:\n${log()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
