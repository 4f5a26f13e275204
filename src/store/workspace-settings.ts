// The workspace's own settings (issue 13): the cap of open conversations automatic
// assignment gives one person, the business hours with their timezone, and the texts of
// the automatic replies (null: off). One row per workspace: the workspaces table.
// Read for every customer message (the automatic replies), so kept in memory; `update`
// is their only writer and drops the workspace's copy (again after its commit, `forget`),
// so a change applies to the very next webhook of this process. (Several processes on
// PostgreSQL: the other processes' copies are dropped by events from the log, a later step
// of issue 17; until then they keep theirs.) (The assignment cap is also read, uncached, by AssignmentRepo
// when someone is given work.)
import type { BusinessHours } from '../domain/team/business-hours.ts'
import { get, run, type Q } from './unit.ts'

export interface WorkspaceSettings {
  assignmentCap: number
  timezone: string
  /** Null: always open. */
  businessHours: BusinessHours | null
  awayMessage: string | null
  greetingMessage: string | null
}

interface Row {
  assignmentCap: number
  timezone: string
  businessHours: string | null
  awayMessage: string | null
  greetingMessage: string | null
}

const COLUMNS: Record<keyof WorkspaceSettings, string> = {
  assignmentCap: 'assignment_cap',
  timezone: 'timezone',
  businessHours: 'business_hours',
  awayMessage: 'away_message',
  greetingMessage: 'greeting_message',
}

const GET = `SELECT assignment_cap AS "assignmentCap", timezone, business_hours AS "businessHours", away_message AS "awayMessage",
  greeting_message AS "greetingMessage" FROM workspaces WHERE id = ?`

// One UPDATE text per set of columns (at most 2^5), built once: SQLite caches statements by text.
const updates = new Map<string, string>()
function updateSql(columns: readonly string[]): string {
  const key = columns.join(',')
  let sql = updates.get(key)
  if (sql === undefined) updates.set(key, (sql = `UPDATE workspaces SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`))
  return sql
}

export class WorkspaceSettingsRepo {
  private readonly cache = new Map<number, Readonly<WorkspaceSettings>>()

  /** Drops the workspace's cached copy: the next read asks the database. */
  forget(workspaceId: number): void {
    this.cache.delete(workspaceId)
  }

  /** The workspace's settings (shared and frozen: not to be changed in place); undefined for no such workspace. */
  *get(workspaceId: number): Q<Readonly<WorkspaceSettings> | undefined> {
    const cached = this.cache.get(workspaceId)
    if (cached) return cached
    const settings = yield* this.load(workspaceId)
    if (settings) this.cache.set(workspaceId, settings)
    return settings
  }

  private *load(workspaceId: number): Q<Readonly<WorkspaceSettings> | undefined> {
    const row = yield* get<Row>(GET, [workspaceId])
    if (!row) return undefined
    return Object.freeze({
      assignmentCap: row.assignmentCap,
      timezone: row.timezone,
      businessHours: row.businessHours === null ? null : deepFreeze(JSON.parse(row.businessHours) as BusinessHours),
      awayMessage: row.awayMessage,
      greetingMessage: row.greetingMessage,
    })
  }

  /**
   * Changes the given fields only; returns the settings as they now are (not cached: the
   * transaction may still roll back). The caller calls `forget` after the commit as well:
   * on PostgreSQL another connection may read (and cache) the old row before it.
   */
  *update(workspaceId: number, patch: Partial<WorkspaceSettings>): Q<WorkspaceSettings | undefined> {
    const sets: string[] = []
    const values: unknown[] = []
    for (const [key, column] of Object.entries(COLUMNS) as Array<[keyof WorkspaceSettings, string]>) {
      if (!(key in patch) || patch[key] === undefined) continue
      sets.push(column)
      const v = patch[key]
      values.push(key === 'businessHours' ? (v === null ? null : JSON.stringify(v)) : v)
    }
    if (sets.length > 0) {
      yield* run(updateSql(sets), [...values, workspaceId])
      this.cache.delete(workspaceId)
    }
    return yield* this.load(workspaceId)
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}
