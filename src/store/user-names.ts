// The one read of users the inbox needs: the name a system line gives an agent
// ("Ana resolved this"). Accounts and sessions are not here.
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'

export class UserNames {
  private readonly nameStmt: Database.Statement

  constructor(db: Db) {
    this.nameStmt = db.$client.prepare('SELECT name FROM users WHERE workspace_id = ? AND id = ?')
  }

  /** Their own workspace's users only. */
  userName(workspaceId: number, userId: number): string | undefined {
    return (this.nameStmt.get(workspaceId, userId) as { name: string } | undefined)?.name
  }
}
