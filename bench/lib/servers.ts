// Starting the systems under test as child processes, each on its own temp dir.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Child, type CpuUse } from './proc.ts'
import { ADMIN, APP_SECRET, JWT_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN } from './wa.ts'

export interface Running {
  name: string
  child: Child
  url: string
  dataDir: string
  stop(): Promise<CpuUse | undefined>
}

export interface ParleyOptions {
  /** Use this data dir (a copy of a cached database) instead of a fresh one. */
  dataDir?: string
  env?: Record<string, string>
  /** Write a V8 CPU profile of the server into this directory. */
  profileDir?: string
}

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `parley-bench-${tag}-`))
}

export async function startParley(name: string, o: ParleyOptions = {}): Promise<Running> {
  const dataDir = o.dataDir ?? tempDir('parley')
  const node = ['--expose-gc']
  if (o.profileDir) node.push('--cpu-prof', `--cpu-prof-dir=${o.profileDir}`)
  const child = await Child.start({
    name,
    // An experiment (a file that patches Parley, then imports lib/parley-server.ts)
    // can stand in for the server to A/B a proposed change on the same workloads.
    module: process.env.BENCH_PARLEY_MODULE ?? 'lib/parley-server.ts',
    node,
    quiet: true,
    env: {
      DATA_DIR: dataDir,
      META_APP_SECRET: APP_SECRET,
      META_VERIFY_TOKEN: VERIFY_TOKEN,
      WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      JWT_SECRET,
      LOG_LEVEL: 'info',
      // Many bench sessions log in from one address.
      LOGIN_RATE_PER_MINUTE: '100000',
      // Thousands of bench streams share a few sessions (argon2 per login).
      SSE_MAX_STREAMS_PER_SESSION: '1000000',
      ...o.env,
    },
  })
  const port = (child.info as { port: number }).port
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    stop: async () => {
      const cpu = await child.stop()
      if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true })
      return cpu
    },
  }
}

export async function startBaseline(name: string, module: string, env: Record<string, string> = {}): Promise<Running> {
  const dataDir = tempDir(name)
  const child = await Child.start({ name, module, node: ['--expose-gc'], quiet: true, env: { ...env, BENCH_DIR: dataDir } })
  const port = (child.info as { port: number }).port
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    stop: async () => {
      const cpu = await child.stop()
      rmSync(dataDir, { recursive: true, force: true })
      return cpu
    },
  }
}

export async function startPeer(): Promise<Running> {
  const dir = tempDir('peer')
  const child = await Child.start({
    name: 'socket.io peer',
    module: 'baselines/socketio-peer.ts',
    node: ['--expose-gc'],
    quiet: true,
    env: { PEER_DB_FILE: path.join(dir, 'peer.db'), PEER_APP_SECRET: APP_SECRET },
  })
  const port = (child.info as { port: number }).port
  return {
    name: 'socket.io peer',
    child,
    url: `http://127.0.0.1:${port}`,
    dataDir: dir,
    stop: async () => {
      const cpu = await child.stop()
      rmSync(dir, { recursive: true, force: true })
      return cpu
    },
  }
}

/** Logs in `n` sessions (argon2 per login: keep n small; streams share them). */
export async function login(url: string, n = 1): Promise<string[]> {
  const tokens: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    })
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
    tokens.push(((await res.json()) as { token: string }).token)
  }
  return tokens
}

/** The event cursor the server is current to (what a page load would hand the stream). */
export async function cursorOf(url: string, token: string): Promise<{ cursor: string; id: number }> {
  const res = await fetch(`${url}/api/conversations?limit=1`, { headers: { authorization: `Bearer ${token}` } })
  if (res.status !== 200) throw new Error(`GET /api/conversations: ${res.status}`)
  const cursor = ((await res.json()) as { eventId: string }).eventId
  return { cursor, id: Number(cursor.slice(cursor.lastIndexOf(':') + 1)) }
}

/** Spreads `total` clients over receiver processes, each with its own source address
 * (one 127.0.0.x each: the ephemeral port range is per address pair). */
export async function startReceivers(kind: 'sse' | 'sio', total: number, perProcess: number): Promise<Child[]> {
  const n = Math.max(1, Math.ceil(total / perProcess))
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      Child.start({
        name: `${kind}-receivers-${i}`,
        module: kind === 'sse' ? 'gen/sse-receivers.ts' : 'gen/sio-receivers.ts',
        node: ['--max-old-space-size=4096'],
      }),
    ),
  )
}

export const split = (total: number, parts: number, i: number) => Math.floor(total / parts) + (i < total % parts ? 1 : 0)

/**
 * A cached database's copy for one run: the file and the key its secrets were sealed with
 * (DATA_DIR/secret-key, issue 16) — without the key, Parley refuses to start on it.
 */
export function copyDataDir(fromFile: string, toDir: string): string {
  mkdirSync(toDir, { recursive: true })
  const file = path.join(toDir, 'parley.db')
  copyFileSync(fromFile, file)
  const key = path.join(path.dirname(fromFile), 'secret-key')
  if (existsSync(key)) copyFileSync(key, path.join(toDir, 'secret-key'))
  return file
}
