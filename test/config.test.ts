import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { assertSharedSecrets, ConfigError, DEFAULTS, loadConfig } from '../src/config.ts'

t.test('defaults, generated secrets kept in the data dir', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-cfg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const c = loadConfig({ DATA_DIR: dir })
  t.equal(c.port, DEFAULTS.PORT)
  t.equal(c.graphApiUrl, DEFAULTS.GRAPH_API_URL)
  t.equal(c.eventRetentionDays, 7)
  t.ok(c.jwtSecret.length >= 32)
  t.equal(readFileSync(path.join(dir, 'jwt-secret'), 'utf8').trim(), c.jwtSecret)
  t.equal(loadConfig({ DATA_DIR: dir }).jwtSecret, c.jwtSecret, 'kept across restarts')
  t.ok(c.metaAppSecretGenerated)
})

t.test('invalid values stop the start with one line naming the variable', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-cfg-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ GRAPH_API_URL: 'ftp://x' }, 'GRAPH_API_URL'],
    [{ ADMIN_EMAIL: 'a@b.c' }, 'ADMIN_PASSWORD'],
    [{ ADMIN_EMAIL: 'nope', ADMIN_PASSWORD: 'longenough' }, 'ADMIN_EMAIL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ EVENT_RETENTION_DAYS: '0' }, 'EVENT_RETENTION_DAYS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ]
  for (const [env, variable] of cases) {
    let caught: unknown
    try {
      loadConfig({ DATA_DIR: dir, ...env })
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof ConfigError, `${variable}: a ConfigError`)
    t.equal((caught as ConfigError).variable, variable)
    t.notMatch((caught as ConfigError).message, /\n/, 'one line')
    t.match((caught as ConfigError).message, variable, 'names the variable')
  }
})

t.test('DATABASE_URL chooses the database (issue 17); the URL never appears in an error', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-cfg-db-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const sqlite = loadConfig({ DATA_DIR: dir })
  t.same(sqlite.database, { kind: 'sqlite' })
  t.equal(sqlite.databaseFile, path.join(dir, 'parley.db'))
  t.same(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'file:' }).database, { kind: 'sqlite' })
  t.equal(loadConfig({ DATA_DIR: dir, DATABASE_URL: `file:${dir}/other.db` }).databaseFile, path.join(dir, 'other.db'))
  const url = 'postgres://parley:s3cret@db.internal:5432/parley'
  // Several processes share the secrets: PostgreSQL requires them set, never generated per process.
  const shared = {
    JWT_SECRET: 'j'.repeat(40),
    PARLEY_SECRET_KEY: 'ab'.repeat(32),
    META_APP_SECRET: 'app-secret',
    META_VERIFY_TOKEN: 'verify',
  }
  t.same(loadConfig({ DATA_DIR: dir, DATABASE_URL: url, ...shared }).database, { kind: 'postgres', url })
  t.same(loadConfig({ DATA_DIR: dir, DATABASE_URL: 'postgresql://x@h/d', ...shared }).database.kind, 'postgres')
  for (const name of Object.keys(shared)) {
    const env: Record<string, string> = { DATA_DIR: dir, DATABASE_URL: url, ...shared }
    delete env[name]
    t.equal(loadConfig(env).database.kind, 'postgres', `tools (db:copy) load the config without ${name}`)
    t.throws(
      () => assertSharedSecrets(env),
      { message: new RegExp(`^Invalid configuration: ${name} must be set with a postgres`) },
      `${name} required`,
    )
  }
  t.throws(() => loadConfig({ DATA_DIR: dir, DATABASE_URL: 'mysql://root:hunter2@h/d' }), {
    message: 'Invalid configuration: DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL)',
  })
  t.match(loadConfig({ DATA_DIR: dir }).nodeId, /^.+-\d+-[0-9a-f]{6}$/, 'host-pid-random by default')
  t.equal(loadConfig({ DATA_DIR: dir, PARLEY_NODE_ID: 'web-2' }).nodeId, 'web-2')
  t.equal(loadConfig({ DATA_DIR: dir }).pgPollMs, 250)
  t.throws(() => loadConfig({ DATA_DIR: dir, PG_POLL_MS: '900' }), /PG_POLL_MS must be between 20 and 500/)
})
