// The workspace's own settings (issue 13): the cap of open conversations automatic
// assignment gives one person, the business hours with their timezone, and the texts of
// the automatic replies (null: off). One row per workspace: the workspaces table.
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

  constructor(private readonly db: Db) {
    // Read for every customer message (the automatic replies): prepared once.
    this.getStmt = db.$client.prepare(
      'SELECT assignment_cap, timezone, business_hours, away_message, greeting_message FROM workspaces WHERE id = ?',
    )
  }

  get(workspaceId: number): WorkspaceSettings | undefined {
    const row = this.getStmt.get(workspaceId) as Row | undefined
    if (!row) return undefined
    return {
      assignmentCap: row.assignment_cap,
      timezone: row.timezone,
      businessHours: row.business_hours === null ? null : (JSON.parse(row.business_hours) as BusinessHours),
      awayMessage: row.away_message,
      greetingMessage: row.greeting_message,
    }
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
    }
    return this.get(workspaceId)
  }
}
