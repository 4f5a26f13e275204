import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ConfigError, DEFAULTS, loadConfig } from '../src/config.ts'

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
