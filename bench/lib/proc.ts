// Child processes for servers and load generators, with a small request/reply protocol
// over IPC. Every call has a deadline and every child is killed when the bench ends,
// so a stuck workload cannot outlive the run.
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const ROOT = path.resolve(BENCH_DIR, '..')

type Msg = { type?: string; id?: number; ok?: boolean; result?: unknown; error?: string; info?: unknown }

export interface ChildOptions {
  name: string
  /** Path relative to bench/. */
  module: string
  env?: Record<string, string>
  /** Extra node flags (the tsx loader is always added). */
  node?: string[]
  readyTimeoutMs?: number
  /** Send the child's stdout to /dev/null (a server's request log). */
  quiet?: boolean
}

const live = new Set<Child>()

/** Soft and hard RLIMIT_NOFILE of this process, from /proc. */
export function nofileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))
  const m = line && /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line)
  const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? 1 << 20 : Number(s))
  return { soft: n(m?.[1]), hard: n(m?.[2]) }
}

export class Child {
  info: unknown
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private exited = false
  readonly exitedP: Promise<void>

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    live.add(this)
    this.exitedP = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exited = true
        live.delete(this)
        for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code ?? signal}) during a call`))
        this.waiting.clear()
        resolve()
      })
    })
    proc.on('message', (m: Msg) => {
      if (m.id === undefined) return
      const w = this.waiting.get(m.id)
      if (!w) return
      this.waiting.delete(m.id)
      if (m.ok) w.resolve(m.result)
      else w.reject(new Error(`${name}: ${m.error}`))
    })
  }

  static start(opts: ChildOptions): Promise<Child> {
    const execArgv = ['--import', 'tsx', ...(opts.node ?? [])]
    const modulePath = path.join(BENCH_DIR, opts.module)
    const env = { ...process.env, ...opts.env }
    const limits = nofileLimits()
    const stdout = opts.quiet ? 'ignore' : 'inherit'
    let proc: ChildProcess
    // Node cannot raise its own RLIMIT_NOFILE; prlimit can, for the child, up to the hard limit.
    if (limits.soft < limits.hard && existsSync('/usr/bin/prlimit')) {
      proc = spawn('/usr/bin/prlimit', [`--nofile=${limits.hard}:${limits.hard}`, '--', process.execPath, ...execArgv, modulePath], {
        cwd: ROOT,
        env,
        stdio: ['ignore', stdout, 'inherit', 'ipc'],
        serialization: 'advanced',
      })
    } else {
      proc = fork(modulePath, [], { cwd: ROOT, env, execArgv, stdio: ['ignore', stdout, 'inherit', 'ipc'], serialization: 'advanced' })
    }
    const child = new Child(opts.name, proc)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        child.kill()
        reject(new Error(`${opts.name} did not start within ${opts.readyTimeoutMs ?? 60_000} ms`))
      }, opts.readyTimeoutMs ?? 60_000)
      const onMsg = (m: Msg) => {
        if (m.type === 'ready') {
          clearTimeout(t)
          proc.off('message', onMsg)
          child.info = m.info
          resolve(child)
        } else if (m.type === 'failed') {
          clearTimeout(t)
          child.kill()
          reject(new Error(`${opts.name} failed to start: ${m.error}`))
        }
      }
      proc.on('message', onMsg)
      void child.exitedP.then(() => {
        clearTimeout(t)
        reject(new Error(`${opts.name} exited before it was ready`))
      })
    })
  }

  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`${this.name}.${cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(id, {
        resolve: (v) => (clearTimeout(t), resolve(v as T)),
        reject: (e) => (clearTimeout(t), reject(e)),
      })
      this.proc.send({ id, cmd, args })
    })
  }

  /** Asks the child to exit (it reports its CPU time); kills it if it does not. */
  async stop(timeoutMs = 15_000): Promise<CpuUse | undefined> {
    if (this.exited) return undefined
    let cpu: CpuUse | undefined
    try {
      cpu = await this.call<CpuUse>('exit', {}, timeoutMs)
    } catch {
      this.kill()
    }
    await Promise.race([this.exitedP, new Promise((r) => setTimeout(r, 3000))])
    this.kill()
    return cpu
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL')
  }
}

export interface CpuUse {
  userMs: number
  systemMs: number
}

/** CPU time (user + system, ms) the process has used so far, from /proc. */
export function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    // utime and stime, in clock ticks (100 Hz on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

export function killAllChildren(): void {
  for (const c of live) c.kill()
}

// ---- child side ----

type Handler = (args: any) => unknown
export function serve(
  handlers: Record<string, Handler>,
  onExit?: () => Promise<void> | void,
): {
  ready(info?: unknown): void
  failed(err: unknown): void
} {
  // An orphaned load generator must not keep loading the machine.
  process.on('disconnect', () => process.exit(0))
  process.on('message', async (m: { id: number; cmd: string; args: unknown }) => {
    if (m.cmd === 'exit') {
      try {
        await onExit?.()
      } catch {}
      const u = process.cpuUsage()
      process.send?.({ id: m.id, ok: true, result: { userMs: u.user / 1000, systemMs: u.system / 1000 } }, () => process.exit(0))
      return
    }
    const h = handlers[m.cmd]
    try {
      if (!h) throw new Error(`unknown command ${m.cmd}`)
      const result = await h(m.args)
      process.send?.({ id: m.id, ok: true, result })
    } catch (err) {
      process.send?.({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })
    }
  })
  return {
    ready: (info) => process.send?.({ type: 'ready', info }),
    failed: (err) => process.send?.({ type: 'failed', error: err instanceof Error ? err.stack : String(err) }),
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
