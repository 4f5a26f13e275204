// DATA_DIR holds password hashes, session ids, channel tokens and app secrets: only the
// account Parley runs as may read it (issue 11, point 16). New files are created private
// by the process umask; installs made before that (0755 / 0644 under umask 022) are
// corrected at start.
import { chmodSync, lstatSync, readdirSync, type Stats } from 'node:fs'
import path from 'node:path'

/** Files 0600 and directories 0700 whatever the login shell's umask: SQLite's -wal/-shm, media, secrets, backups. */
export const PRIVATE_UMASK = 0o077
export const PRIVATE_DIR_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600

/** For every entry point that writes under DATA_DIR (server, backup, admin command): call before anything is created. */
export function usePrivateUmask(): void {
  process.umask(PRIVATE_UMASK)
}

/**
 * Makes `root` and everything under it private (directories 0700, files 0600).
 * Symbolic links are not followed: what they point to is not Parley's to change.
 * Returns how many entries were changed.
 */
export function makePrivate(root: string): number {
  let changed = 0
  const visit = (p: string) => {
    let st: Stats
    try {
      st = lstatSync(p)
    } catch (err) {
      // Gone since its folder was listed (a `.part` renamed by a backup or a download).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    if (st.isSymbolicLink()) return
    if (st.isDirectory()) {
      if ((st.mode & 0o7777) !== PRIVATE_DIR_MODE) {
        chmodSync(p, PRIVATE_DIR_MODE)
        changed++
      }
      for (const name of readdirSync(p)) visit(path.join(p, name))
    } else if ((st.mode & 0o7777) !== PRIVATE_FILE_MODE) {
      chmodSync(p, PRIVATE_FILE_MODE)
      changed++
    }
  }
  visit(root)
  return changed
}
