// Process entry: config → database + migrations → app → listen → graceful close.
import path from 'node:path'
import { type Config, ConfigError, loadConfig, loadDotEnv } from './config.ts'
import { openDatabase } from './store/db.ts'
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
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  // Issue 17 is being built: the PostgreSQL schema, migrations and event log are in place,
  // the stores of the rest of the app are not yet. Say so rather than start half a Parley.
  if (config.database.kind === 'postgres') {
    console.error(
      'DATABASE_URL names a PostgreSQL server: this version of Parley runs on SQLite only (PostgreSQL with several processes is being built). Unset DATABASE_URL to use SQLite in DATA_DIR.',
    )
    process.exit(1)
  }
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

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    // Stop taking work, let in-flight requests finish, then close the database.
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    await app.close()
    db.$client.close()
    app.log.info('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))

  await app.listen({ port: config.port, host: config.host })
  app.log.info(`Parley is listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
