// `npm start` runs this first (prestart): the web client is built only when web/dist is
// missing or older than what it is built from, so a restart costs no build and a
// production install with a prebuilt web/dist (`npm ci --omit=dev`, no Vite) starts.
//   node --import tsx src/web-build.ts           build when needed
//   node --import tsx src/web-build.ts --check   never build: exit 1 naming the reason
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * What the client is built from, relative to the root: web/ (pages, sources, Vite's
 * config), src/ (the client imports shared rules and types from it) and the lock file
 * (the versions of Preact and the other bundled packages).
 */
export const WEB_SOURCES = ['web', 'src', 'package-lock.json']
const SKIP = new Set(['dist', 'node_modules', '.build-lock'])

export type WebBuildDecision = { build: false } | { build: true; reason: string }

function newest(p: string): { file: string; mtimeMs: number } | undefined {
  const st = statSync(p, { throwIfNoEntry: false })
  // Gone, or a dangling link: nothing the build reads.
  if (!st) return undefined
  if (!st.isDirectory()) return { file: p, mtimeMs: st.mtimeMs }
  let best: { file: string; mtimeMs: number } | undefined
  for (const name of readdirSync(p)) {
    if (SKIP.has(name)) continue
    const n = newest(path.join(p, name))
    if (n && (!best || n.mtimeMs > best.mtimeMs)) best = n
  }
  return best
}

/** Whether web/dist must be built under `root`, and why. */
export function webBuildDecision(root: string = ROOT): WebBuildDecision {
  const built = path.join(root, 'web', 'dist', 'index.html')
  if (!existsSync(built)) return { build: true, reason: 'web/dist is missing' }
  const builtAt = statSync(built).mtimeMs
  for (const source of WEB_SOURCES) {
    const n = newest(path.join(root, source))
    if (n && n.mtimeMs > builtAt) return { build: true, reason: `web/dist is older than ${path.relative(root, n.file)}` }
  }
  return { build: false }
}

function main(): void {
  const check = process.argv.includes('--check')
  const decision = webBuildDecision()
  if (!decision.build) return
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js')
  if (check || !existsSync(vite)) {
    const why = check
      ? 'build it before starting'
      : 'Vite (a dev dependency) is not installed here: run `npm ci` and `npm run build`, or install a prebuilt web/dist'
    console.error(`${decision.reason}: ${why}`)
    process.exit(1)
  }
  console.log(`${decision.reason}: building the web client`)
  const run = spawnSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'inherit' })
  process.exit(run.status ?? 1)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
