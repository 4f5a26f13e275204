// A production install starts without dev tools (issue 16): the files the Dockerfile copies
// (package.json, the lock, src/, migrations/, a prebuilt web/dist) with exactly the packages
// `npm ci --omit=dev` installs (the lock's entries not marked dev, hard-linked from this
// checkout), and Parley started as the systemd unit and the image start it.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { freePort } from './helpers/process.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
const MARKER = 'parley-production-start-test'

interface LockEntry {
  dev?: boolean
}

/** A production install in a temp dir; returns its root. */
function productionInstall(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-prod-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const link = (from: string, to: string) => {
    mkdirSync(path.dirname(to), { recursive: true })
    const cp = spawnSync('cp', ['-al', from, to], { encoding: 'utf8' })
    if (cp.status !== 0) throw new Error(`cp -al ${from}: ${cp.stderr}`)
  }
  for (const rel of ['package.json', 'package-lock.json', 'src', 'migrations']) link(path.join(ROOT, rel), path.join(dir, rel))
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || key.slice('node_modules/'.length).includes('/node_modules/') || entry.dev) continue
    // Optional packages for other platforms are in the lock but not installed here.
    if (existsSync(path.join(ROOT, key))) link(path.join(ROOT, key), path.join(dir, key))
  }
  // The client as the build stage leaves it (built after the sources were copied).
  mkdirSync(path.join(dir, 'web', 'dist'), { recursive: true })
  writeFileSync(path.join(dir, 'web', 'dist', 'index.html'), `<!doctype html><title>${MARKER}</title>`)
  return dir
}

// One install for both: the first test starts Parley, the second removes web/dist.
const dir = productionInstall(t)

t.test('Parley starts from the production install, answers /api/health and serves the prebuilt client', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-prod-data-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    TRUST_PROXY: 'true',
    COOKIE_SECURE: 'true',
    LOG_LEVEL: 'info',
    GRAPH_API_URL: 'http://127.0.0.1:9/v23.0',
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let ended = false
  void exited.then(() => (ended = true))
  t.teardown(async () => {
    if (!ended) {
      child.kill('SIGKILL')
      await exited
    }
  })
  // Listening: the start line in the log.
  const deadline = Date.now() + 60_000
  while (!output.includes('Parley is listening')) {
    if (ended) throw new Error(`Parley ended before listening:\n${output}`)
    if (Date.now() > deadline) throw new Error(`Parley did not listen within 60 s:\n${output}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const health = await fetch(`http://127.0.0.1:${port}/api/health`)
  t.equal(health.status, 200, 'healthy')
  t.same(await health.json(), { status: 'ok' })
  const page = await fetch(`http://127.0.0.1:${port}/`)
  t.equal(page.status, 200)
  t.match(await page.text(), MARKER, 'the prebuilt client is served')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'stops cleanly on SIGTERM (systemd, docker stop)')
  t.notMatch(output, /Cannot find (module|package)/)
})

t.test('a production install has no dev tools, and start checks the prebuilt client without building', async (t) => {
  for (const dev of ['vite', 'typescript', 'drizzle-kit', '@biomejs/biome', 'tap'])
    t.notOk(existsSync(path.join(dir, 'node_modules', dev)), `${dev} is not installed`)
  t.ok(existsSync(path.join(dir, 'node_modules', 'tsx')), 'tsx is (a runtime dependency: it runs src/)')

  const tool = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/web-build.ts', ...args], { cwd: dir, encoding: 'utf8' })
  const check = tool(['--check'])
  t.equal(check.status, 0, `--check passes with a fresh web/dist ${check.stderr}`)
  const prestart = tool([])
  t.equal(prestart.status, 0, `npm start's prestart builds nothing ${prestart.stderr}`)
  t.equal(prestart.stdout, '', 'and says nothing')

  rmSync(path.join(dir, 'web', 'dist'), { recursive: true })
  const missing = tool([])
  t.equal(missing.status, 1, 'without web/dist and without Vite, prestart stops')
  t.match(missing.stderr, 'web/dist is missing: Vite (a dev dependency) is not installed here')
  t.match(tool(['--check']).stderr, 'web/dist is missing: build it before starting')
})
