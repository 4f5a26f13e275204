// Scheduled online backups (issue 16): every BACKUP_INTERVAL_HOURS, in this process, into
// DATA_DIR/backups/<time>/ (the same work as `npm run backup`), then the oldest scheduled
// backups beyond BACKUP_KEEP are removed. The next one is due an interval after the last
// (meta `last_backup_at`, which any backup — scheduled or by hand — writes), so a restart
// neither skips one nor makes an extra; never backed up, the first is an interval after start. A failed backup is logged and tried again at the
// next interval; it never stops Parley.
import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { type BackupResult, defaultBackupDir, pruneBackups, writeBackup } from './backup.ts'

export interface BackupScheduleDeps {
  dataDir: string
  mediaDir?: string
  databaseFile: string
  busyTimeoutMs: number
  intervalMs: number
  keep: number
  now: () => number
  /** When the last backup finished (ms), if any. */
  lastBackupAt: () => number | undefined
  /** Records a finished backup (meta `last_backup_at`). */
  recordBackupAt: (at: number) => void
  log: FastifyBaseLogger
}

// setTimeout's largest delay; a longer wait is taken in steps.
const MAX_TIMER_MS = 2 ** 31 - 1

export class BackupSchedule {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<BackupResult | undefined> | undefined
  private stopped = true
  private failedAt: number | undefined
  private startedAt = 0

  constructor(private readonly d: BackupScheduleDeps) {}

  start(): void {
    this.startedAt = this.d.now()
    this.stopped = false
    this.plan()
  }

  /** Stops the schedule; a backup under way is finished (a half-written folder is not left). */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.running
  }

  /** Makes a backup now (the schedule's own; pruned like them). One at a time. */
  runNow(): Promise<BackupResult | undefined> {
    this.running ??= this.backup().finally(() => {
      this.running = undefined
      this.plan()
    })
    return this.running
  }

  /** When the next backup is due (ms). */
  dueAt(): number {
    // Never backed up: the first one an interval after this start (a fresh install, or every
    // short-lived test server, does not copy itself at once).
    const last = Math.max(this.d.lastBackupAt() ?? this.startedAt, this.failedAt ?? 0)
    return last + this.d.intervalMs
  }

  private plan(): void {
    if (this.stopped || this.running) return
    clearTimeout(this.timer)
    const wait = Math.min(Math.max(0, this.dueAt() - this.d.now()), MAX_TIMER_MS)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.dueAt() <= this.d.now()) void this.runNow()
      else this.plan()
    }, wait)
    this.timer.unref()
  }

  private async backup(): Promise<BackupResult | undefined> {
    const started = this.d.now()
    try {
      const r = await writeBackup({
        dataDir: this.d.dataDir,
        mediaDir: this.d.mediaDir,
        databaseFile: this.d.databaseFile,
        busyTimeoutMs: this.d.busyTimeoutMs,
        dir: defaultBackupDir(this.d.dataDir, started),
        scheduled: true,
        now: this.d.now,
      })
      this.d.recordBackupAt(r.at)
      const pruned = pruneBackups(path.join(this.d.dataDir, 'backups'), this.d.keep)
      this.d.log.info(
        { dir: r.dir, ms: this.d.now() - started, mediaCopied: r.media.copied, mediaLinked: r.media.linked, pruned: pruned.length },
        'scheduled backup written',
      )
      return r
    } catch (err) {
      this.d.log.error({ err }, 'scheduled backup failed; tried again at the next interval')
      // The next try is an interval from this failure, not at once in a loop.
      this.failedAt = this.d.now()
      return undefined
    }
  }
}
