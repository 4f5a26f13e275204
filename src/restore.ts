// `npm run restore -- <backup dir>`: puts a backup made by `npm run backup` (or the
// schedule) into DATA_DIR — database, secret files (the secret key among them) and media —
// after checking it. Refuses while Parley runs on DATA_DIR: stop it first, start it after.
// The steps are in domain/backup/restore.ts.
import { ConfigError, loadConfig, loadDotEnv } from './config.ts'
import { usePrivateUmask } from './store/data-dir.ts'
import { DataDirLockedError } from './domain/backup/data-dir-lock.ts'
import { RestoreError, restoreBackup } from './domain/backup/restore.ts'

const USAGE = `Usage: npm run restore -- <backup folder>
Stop Parley first. DATA_DIR (or .env) selects the data directory to restore into, as for npm start.`

function main(): void {
  usePrivateUmask()
  loadDotEnv()
  const from = process.argv[2]
  if (!from || from === '--help' || from === '-h') {
    console.error(USAGE)
    process.exit(2)
  }
  const config = loadConfig()
  const r = restoreBackup({
    from,
    dataDir: config.dataDir,
    mediaDir: config.mediaDir,
    busyTimeoutMs: config.dbBusyTimeoutMs,
    secretKeyFromEnv: config.secretKeyFromEnv ? config.secretKey : undefined,
    now: Date.now,
  })
  console.log(`Restored ${from} into ${config.dataDir}`)
  console.log(`Secret files: ${r.secretFiles.join(', ') || 'none'}; media files: ${r.mediaFiles}`)
  console.log('Start Parley now: browsers reload their state (the restored database has its own stream epoch).')
}

try {
  main()
} catch (err) {
  if (err instanceof RestoreError || err instanceof DataDirLockedError || err instanceof ConfigError) {
    console.error(err.message)
    process.exit(1)
  }
  console.error(err)
  process.exit(1)
}
