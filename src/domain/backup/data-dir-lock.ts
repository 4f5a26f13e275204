// One Parley per DATA_DIR (issues 16 and 17): the server takes DATA_DIR/parley.lock at
// start — created exclusively, holding its pid — and removes it at exit. A second server
// on the same folder, and `npm run restore`, refuse while it is held. A lock left by a
// process that is gone (a crash, a power cut) is stale and taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import path from 'node:path'

export const LOCK_FILE = 'parley.lock'

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`Parley is already running on ${dataDir} (pid ${pid}, ${path.join(dataDir, LOCK_FILE)}). Stop it first.`)
    this.name = 'DataDirLockedError'
  }
}

export interface DataDirLock {
  release(): void
}

/** Whether a process with this pid exists (EPERM: it does, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The pid holding the lock, when a live process does (stale and unreadable locks: undefined). */
export function lockHolder(dataDir: string): number | undefined {
  let text: string
  try {
    text = readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')
  } catch {
    return undefined
  }
  const pid = Number.parseInt(text.trim(), 10)
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined
}

/** Takes the lock for this process, or throws DataDirLockedError naming the holder. */
export function acquireDataDirLock(dataDir: string, pid = process.pid): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE)
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      try {
        writeSync(fd, `${pid}\n`)
      } finally {
        closeSync(fd)
      }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DataDirLockedError(dataDir, lockHolder(dataDir) ?? 0)
        throw err
      }
      const holder = lockHolder(dataDir)
      if (holder !== undefined && holder !== pid) throw new DataDirLockedError(dataDir, holder)
      // Stale (its process is gone) or our own: removed, then created again exclusively,
      // so of two starting at once only one wins.
      rmSync(file, { force: true })
    }
  }
  let released = false
  return {
    release() {
      if (released) return
      released = true
      // Only our own: a lock another process took over since is not ours to remove.
      try {
        if (Number.parseInt(readFileSync(file, 'utf8').trim(), 10) === pid) rmSync(file, { force: true })
      } catch {}
    },
  }
}
