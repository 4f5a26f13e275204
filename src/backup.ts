// `npm run backup [dir]`: an online, consistent copy of the database (SQLite's backup
// API, safe while Parley runs — never copy a live WAL database file by hand) plus the
// generated secrets and the media files, into data/backups/<time>/ by default.
//
// Media are copied incrementally, rsync --link-dest style: a media file is never changed
// once stored (a random name, written to `.part` and renamed), so one already in the
// previous backup beside this one is hard-linked from it instead of copied again, and
// one already in this folder (a backup repeated into the same folder) is kept.
//
// The copy gets a new stream epoch: after a restore, browsers holding cursors from the
// live database are told to reset instead of being replayed the wrong history.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, statSync, type Stats } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import Database from 'better-sqlite3'
import { loadConfig, loadDotEnv } from './config.ts'
import { usePrivateUmask } from './store/data-dir.ts'

const SECRET_FILES = ['jwt-secret', 'meta-app-secret', 'meta-verify-token', 'secret-key']

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
  // After the database: every file the copied rows name was stored before them, so it
  // is already in media/ now (files arriving meanwhile are copied too, unreferenced).
  const media = backupMedia(path.join(config.dataDir, 'media'), dir)
  console.log(`Backup written to ${dir}`)
  console.log(
    `Media: ${media.copied} copied, ${media.linked} linked from ${media.previous ?? 'a previous backup'}, ${media.kept} already there`,
  )
}

interface MediaCopy {
  copied: number
  linked: number
  kept: number
  previous: string | undefined
}

const sizeOf = (p: string): Stats | undefined => {
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
    const db = sizeOf(path.join(d, 'parley.db'))
    if (!db || !sizeOf(path.join(d, 'media'))?.isDirectory()) continue
    if (!best || db.mtimeMs > best.at) best = { dir: d, at: db.mtimeMs }
  }
  return best?.dir
}

function backupMedia(source: string, dir: string): MediaCopy {
  const out: MediaCopy = { copied: 0, linked: 0, kept: 0, previous: previousBackup(dir) }
  const walk = (rel: string) => {
    const from = path.join(source, rel)
    if (!sizeOf(from)?.isDirectory()) return
    mkdirSync(path.join(dir, 'media', rel), { recursive: true })
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const name = path.join(rel, entry.name)
      if (entry.isDirectory()) {
        walk(name)
        continue
      }
      // A download or upload still being written is not a stored file yet.
      if (!entry.isFile() || entry.name.endsWith('.part')) continue
      const src = sizeOf(path.join(source, name))
      if (!src) continue // removed since listed
      const dest = path.join(dir, 'media', name)
      if (sizeOf(dest)?.size === src.size) {
        out.kept++
        continue
      }
      const prev = out.previous ? path.join(out.previous, 'media', name) : undefined
      if (prev && sizeOf(prev)?.size === src.size) {
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

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
