// The committed migrations are current (issue 17): for each dialect, drizzle-kit generate run
// against a copy of its migrations folder must create nothing. A schema change committed without
// its migration (`npm run db:generate`) fails here, so CI fails, for either dialect.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

const root = path.join(import.meta.dirname, '..')
const drizzleKit = path.join(root, 'node_modules', '.bin', 'drizzle-kit')

const dialects = [
  { dialect: 'sqlite', schema: 'src/store/schema.ts', migrations: 'migrations/sqlite' },
  { dialect: 'postgresql', schema: 'src/store/pg/schema.ts', migrations: 'migrations/pg' },
] as const

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}

for (const d of dialects) {
  t.test(`${d.dialect}: drizzle-kit generate finds nothing to migrate`, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-migcur-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const out = path.join(dir, 'migrations')
    cpSync(path.join(root, d.migrations), out, { recursive: true })
    const before = listFiles(out)
    t.ok(
      before.some((f) => f.endsWith('.sql')),
      `${d.migrations} has migrations`,
    )
    const config = path.join(dir, 'drizzle.config.ts')
    // drizzle-kit reads `out` as relative to the working directory (it prefixes './').
    const settings = { dialect: d.dialect, schema: `./${d.schema}`, out: path.relative(root, out) }
    writeFileSync(config, `export default ${JSON.stringify(settings)}\n`)

    // drizzle-kit prints to stderr and exits 0 even when it fails (an unreadable folder, a schema
    // that does not load), so its words are checked too, not only its exit code.
    const run = spawnSync(drizzleKit, ['generate', '--config', config, '--name', 'not_committed'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const said = `${run.stdout}${run.stderr}`
    t.equal(run.status, 0, 'drizzle-kit ran', { said, error: run.error?.message })
    t.match(said, /No schema changes, nothing to migrate/, 'drizzle-kit compared the schema with the migrations', { said })
    const after = listFiles(out)
    t.same(
      after,
      before,
      `no new migration: ${d.schema} changed without its migration; run \`npm run db:generate -- --name <what>\` and commit it`,
    )
  })
}
