// The database side of backups and restores (issue 16): SQLite's online backup API (safe
// while Parley writes: never copy a live WAL database file by hand), a fresh stream epoch
// for the copy, and the integrity check both a backup and a restore run.
import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'

/** Copies the live database to `target` (pages in steps: the event loop keeps running). */
export async function copyDatabase(source: string, target: string, busyTimeoutMs: number): Promise<void> {
  const db = new Database(source, { readonly: true, fileMustExist: true })
  try {
    db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
    await db.backup(target)
  } finally {
    db.close()
  }
}

/**
 * Gives a copy its own stream epoch: browsers holding cursors of the database it came
 * from are told to reset instead of being replayed another history.
 */
export function newEpoch(file: string): void {
  const db = new Database(file, { fileMustExist: true })
  try {
    db.prepare(`UPDATE meta SET value = ? WHERE key = 'epoch'`).run(randomBytes(6).toString('base64url'))
  } finally {
    db.close()
  }
}

/** 'ok', or what SQLite's integrity check (or opening the file) found wrong. */
export function integrityOf(file: string): string {
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const check = String(db.pragma('integrity_check', { simple: true }))
    if (check !== 'ok') return check
    const parley = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get()
    return parley ? 'ok' : 'not a Parley database (no meta table)'
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  } finally {
    db?.close()
  }
}

/** One `meta` value of a database file that is not open (a backup's). */
export function metaOf(file: string, key: string): string | undefined {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined
  } finally {
    db.close()
  }
}

/** meta key: when the last backup finished (ms); the health page and /metrics read it. */
export const LAST_BACKUP_META = 'last_backup_at'

/** Records a finished backup in a database this process does not hold open (`npm run backup`). */
export function recordBackupAt(file: string, at: number, busyTimeoutMs: number): void {
  const db = new Database(file, { fileMustExist: true })
  try {
    db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
    db.prepare(`INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(
      LAST_BACKUP_META,
      String(at),
    )
  } finally {
    db.close()
  }
}
