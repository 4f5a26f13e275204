// The sandbox's state on disk (the WhatsApp emulator's and the Messenger one's): read
// once at start, written shortly after a change (many changes, one write) and at stop,
// atomically (a temp file renamed over it) and readable by Parley's user only.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'

// Changes within this long are saved in one write.
const SAVE_DELAY_MS = 200

export class StateFile<T> {
  private saveTimer: NodeJS.Timeout | undefined

  /** `file` undefined: nothing is kept (tests, and an emulator without a state directory). */
  constructor(
    private readonly file: string | undefined,
    private readonly snapshot: () => T,
  ) {
    if (file) mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  }

  /** What was saved last; undefined when nothing was, or the file is broken (start over empty). */
  read(): Partial<T> | undefined {
    if (!this.file || !existsSync(this.file)) return undefined
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Partial<T>
    } catch {
      // A broken sandbox file is not worth refusing to start over: begin empty.
      return undefined
    }
  }

  changed(): void {
    if (!this.file || this.saveTimer) return
    // A write that fails (a full disk, a directory removed under a stopped sandbox) must
    // not take Parley down with it: the demo state is saved again on the next change.
    this.saveTimer = setTimeout(() => {
      try {
        this.save()
      } catch {
        this.saveTimer = undefined
      }
    }, SAVE_DELAY_MS)
    this.saveTimer.unref()
  }

  save(): void {
    clearTimeout(this.saveTimer)
    this.saveTimer = undefined
    if (!this.file) return
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.snapshot()), { mode: 0o600 })
    renameSync(`${this.file}.tmp`, this.file)
  }
}
