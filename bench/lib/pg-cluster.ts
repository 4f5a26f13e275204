// PostgreSQL for a bench run (issue 17): the server named by PARLEY_BENCH_PG_URL, or a
// private cluster started for the run in a temp dir and removed at its end. The private
// one commits as durably as Parley's SQLite (synchronous=FULL): fsync=on and
// synchronous_commit=on, which are PostgreSQL's defaults, set explicitly so a changed
// default cannot make the comparison unfair. Either way the workload gets databases of
// its own, dropped at the end.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { tempDir } from './servers.ts'

export interface PgServer {
  /** Where it is, without any password: for notes and logs. */
  describe: string
  /** Started for this run (in os.tmpdir()), not given by PARLEY_BENCH_PG_URL. */
  private: boolean
  /** A new empty database on it; its URL. */
  createDatabase(tag: string): Promise<string>
  /** Drops the databases it created, and stops and removes a private cluster. */
  close(): Promise<void>
}

/** The newest installed server's bin directory, or undefined. */
export function findPgBin(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')) && existsSync(path.join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined
}

/** The URL's server without user or password (a DATABASE_URL holds a secret). */
export function redact(url: string): string {
  try {
    const u = new URL(url)
    const host = u.searchParams.get('host') ?? u.host
    return `${u.protocol}//${host}`
  } catch {
    return '(an unparsable URL)'
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/**
 * PostgreSQL for this run: PARLEY_BENCH_PG_URL if set, else a private cluster; `skipped`
 * with the reason when there are no binaries to start one (not a failure of the run).
 */
export async function openPgServer(log: (msg: string) => void): Promise<PgServer | { skipped: string }> {
  const given = process.env.PARLEY_BENCH_PG_URL
  if (given) return onServer(given, `PARLEY_BENCH_PG_URL (${redact(given)})`, false, async () => {})
  const bin = findPgBin()
  if (!bin) return { skipped: 'no PostgreSQL (no /usr/lib/postgresql/*/bin/initdb; set PARLEY_BENCH_PG_URL to use a server)' }
  const dir = tempDir('pg')
  const data = path.join(dir, 'data')
  // initdb refuses to run as root: the cluster belongs to the postgres user.
  const asRoot = process.getuid?.() === 0
  const as = (cmd: string, args: string[]) =>
    (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]) as [string, string[]]
  const sh = (cmd: string, args: string[]) => {
    const [c, a] = as(cmd, args)
    return execFileSync(c, a, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 120_000 })
  }
  if (asRoot) {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      chownSync(dir, uid, gid)
    } catch {
      rmSync(dir, { recursive: true, force: true })
      throw new Error('pglog: running as root, the private PostgreSQL cluster needs a postgres user (initdb refuses root)')
    }
  }
  let started = false
  const stopNow = (mode: 'fast' | 'immediate') => {
    if (started) {
      try {
        sh(path.join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop'])
      } catch (err) {
        log(`pglog: pg_ctl stop failed: ${(err as Error).message}`)
      }
      started = false
    }
    rmSync(dir, { recursive: true, force: true })
  }
  // The run can end without the workload's finally: the watchdog or Ctrl-C exit the process.
  // A private server must not outlive it (synchronous: an exit handler cannot await).
  const onExit = () => stopNow('immediate')
  process.once('exit', onExit)
  const stop = async () => {
    process.off('exit', onExit)
    stopNow('fast')
  }
  try {
    log(`pglog: starting a private PostgreSQL cluster (${path.basename(path.dirname(bin))}) in ${dir}`)
    sh(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'])
    // Unix socket only (no TCP port to collide with another run); enough connections for
    // three processes' pools; durability as Parley's SQLite.
    const opts = [
      `-k ${dir}`,
      "-c listen_addresses=''",
      '-c fsync=on',
      '-c synchronous_commit=on',
      '-c full_page_writes=on',
      '-c max_connections=200',
    ].join(' ')
    // Marked before pg_ctl returns: a start that timed out may still leave a server to stop.
    started = true
    sh(path.join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start'])
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    await stop()
    throw new Error(`pglog: the private PostgreSQL cluster did not start: ${(e.stderr || e.message).trim().slice(0, 500)}`)
  }
  const url = `postgresql://postgres@localhost/postgres?host=${dir}`
  return onServer(url, `a private cluster (${path.basename(path.dirname(bin))}, fsync=on, synchronous_commit=on) in a temp dir`, true, stop)
}

function onServer(adminUrl: string, describe: string, isPrivate: boolean, stop: () => Promise<void>): PgServer {
  const made: string[] = []
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl })
    await c.connect()
    try {
      return await fn(c)
    } finally {
      await c.end()
    }
  }
  return {
    describe,
    private: isPrivate,
    async createDatabase(tag) {
      const name = `parley_bench_${tag}_${randomBytes(4).toString('hex')}`
      await admin((c) => c.query(`CREATE DATABASE ${name}`))
      made.push(name)
      return withDatabase(adminUrl, name)
    },
    async close() {
      try {
        for (const name of made.splice(0)) await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
      } finally {
        await stop()
      }
    },
  }
}
