// `npm run backup [dir]`: an online, consistent copy of the database (SQLite's backup
// API, safe while Parley runs — never copy a live WAL database file by hand) plus the
// generated secrets, into data/backups/<time>/ by default.
//
// The copy gets a new stream epoch: after a restore, browsers holding cursors from the
// live database are told to reset instead of being replayed the wrong history.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import Database from 'better-sqlite3'
import { loadConfig, loadDotEnv } from './config.ts'
import { usePrivateUmask } from './store/data-dir.ts'

const SECRET_FILES = ['jwt-secret', 'meta-app-secret', 'meta-verify-token']

async function main(): Promise<void> {
  // A backup holds everything the data dir does: private whatever the shell's umask.
  usePrivateUmask()
  loadDotEnv()
  const config = loadConfig()
  if (!existsSync(config.databaseFile)) {
    console.error(`No database at ${config.databaseFile}`)
    process.exit(1)
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const dir = path.resolve(process.argv[2] ?? path.join(config.dataDir, 'backups', stamp))
  mkdirSync(dir, { recursive: true })
  const target = path.join(dir, 'parley.db')
  const source = new Database(config.databaseFile, { readonly: true, fileMustExist: true })
  source.pragma(`busy_timeout = ${config.dbBusyTimeoutMs}`)
  await source.backup(target)
  source.close()

  const copy = new Database(target)
  copy.prepare(`UPDATE meta SET value = ? WHERE key = 'epoch'`).run(randomBytes(6).toString('base64url'))
  const check = copy.pragma('integrity_check', { simple: true })
  copy.close()
  if (check !== 'ok') {
    console.error(`Backup integrity check failed: ${String(check)}`)
    process.exit(1)
  }
  for (const f of SECRET_FILES) {
    const p = path.join(config.dataDir, f)
    if (existsSync(p)) copyFileSync(p, path.join(dir, f))
  }
  console.log(`Backup written to ${dir}`)
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
