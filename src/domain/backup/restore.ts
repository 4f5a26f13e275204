// Restoring a backup into DATA_DIR (issue 16; `npm run restore -- <dir>`, src/restore.ts).
// Refused while a Parley holds DATA_DIR (parley.lock); the lock is held for the whole
// restore so none can start meanwhile. The steps, in an order that leaves DATA_DIR as it
// was when any check fails:
//   1. the backup's parley.db passes SQLite's integrity check;
//   2. it is copied beside the live one and prepared there: migrated to this version, given
//      a new stream epoch (cursors of any earlier server, even one restored from this same
//      backup before, are reset), the secret key checked against its sealed secrets, and
//      `backup.restored` recorded in its audit log;
//   3. only then: parley.db is replaced (its -wal and -shm removed first: they belong to
//      the old file), the secret files are copied (the secret key among them) and media/.
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { openDatabase } from '../../store/db.ts'
import { integrityOf, newEpoch } from '../../store/backup-db.ts'
import { AuditLogRepo } from '../../store/audit-log.ts'
import { SqliteRunner } from '../../store/runner.ts'
import { bindSecretBox } from '../../store/sealed-columns.ts'
import { SecretBox } from '../../store/secret-box.ts'
import { AuditLog } from '../audit/audit-log.ts'
import { AuthService } from '../accounts/auth.ts'
import { checkSecretKey, SecretKeyMismatchError } from '../secrets/at-rest.ts'
import { BACKUP_MARKER, SECRET_FILES } from './backup.ts'
import { acquireDataDirLock } from './data-dir-lock.ts'

export class RestoreError extends Error {}

export interface RestoreOptions {
  /** The backup folder (as `npm run backup` writes it). */
  from: string
  dataDir: string
  /** MEDIA_DIR when set apart from DATA_DIR (default DATA_DIR/media). */
  mediaDir?: string
  busyTimeoutMs: number
  /** PARLEY_SECRET_KEY when set: it, not a key file, opens the restored secrets. */
  secretKeyFromEnv: string | undefined
  now: () => number
}

export interface RestoreResult {
  secretFiles: string[]
  mediaFiles: number
}

const countFiles = (dir: string): number => {
  if (!existsSync(dir)) return 0
  let n = 0
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) n++
    }
  }
  walk(dir)
  return n
}

export function restoreBackup(o: RestoreOptions): RestoreResult {
  const from = path.resolve(o.from)
  const backupDb = path.join(from, 'parley.db')
  if (!existsSync(backupDb) || !statSync(backupDb).isFile()) throw new RestoreError(`${from} is not a Parley backup: it has no parley.db`)
  const lock = acquireDataDirLock(o.dataDir) // throws DataDirLockedError while Parley runs
  try {
    // 1. The backup is sound.
    const check = integrityOf(backupDb)
    if (check !== 'ok') throw new RestoreError(`The backup's database failed its integrity check: ${check}`)

    // 2. Prepared beside the live database.
    const live = path.join(o.dataDir, 'parley.db')
    const staged = live + '.restoring'
    for (const s of ['', '-wal', '-shm', '-journal']) rmSync(staged + s, { force: true })
    copyFileSync(backupDb, staged)
    try {
      newEpoch(staged)
      const keyText =
        o.secretKeyFromEnv ??
        [path.join(from, 'secret-key'), path.join(o.dataDir, 'secret-key')]
          .filter((p) => existsSync(p))
          .map((p) => readFileSync(p, 'utf8'))[0]
      const key = keyText === undefined ? undefined : SecretBox.keyFrom(keyText)
      const db = openDatabase(staged, { busyTimeoutMs: o.busyTimeoutMs })
      try {
        if (key) {
          const box = new SecretBox(key)
          bindSecretBox(db, box)
          checkSecretKey(db, box)
        }
        const marker = readMarker(from)
        // A restore works on the staged SQLite file itself: its units run at once on it.
        const units = new SqliteRunner(db.$client)
        const auth = new AuthService({ units }, o.now)
        const audit = new AuditLog({ repo: new AuditLogRepo(), now: o.now })
        units.transactSync(function* () {
          yield* audit.recordUnit({
            workspaceId: yield* auth.defaultWorkspaceUnit(),
            actor: { userId: null, label: 'npm run restore' },
            action: 'backup.restored',
            detail: { backup: path.basename(from), ...(marker ? { backupAt: marker } : {}) },
          })
        })
        db.$client.pragma('wal_checkpoint(TRUNCATE)')
      } finally {
        db.$client.close()
      }
    } catch (err) {
      for (const s of ['', '-wal', '-shm']) rmSync(staged + s, { force: true })
      if (err instanceof SecretKeyMismatchError)
        throw new RestoreError(
          'The secret key does not open the secrets in this backup: ' +
            (o.secretKeyFromEnv ? 'PARLEY_SECRET_KEY is not the key it was made with.' : 'its secret-key file is missing or another.') +
            ' Nothing was changed.',
        )
      throw err
    }

    // 3. The swap, then the files the database refers to.
    for (const s of ['-wal', '-shm']) rmSync(live + s, { force: true })
    for (const s of ['-wal', '-shm']) rmSync(staged + s, { force: true })
    renameSync(staged, live)
    const secretFiles = SECRET_FILES.filter((f) => existsSync(path.join(from, f)))
    for (const f of secretFiles) copyFileSync(path.join(from, f), path.join(o.dataDir, f))
    const media = path.join(from, 'media')
    if (existsSync(media)) cpSync(media, o.mediaDir ?? path.join(o.dataDir, 'media'), { recursive: true, force: true })
    return { secretFiles, mediaFiles: countFiles(media) }
  } finally {
    lock.release()
  }
}

function readMarker(dir: string): number | undefined {
  try {
    const at = (JSON.parse(readFileSync(path.join(dir, BACKUP_MARKER), 'utf8')) as { at?: unknown }).at
    return typeof at === 'number' ? at : undefined
  } catch {
    return undefined
  }
}
