// `npm start` builds the web client only when web/dist is missing or stale (src/web-build.ts),
// and a production install (`npm ci --omit=dev`) runs without dev tools.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ROOT, webBuildDecision } from '../src/web-build.ts'

/** A checkout in a temp dir: web sources, shared src, a lock file, and optionally a build. */
function checkout(t: { teardown(fn: () => void): void }) {
  const root = mkdtempSync(path.join(tmpdir(), 'parley-webbuild-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const write = (rel: string, atSeconds: number, text = 'x') => {
    const file = path.join(root, rel)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, text)
    utimesSync(file, atSeconds, atSeconds)
  }
  write('web/index.html', 1000)
  write('web/vite.config.ts', 1000)
  write('web/src/main.tsx', 1000)
  write('src/events/preview.ts', 1000)
  write('package-lock.json', 1000)
  return { root, write }
}

t.test('web/dist missing: build', async (t) => {
  const { root } = checkout(t)
  t.same(webBuildDecision(root), { build: true, reason: 'web/dist is missing' })
})

t.test('web/dist newer than every source: no build', async (t) => {
  const { root, write } = checkout(t)
  write('web/dist/index.html', 2000)
  write('web/dist/assets/index-abc.js', 2000)
  t.same(webBuildDecision(root), { build: false })
})

t.test('a source changed after the build: build, naming it', async (t) => {
  for (const [rel, why] of [
    ['web/src/main.tsx', 'a client source'],
    ['web/src/settings/NewSection.tsx', 'a new client file'],
    ['web/index.html', 'the page'],
    ['src/events/preview.ts', 'a rule the client shares with the server'],
    ['package-lock.json', 'a dependency upgrade'],
  ] as const) {
    const { root, write } = checkout(t)
    write('web/dist/index.html', 2000)
    write(rel, 3000)
    t.same(webBuildDecision(root), { build: true, reason: `web/dist is older than ${rel}` }, why)
  }
})

t.test('what the build writes and what is installed there do not count', async (t) => {
  const { root, write } = checkout(t)
  write('web/dist/index.html', 2000)
  write('web/dist/assets/late.js', 5000)
  write('web/node_modules/x/index.js', 5000)
  write('web/.build-lock/x', 5000)
  symlinkSync(path.join(root, 'nowhere'), path.join(root, 'web', 'src', 'dangling.ts'))
  t.same(webBuildDecision(root), { build: false }, 'nor does a dangling link')
})

t.test('--check never builds: it exits 1 with the reason when a build is needed, 0 when not', async (t) => {
  // This checkout's own state decides: compare the script's answer with the function's.
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/web-build.ts', '--check'], { cwd: ROOT, encoding: 'utf8' })
  const decision = webBuildDecision(ROOT)
  if (decision.build) {
    t.equal(run.status, 1)
    t.match(run.stderr, decision.reason)
  } else t.equal(run.status, 0, run.stderr)
})

t.test('npm start runs the decision first, not a build every time', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  t.equal(pkg.scripts.prestart, 'node --import tsx src/web-build.ts')
  t.equal(pkg.scripts.start, 'node --import tsx src/main.ts')
})

// What `npm ci --omit=dev` leaves must be enough to run: every package reachable by
// import from the processes (server, backup, admin, this script) is a runtime dependency.
t.test('the processes import only runtime dependencies (tsx included: it runs them)', async (t) => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  const runtime = new Set(Object.keys(pkg.dependencies))
  t.ok(runtime.has('tsx'), 'tsx runs the TypeScript sources at run time')
  const seen = new Set<string>()
  const packages = new Map<string, string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = (m[1] ?? m[2])!
      if (/^(import|export)\s+type\s/.test(m[0].trim())) continue
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec))
      else if (!spec.startsWith('node:')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        if (!packages.has(name)) packages.set(name, path.relative(ROOT, file))
      }
    }
  }
  for (const entry of ['src/main.ts', 'src/backup.ts', 'src/admin.ts', 'src/web-build.ts']) visit(path.join(ROOT, entry))
  t.ok(seen.size > 50, `followed the imports (${seen.size} files)`)
  for (const [name, from] of packages) t.ok(runtime.has(name), `${name} (imported by ${from}) is in dependencies`)
})
