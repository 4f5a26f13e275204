// The workspace's settings (issue 13) for code still synchronous on SQLite (issue 17): the
// automatic replies on every customer message, transcripts, snoozes, reports and tests.
// Each method runs the repository's unit at once on the one SQLite connection; code written
// as units (either database: the settings routes) uses `repo` directly. (Kept with the
// channels: the part of issue 17 that moved channels moved these; the lead may move it.)
import { sqliteConn } from '../../store/conn.ts'
import type { Db } from '../../store/db.ts'
import { SqliteRunner } from '../../store/runner.ts'
import { runSync } from '../../store/unit.ts'
import { type WorkspaceSettings, WorkspaceSettingsRepo } from '../../store/workspace-settings.ts'

export class WorkspaceSettingsNow {
  readonly repo = new WorkspaceSettingsRepo()
  private readonly runner: SqliteRunner

  constructor(private readonly db: Db) {
    this.runner = new SqliteRunner(db.$client)
  }

  /** The workspace's settings (shared and frozen); undefined for no such workspace. */
  get(workspaceId: number): Readonly<WorkspaceSettings> | undefined {
    return runSync(this.repo.get(workspaceId), sqliteConn(this.db.$client))
  }

  /** Changes the given fields only (its own transaction, or a savepoint in the caller's); the settings as they now are. */
  update(workspaceId: number, patch: Partial<WorkspaceSettings>): WorkspaceSettings | undefined {
    const after = this.runner.transactSync(() => this.repo.update(workspaceId, patch))
    this.repo.forget(workspaceId)
    return after
  }
}
