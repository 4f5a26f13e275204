// Real Parley processes for the cluster workload (issue 17): `node --import tsx src/main.ts`
// as an operator starts it, on SQLite or on one PostgreSQL database, and nginx in front of
// several with the upstream of deploy/nginx/parley-several.conf. The minimum of
// test/helpers/pg-cluster.ts, without tap: bench does not import the test helpers.
// Every process started here is killed when the bench process exits, however it exits.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { ROOT } from './proc.ts'
import { tempDir } from './servers.ts'
import { ADMIN, APP_SECRET, JWT_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, WABA_ID } from './wa.ts'
import { localNginxConfig } from '../../test/helpers/nginx-config.ts'

const started = new Set<ChildProcess>()
// Synchronous: the watchdog and Ctrl-C end the run with process.exit, skipping any finally.
process.on('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = []
  // Distinct: each pick is checked alone, so two could coincide.
  while (ports.length < n) {
    const p = await freePort()
    if (!ports.includes(p)) ports.push(p)
  }
  return ports
}

export interface ParleyProc {
  name: string
  url: string
  pid: number
  output(): string
  /** Sends `signal` to this process alone and resolves once it exited (the ownership workload's moves). */
  signal(signal: NodeJS.Signals): Promise<void>
}

export interface ParleySet {
  procs: ParleyProc[]
  stop(): Promise<void>
}

// Cold starts at once (tsx compiling, one migrating, the others waiting for its lock) on a
// 2-core machine that may run other work too.
const START_MS = 180_000

/**
 * `n` Parley processes started at the same moment, on `databaseUrl` (PostgreSQL) or, without
 * it, on SQLite in the process's own DATA_DIR (then n must be 1). Every secret is the same in
 * every process; each has its own PARLEY_NODE_ID, PORT and DATA_DIR; MEDIA_DIR is shared.
 * `extraEnv` is added to (and overrides) every process's environment, e.g. a real Graph URL.
 */
export async function startParleys(
  tag: string,
  n: number,
  databaseUrl?: string,
  extraEnv: Record<string, string> = {},
): Promise<ParleySet> {
  if (!databaseUrl && n !== 1) throw new Error('SQLite: one process per DATA_DIR')
  const base = tempDir(`cluster-${tag}`)
  const mediaDir = path.join(base, 'media')
  mkdirSync(mediaDir)
  const env: Record<string, string> = {
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    MEDIA_DIR: mediaDir,
    JWT_SECRET,
    PARLEY_SECRET_KEY: 'b'.repeat(64),
    META_APP_SECRET: APP_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    // A real WhatsApp channel; the cluster workload sends nothing, so Graph is a closed port
    // unless extraEnv names one (the ownership-rate workload's emulator).
    GRAPH_API_URL: 'http://127.0.0.1:9',
    WHATSAPP_ACCESS_TOKEN: 'bench-graph-token',
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
    LOGIN_RATE_PER_MINUTE: '100000',
    LOGIN_RATE_PER_ADDRESS_PER_MINUTE: '100000',
    SSE_MAX_STREAMS_PER_SESSION: '100000',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    ...extraEnv,
  }
  const ports = await freePorts(n)
  const children: ChildProcess[] = []
  const procs: ParleyProc[] = ports.map((port, i) => {
    const name = `${tag}-${i + 1}`
    const dataDir = path.join(base, name)
    mkdirSync(dataDir)
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env, PARLEY_NODE_ID: name, PORT: String(port), DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    started.add(child)
    children.push(child)
    let out = ''
    // Only the tail: a failed start's message, not a run's log.
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-8000))
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    const signal = (sig: NodeJS.Signals) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill(sig)
      })
    return { name, url: `http://127.0.0.1:${port}`, pid: child.pid!, output: () => out, signal }
  })
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            const t = setTimeout(() => c.kill('SIGKILL'), 10_000)
            c.once('exit', () => {
              clearTimeout(t)
              resolve()
            })
            c.kill('SIGTERM')
          }),
      ),
    )
    for (const c of children) started.delete(c)
    rmSync(base, { recursive: true, force: true })
  }
  try {
    await Promise.all(procs.map((p, i) => serving(p, children[i]!)))
  } catch (err) {
    await stop()
    throw err
  }
  return { procs, stop }
}

async function serving(p: ParleyProc, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_MS
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${p.name} exited (${child.exitCode ?? child.signalCode}) during start:\n${p.output()}`)
    try {
      const res = await fetch(`${p.url}/api/health`)
      await res.text()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${p.name} did not start within ${START_MS} ms:\n${p.output()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** The nginx binary, or undefined. */
export function nginxBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nginx'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
  })
  return found.status === 0 ? found.stdout.trim() : undefined
}

const SEVERAL_CONF = path.join(ROOT, 'deploy', 'nginx', 'parley-several.conf')

/** deploy/nginx/parley-several.conf on a loopback port, its upstream's servers replaced (the tests' derivation). */
function severalConfig(dir: string, port: number, upstreamPorts: number[]): string {
  return localNginxConfig(SEVERAL_CONF, {
    dir,
    port,
    upstreamPorts,
    workerConnections: 4096,
    accessLog: ['  access_log off;'],
    errorLevel: 'warn',
  })
}

export interface Nginx {
  url: string
  /** The master's and its worker's pids (for their CPU time). */
  pids(): number[]
  stop(): Promise<void>
}

export async function startNginx(bin: string, upstreamPorts: number[]): Promise<Nginx> {
  const dir = tempDir('cluster-nginx')
  chmodSync(dir, 0o755)
  const port = await freePort()
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(conf, severalConfig(dir, port, upstreamPorts))
  const args = ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`]
  const check = spawnSync(bin, ['-t', ...args], { encoding: 'utf8' })
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`nginx -t refused the derived config:\n${check.stderr}`)
  }
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  started.add(child)
  let output = ''
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      child.kill('SIGKILL')
    }
    started.delete(child)
    rmSync(dir, { recursive: true, force: true })
  }
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error(`nginx ended before listening: ${output}`)
    }
    try {
      const res = await fetch(`${url}/api/health`)
      await res.text()
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`nginx did not answer /api/health within 15 s: ${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const pids = () => {
    const master = child.pid!
    try {
      const kids = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
      return [master, ...kids]
    } catch {
      return [master]
    }
  }
  return { url, pids, stop }
}
