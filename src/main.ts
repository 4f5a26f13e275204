// Process entry: config → database + migrations → app → listen → graceful close.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { assertSharedSecrets, type Config, ConfigError, loadConfig, loadDotEnv } from './config.ts'
import { openDatabase } from './store/db.ts'
import { migratePg, openPgPool } from './store/pg/db.ts'
import { makePrivate, usePrivateUmask } from './store/data-dir.ts'
import { buildApp } from './app.ts'
import { acquireDataDirLock, DataDirLockedError, type DataDirLock } from './domain/backup/data-dir-lock.ts'
import { SecretKeyMismatchError } from './domain/secrets/at-rest.ts'

async function main(): Promise<void> {
  // Before anything is written: the data dir, SQLite's -wal/-shm, media, secrets.
  usePrivateUmask()
  loadDotEnv()
  let config: Config
  try {
    config = loadConfig()
    if (config.database.kind === 'postgres') assertSharedSecrets()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  if (config.database.kind === 'postgres') return runOnPostgres(config, config.database.url)
  // One Parley per DATA_DIR (issue 16/17): a second one, or a restore, would corrupt it.
  let lock: DataDirLock
  try {
    lock = acquireDataDirLock(config.dataDir)
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  process.on('exit', () => lock.release())
  // Installs from before the umask held files other accounts could read: corrected here.
  // MEDIA_DIR apart from DATA_DIR (a shared volume): its files are customers' too.
  const mediaApart =
    path.relative(config.dataDir, config.mediaDir).startsWith('..') || path.isAbsolute(path.relative(config.dataDir, config.mediaDir))
  const madePrivate = makePrivate(config.dataDir) + (mediaApart ? makePrivate(config.mediaDir) : 0)
  const db = openDatabase(config.databaseFile, { busyTimeoutMs: config.dbBusyTimeoutMs })
  let app: Awaited<ReturnType<typeof buildApp>>
  try {
    app = await buildApp({ config, db })
  } catch (err) {
    // A wrong PARLEY_SECRET_KEY: one clear line, not a stack trace (and nothing written).
    if (err instanceof SecretKeyMismatchError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  if (madePrivate > 0)
    app.log.warn(
      `${madePrivate} files and folders in ${config.dataDir} had wider permissions than 0700 (folders) or 0600 (files): corrected`,
    )
  if (config.metaAppSecretGenerated) {
    app.log.warn(`META_APP_SECRET is not set: webhooks are verified with the generated secret in ${config.dataDir}/meta-app-secret`)
  }

  const running = app
  listenUntilSignal(running, async () => {
    await running.close()
    db.$client.close()
  })

  await app.listen({ port: config.port, host: config.host })
  app.log.info(`Parley is listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`)
}

/**
 * Issue 17: one of several processes on one PostgreSQL database. No lock on DATA_DIR (MEDIA_DIR
 * is shared by design); the migrations run under an advisory lock, so processes starting
 * together migrate once.
 */
async function runOnPostgres(config: Config, url: string): Promise<void> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  await migratePg(url, config.nodeId)
  let app: Awaited<ReturnType<typeof buildApp>> | undefined
  const pool = openPgPool(url, {
    nodeId: config.nodeId,
    max: config.pgPoolSize,
    onIdleError: (err) => app?.log.warn({ err }, 'PostgreSQL ended an idle connection; the next query opens another'),
  })
  try {
    app = await buildApp({ config, pg: { pool, url } })
  } catch (err) {
    if (err instanceof SecretKeyMismatchError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  const running = app
  listenUntilSignal(running, async () => {
    await running.close()
    await pool.end()
  })
  await running.listen({ port: config.port, host: config.host })
  running.log.info(
    { nodeId: config.nodeId },
    `Parley (PostgreSQL) is listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`,
  )
}

/** SIGINT/SIGTERM: stop taking work, let in-flight requests finish, then close the database. */
function listenUntilSignal(app: Awaited<ReturnType<typeof buildApp>>, close: () => Promise<void>): void {
  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    await close()
    app.log.info('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
