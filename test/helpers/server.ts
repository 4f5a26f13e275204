// Builds a real Parley on a fresh temp data dir (real SQLite, real migrations) and
// listens on a loopback port: tests talk to it over real HTTP.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config } from '../../src/config.ts'
import { openDatabase, type Db } from '../../src/store/db.ts'
import { buildApp, loggerOptions } from '../../src/app.ts'
import { migratePg, openPgPool } from '../../src/store/pg/db.ts'
import { freshPgDatabase } from './pg.ts'
import { all as unitAll, get as unitGet, run as unitRun } from '../../src/store/unit.ts'
import { EventLog, type Clock } from '../../src/events/event-log.ts'
import { metaEscape, signPayload } from '../../src/channels/meta-signature.ts'

export const APP_SECRET = 'test-app-secret'
export const VERIFY_TOKEN = 'test-verify-token'
export const PHONE_NUMBER_ID = '100000000000002'
export const ADMIN = { email: 'admin@example.com', password: 'correct horse battery' }

export interface TestServer {
  url: string
  app: FastifyInstance
  /** SQLite's database (throws under PARLEY_TEST_DATABASE=postgres: such a test runs on SQLite only). */
  db: Db
  /**
   * SQL on the app's own database, SQLite or PostgreSQL (`?` placeholders, store/unit.ts), for
   * what a test reads or sets up beneath the API; the same test then runs on both databases.
   * Writes here bypass the event log, as a write through `db` does.
   */
  sql: TestSql
  config: Readonly<Config>
  dataDir: string
  close(): Promise<void>
  /** Logs in and returns the bearer token and the session cookie. */
  login(creds?: { email: string; password: string }): Promise<{ token: string; cookie: string }>
  /** POSTs a payload to /webhooks/whatsapp, encoded and signed as Meta does. */
  webhook(payload: unknown, opts?: { secret?: string; headers?: Record<string, string> }): Promise<Response>
  get(pathname: string, token: string): Promise<Response>
}

export interface TestSql {
  readonly dialect: 'sqlite' | 'postgres'
  get<T = any>(sql: string, params?: readonly unknown[]): Promise<T | undefined>
  all<T = any>(sql: string, params?: readonly unknown[]): Promise<T[]>
  /** Rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>
}

/** TestServer.sql over the app's unit runner (services.units). */
export function testSql(app: FastifyInstance): TestSql {
  const units = app.services.units
  return {
    dialect: units.dialect,
    // In a writing transaction: `INSERT … RETURNING` reads too.
    get: (q, params = []) => units.transact(() => unitGet(q, params)),
    all: (q, params = []) => units.transact(() => unitAll(q, params)),
    run: (q, params = []) =>
      units.transact(function* () {
        return (yield* unitRun(q, params)).changes
      }),
  }
}

export type ApiCall = <T = any>(method: string, path: string, body?: unknown, auth?: string | null) => Promise<{ status: number; body: T }>

/** A JSON client for Parley's API with a bearer token (`auth: null` sends none); an empty body reads as null. */
export function apiCall(baseUrl: string, token: string): ApiCall {
  return async (method, path, body, auth = token) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
}

export interface StartOptions {
  env?: Record<string, string>
  /** Reuse a data dir (restart tests). */
  dataDir?: string
  /** The app's clock (AppDeps.clock); the system clock when absent. */
  clock?: Clock
  /** Logs as in production (the app's own logger options, at LOG_LEVEL) into this stream. */
  logStream?: Writable
  /** Always SQLite, even under PARLEY_TEST_DATABASE=postgres (a test of SQLite's own behaviour). */
  sqlite?: boolean
}

/**
 * Issue 17: PARLEY_TEST_DATABASE=postgres runs the apps of the tests on PostgreSQL (a fresh
 * database each, on PARLEY_TEST_PG_URL's server); a restart on the same data dir finds its database again.
 */
export const onPostgres = process.env.PARLEY_TEST_DATABASE === 'postgres'
const pgOfDataDir = new Map<string, string>()
const PG_SHARED_SECRETS = { JWT_SECRET: 'test-jwt-secret-'.repeat(3), PARLEY_SECRET_KEY: 'a1'.repeat(32) }

async function pgDatabaseFor(t: TestLike, dataDir: string): Promise<string> {
  const known = pgOfDataDir.get(dataDir)
  if (known) return known
  const url = await freshPgDatabase({
    comment: () => {},
    fail: (m) => {
      throw new Error(m)
    },
    teardown: (fn) => t.teardown(fn),
  })
  if (!url) throw new Error('PARLEY_TEST_DATABASE=postgres needs PARLEY_TEST_PG_URL')
  pgOfDataDir.set(dataDir, url)
  t.teardown(() => pgOfDataDir.delete(dataDir))
  return url
}

/** What startServer needs of a tap test: somewhere to register its teardown. */
export interface TestLike {
  teardown(fn: () => unknown): void
}

/** The app's SQLite event log and database (startServer's apps run on SQLite): for tests that write below the API. */
export function sqliteOf(app: FastifyInstance): { events: EventLog; db: Db } {
  const { events, db } = app.services
  if (!(events instanceof EventLog) || !db) throw new Error('this test needs the SQLite app')
  return { events, db }
}

export async function startServer(t: TestLike, opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'parley-test-'))
  const pgUrl = onPostgres && !opts.sqlite ? await pgDatabaseFor(t, dataDir) : undefined
  const config = loadConfig({
    DATA_DIR: dataDir,
    META_APP_SECRET: APP_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'silent',
    LOGIN_RATE_PER_MINUTE: '1000',
    // Tests never reach Meta: a channel with a made-up token (not the sandbox's) gets a
    // refused connection here instead of a request to graph.facebook.com.
    GRAPH_API_URL: 'http://127.0.0.1:9/v23.0',
    ...(pgUrl ? { DATABASE_URL: pgUrl, ...PG_SHARED_SECRETS } : {}),
    ...opts.env,
  })
  let db: Db | undefined
  let pool: ReturnType<typeof openPgPool> | undefined
  if (pgUrl) {
    await migratePg(pgUrl, config.nodeId)
    pool = openPgPool(pgUrl, { nodeId: config.nodeId, max: config.pgPoolSize })
  } else db = openDatabase(config.databaseFile, { busyTimeoutMs: config.dbBusyTimeoutMs })
  const logger = opts.logStream ? { ...loggerOptions(config.logLevel), stream: opts.logStream } : false
  const app = await buildApp({
    config,
    ...(db ? { db } : { pg: { pool: pool!, url: pgUrl! } }),
    logger,
    ...(opts.clock ? { clock: opts.clock } : {}),
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  if (!addr || typeof addr === 'string') throw new Error('no address')
  const url = `http://127.0.0.1:${addr.port}`
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
    db?.$client.close()
    await pool?.end()
    if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true })
  }
  t.teardown(close)
  return {
    url,
    app,
    sql: testSql(app),
    get db(): Db {
      if (!db) throw new Error('this test reads SQLite directly: it runs on SQLite only (PARLEY_TEST_DATABASE)')
      return db
    },
    config,
    dataDir,
    close,
    async login(creds = ADMIN) {
      const res = await fetch(`${url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(creds),
      })
      if (res.status !== 200) throw new Error(`login failed: ${res.status}`)
      const body = (await res.json()) as { token: string }
      const setCookie = res.headers.get('set-cookie') ?? ''
      return { token: body.token, cookie: setCookie.split(';')[0]! }
    },
    webhook(payload, o = {}) {
      const body = typeof payload === 'string' ? payload : metaEscape(JSON.stringify(payload))
      return fetch(`${url}/webhooks/whatsapp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signPayload(o.secret ?? APP_SECRET, body),
          ...o.headers,
        },
        body,
      })
    },
    get(pathname, token) {
      return fetch(`${url}${pathname}`, { headers: { authorization: `Bearer ${token}` } })
    },
  }
}
