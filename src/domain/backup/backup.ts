// A backup (issue 16: used by `npm run backup` and by the in-process schedule): an online,
// consistent copy of the database (SQLite's backup API), the generated secrets (the
// secret key among them: without it the copy's channel tokens cannot be read) and the
// media files, into one folder.
//
// Media are copied incrementally, rsync --link-dest style: a media file is never changed
// once stored (a random name, written to `.part` and renamed), so one already in the
// previous backup beside this one is hard-linked from it instead of copied again, and
// one already in this folder (a backup repeated into the same folder) is kept.
//
// The copy gets a new stream epoch: after a restore, browsers holding cursors from the
// live database are told to reset instead of being replayed the wrong history.
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs'
import path from 'node:path'
import { copyDatabase, integrityOf, newEpoch } from '../../store/backup-db.ts'

/** The files of DATA_DIR a backup carries beside the database (those present). */
export const SECRET_FILES = ['jwt-secret', 'meta-app-secret', 'meta-verify-token', 'secret-key']
/** Written last into every backup folder Parley makes: how a schedule knows its own folders. */
export const BACKUP_MARKER = 'parley-backup.json'

export interface BackupOptions {
  dataDir: string
  /** MEDIA_DIR when set apart from DATA_DIR (default DATA_DIR/media). */
  mediaDir?: string
  databaseFile: string
  busyTimeoutMs: number
  /** The folder to write (created); a repeated backup into it copies only what it lacks. */
  dir: string
  /** Made by the schedule: only such folders are pruned (BACKUP_KEEP). */
  scheduled?: boolean
  now: () => number
}

export interface MediaCopy {
  copied: number
  linked: number
  kept: number
  previous: string | undefined
}

export interface BackupResult {
  dir: string
  at: number
  media: MediaCopy
}

export class BackupError extends Error {}

/** The default folder for a backup made now: DATA_DIR/backups/<ISO time>. */
export function defaultBackupDir(dataDir: string, at: number): string {
  return path.join(dataDir, 'backups', new Date(at).toISOString().replace(/[:.]/g, '-'))
}

export async function writeBackup(o: BackupOptions): Promise<BackupResult> {
  if (!existsSync(o.databaseFile)) throw new BackupError(`No database at ${o.databaseFile}`)
  const dir = path.resolve(o.dir)
  mkdirSync(dir, { recursive: true })
  const target = path.join(dir, 'parley.db')
  // Written beside and renamed: a folder never holds a half-copied parley.db.
  rmSync(target + '.part', { force: true })
  await copyDatabase(o.databaseFile, target + '.part', o.busyTimeoutMs)
  newEpoch(target + '.part')
  const check = integrityOf(target + '.part')
  if (check !== 'ok') {
    rmSync(target + '.part', { force: true })
    throw new BackupError(`Backup integrity check failed: ${check}`)
  }
  renameSync(target + '.part', target)
  for (const f of SECRET_FILES) {
    const p = path.join(o.dataDir, f)
    if (existsSync(p)) copyFileSync(p, path.join(dir, f))
  }
  // After the database: every file the copied rows name was stored before them, so it
  // is already in media/ now (files arriving meanwhile are copied too, unreferenced).
  const media = backupMedia(o.mediaDir ?? path.join(o.dataDir, 'media'), dir)
  const at = o.now()
  writeFileSync(path.join(dir, BACKUP_MARKER), JSON.stringify({ at, scheduled: o.scheduled === true }) + '\n')
  return { dir, at, media }
}

interface Marker {
  dir: string
  at: number
  scheduled: boolean
}

function markerOf(dir: string): Marker | undefined {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, BACKUP_MARKER), 'utf8')) as { at?: unknown; scheduled?: unknown }
    return typeof m.at === 'number' ? { dir, at: m.at, scheduled: m.scheduled === true } : undefined
  } catch {
    return undefined
  }
}

/**
 * Removes the oldest scheduled backups in `parent` beyond the newest `keep`. Only folders
 * the schedule made (their marker says so) are touched: a backup made by hand, or anything
 * else in the folder, is never removed. Returns the removed folders.
 */
export function pruneBackups(parent: string, keep: number): string[] {
  if (!existsSync(parent)) return []
  const mine = readdirSync(parent, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => markerOf(path.join(parent, e.name)))
    .filter((m): m is Marker => m?.scheduled === true)
    .sort((a, b) => b.at - a.at)
  const gone = mine.slice(Math.max(keep, 1)).map((m) => m.dir)
  for (const d of gone) rmSync(d, { recursive: true, force: true })
  return gone
}

const statOf = (p: string): Stats | undefined => {
  try {
    return statSync(p)
  } catch {
    return undefined
  }
}

/** The newest other backup beside `dir` (a folder with a parley.db and media/), if any. */
function previousBackup(dir: string): string | undefined {
  const parent = path.dirname(dir)
  let best: { dir: string; at: number } | undefined
  for (const name of readdirSync(parent)) {
    const d = path.join(parent, name)
    if (d === dir) continue
    const db = statOf(path.join(d, 'parley.db'))
    if (!db || !statOf(path.join(d, 'media'))?.isDirectory()) continue
    if (!best || db.mtimeMs > best.at) best = { dir: d, at: db.mtimeMs }
  }
  return best?.dir
}

function backupMedia(source: string, dir: string): MediaCopy {
  const out: MediaCopy = { copied: 0, linked: 0, kept: 0, previous: previousBackup(dir) }
  const walk = (rel: string) => {
    const from = path.join(source, rel)
    if (!statOf(from)?.isDirectory()) return
    mkdirSync(path.join(dir, 'media', rel), { recursive: true })
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const name = path.join(rel, entry.name)
      if (entry.isDirectory()) {
        walk(name)
        continue
      }
      // A download or upload still being written is not a stored file yet.
      if (!entry.isFile() || entry.name.endsWith('.part')) continue
      const src = statOf(path.join(source, name))
      if (!src) continue // removed since listed
      const dest = path.join(dir, 'media', name)
      if (statOf(dest)?.size === src.size) {
        out.kept++
        continue
      }
      const prev = out.previous ? path.join(out.previous, 'media', name) : undefined
      if (prev && statOf(prev)?.size === src.size) {
        try {
          linkSync(prev, dest)
          out.linked++
          continue
        } catch {
          // Another file system, or links not allowed: copy instead.
        }
      }
      // Through a temporary name: an interrupted backup never leaves a short file that
      // the next run would take for a complete one.
      copyFileSync(path.join(source, name), dest + '.part')
      renameSync(dest + '.part', dest)
      out.copied++
    }
  }
  walk('')
  return out
}
