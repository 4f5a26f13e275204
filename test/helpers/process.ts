// Runs Parley as a real child process (`node --import tsx src/main.ts`), for tests that
// kill it: crash safety can only be shown across a real process boundary.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

// Ports for the processes a test starts itself (and may restart on the same port) are
// taken below the kernel's ephemeral range. Every listen(0) of a test file running in
// parallel, and every outgoing connection, gets its port from that range: a port picked
// there was once handed to another file's in-process Parley between the check and the
// child's listen, the child could not bind, and the test talked to the other Parley.
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(lo) && lo > 4096) return lo
  } catch {
    // not Linux: the IANA range's start
  }
  return 49152
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

export async function freePort(): Promise<number> {
  const hi = ephemeralLow() - 1
  const lo = Math.max(1025, hi - 12_000)
  for (let i = 0; i < 100; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo))
    if (await canListen(port)) return port
  }
  throw new Error(`no free port in ${lo}-${hi}`)
}

/**
 * Whether process `pid` itself holds the listening socket on `port` (Linux: /proc).
 * A start counts only then, so a test never goes on with another process's server.
 */
export function listensOn(pid: number | undefined, port: number): boolean {
  if (pid === undefined) return false
  if (!existsSync('/proc/net/tcp')) return true
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const inodes = new Set<string>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      // local address, state 0A = LISTEN, inode
      if (cols.length > 9 && cols[1]!.endsWith(hex) && cols[3] === '0A') inodes.add(cols[9]!)
    }
  }
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return false
  }
  return fds.some((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      return m !== null && inodes.has(m[1]!)
    } catch {
      return false
    }
  })
}

export interface ParleyProcess {
  url: string
  child: ChildProcess
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Everything the process wrote to stdout and stderr so far (its log). */
  output(): string
}

// A cold start compiles TypeScript through tsx: allow it a while on a busy 2-core box.
export const START_TIMEOUT_MS = 30_000

/**
 * Waits until `child` itself serves Parley on `port`: /api/setup answers and the
 * listening socket is the child's. Throws if the child exits first or the time runs out.
 */
export async function waitUntilServing(child: ChildProcess, port: number, output: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Parley exited with ${child.exitCode} during start:\n${output()}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/setup`)
      if (res.ok && listensOn(child.pid, port)) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Parley did not start in time:\n${output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function spawnParley(env: Record<string, string>, port?: number): Promise<ParleyProcess> {
  const p = port ?? (await freePort())
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(p), HOST: '127.0.0.1', LOG_LEVEL: env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const url = `http://127.0.0.1:${p}`
  await waitUntilServing(child, p, () => output)
  return {
    url,
    child,
    output: () => output,
    kill(signal = 'SIGKILL') {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill(signal)
      })
    },
  }
}
