// The workspace's own settings (issue 13): the cap of open conversations automatic
// assignment gives one person, the business hours with their timezone, and the texts of
// the automatic replies (null: off). One row per workspace: the workspaces table.
// Read for every customer message (the automatic replies), so kept in memory; `update`
// is their only writer (one process) and drops the workspace's copy, so a change applies
// to the very next webhook. (The assignment cap is also read, uncached, by AssignmentRepo
// when someone is given work.)
import type Database from 'better-sqlite3'
import type { BusinessHours } from '../domain/team/business-hours.ts'
import type { Db } from './db.ts'

export interface WorkspaceSettings {
  assignmentCap: number
  timezone: string
  /** Null: always open. */
  businessHours: BusinessHours | null
  awayMessage: string | null
  greetingMessage: string | null
}

interface Row {
  assignment_cap: number
  timezone: string
  business_hours: string | null
  away_message: string | null
  greeting_message: string | null
}

const COLUMNS: Record<keyof WorkspaceSettings, keyof Row> = {
  assignmentCap: 'assignment_cap',
  timezone: 'timezone',
  businessHours: 'business_hours',
  awayMessage: 'away_message',
  greetingMessage: 'greeting_message',
}

export class WorkspaceSettingsRepo {
  private readonly getStmt: Database.Statement
  private readonly cache = new Map<number, Readonly<WorkspaceSettings>>()

  constructor(private readonly db: Db) {
    this.getStmt = db.$client.prepare(
      'SELECT assignment_cap, timezone, business_hours, away_message, greeting_message FROM workspaces WHERE id = ?',
    )
  }

  /** The workspace's settings (shared and frozen: not to be changed in place); undefined for no such workspace. */
  get(workspaceId: number): Readonly<WorkspaceSettings> | undefined {
    const cached = this.cache.get(workspaceId)
    if (cached) return cached
    const row = this.getStmt.get(workspaceId) as Row | undefined
    if (!row) return undefined
    const settings = Object.freeze({
      assignmentCap: row.assignment_cap,
      timezone: row.timezone,
      businessHours: row.business_hours === null ? null : deepFreeze(JSON.parse(row.business_hours) as BusinessHours),
      awayMessage: row.away_message,
      greetingMessage: row.greeting_message,
    })
    this.cache.set(workspaceId, settings)
    return settings
  }

  /** Changes the given fields only; returns the settings as they now are. */
  update(workspaceId: number, patch: Partial<WorkspaceSettings>): WorkspaceSettings | undefined {
    const sets: string[] = []
    const values: unknown[] = []
    for (const [key, column] of Object.entries(COLUMNS) as Array<[keyof WorkspaceSettings, keyof Row]>) {
      if (!(key in patch) || patch[key] === undefined) continue
      sets.push(`${column} = ?`)
      const v = patch[key]
      values.push(key === 'businessHours' ? (v === null ? null : JSON.stringify(v)) : v)
    }
    if (sets.length > 0) {
      this.db.$client.prepare(`UPDATE workspaces SET ${sets.join(', ')} WHERE id = ?`).run(...values, workspaceId)
      this.cache.delete(workspaceId)
    }
    return this.get(workspaceId)
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}
