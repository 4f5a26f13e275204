// `npm run backup [dir]`: an online, consistent backup of DATA_DIR (database, secrets,
// media) into data/backups/<time>/ by default, safe while Parley runs. The work is
// domain/backup/backup.ts, shared with the scheduled backups (BACKUP_INTERVAL_HOURS).
import path from 'node:path'
import { loadConfig, loadDotEnv } from './config.ts'
import { usePrivateUmask } from './store/data-dir.ts'
import { BackupError, defaultBackupDir, writeBackup } from './domain/backup/backup.ts'
import { recordBackupAt } from './store/backup-db.ts'

async function main(): Promise<void> {
  // A backup holds everything the data dir does: private whatever the shell's umask.
  usePrivateUmask()
  loadDotEnv()
  const config = loadConfig()
  const now = Date.now()
  const dir = path.resolve(process.argv[2] ?? defaultBackupDir(config.dataDir, now))
  const r = await writeBackup({
    dataDir: config.dataDir,
    mediaDir: config.mediaDir,
    databaseFile: config.databaseFile,
    busyTimeoutMs: config.dbBusyTimeoutMs,
    dir,
    now: Date.now,
  })
  // The health page and /metrics read the age of the last backup from the live database.
  recordBackupAt(config.databaseFile, r.at, config.dbBusyTimeoutMs)
  console.log(`Backup written to ${r.dir}`)
  console.log(
    `Media: ${r.media.copied} copied, ${r.media.linked} linked from ${r.media.previous ?? 'a previous backup'}, ${r.media.kept} already there`,
  )
}

main().catch((err) => {
  console.error(err instanceof BackupError || err instanceof Error ? err.message : err)
  process.exit(1)
})
