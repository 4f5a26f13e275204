// Labels (issue 14): the workspace's labels and which conversations carry them. Synchronous,
// over one connection: callers run the writes inside their transaction. Every read that
// serves a user takes the workspace id, which comes from the session.
import type { Statement } from 'better-sqlite3'
import type { LabelRef } from '../events/types.ts'
import type { Db } from './db.ts'

export class LabelsRepo {
  private readonly listStmt: Statement
  private readonly byIdStmt: Statement
  private readonly countStmt: Statement
  private readonly insertStmt: Statement
  private readonly updateStmt: Statement
  private readonly unlinkAllStmt: Statement
  private readonly deleteStmt: Statement
  private readonly idsOfStmt: Statement
  private readonly linkStmt: Statement
  private readonly unlinkStmt: Statement

  constructor(db: Db) {
    const c = db.$client
    // By name, as a conversation's labels are ordered (store/conversations.ts labelsOf).
    this.listStmt = c.prepare('SELECT id, name, color FROM labels WHERE workspace_id = ? ORDER BY name, id')
    this.byIdStmt = c.prepare('SELECT id, name, color FROM labels WHERE workspace_id = ? AND id = ?')
    this.countStmt = c.prepare('SELECT count(*) FROM labels WHERE workspace_id = ?').pluck()
    this.insertStmt = c.prepare('INSERT INTO labels (workspace_id, name, color, created_at) VALUES (?, ?, ?, ?) RETURNING id, name, color')
    this.updateStmt = c.prepare(
      'UPDATE labels SET name = @name, color = @color WHERE workspace_id = @ws AND id = @id RETURNING id, name, color',
    )
    this.unlinkAllStmt = c.prepare('DELETE FROM conversation_labels WHERE label_id = ?')
    this.deleteStmt = c.prepare('DELETE FROM labels WHERE workspace_id = ? AND id = ?')
    this.idsOfStmt = c.prepare('SELECT label_id FROM conversation_labels WHERE conversation_id = ?').pluck()
    this.linkStmt = c.prepare(
      'INSERT INTO conversation_labels (conversation_id, label_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    )
    this.unlinkStmt = c.prepare('DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id = ?')
  }

  /** The workspace's labels, by name. */
  list(workspaceId: number): LabelRef[] {
    return this.listStmt.all(workspaceId) as LabelRef[]
  }

  byId(workspaceId: number, id: number): LabelRef | undefined {
    return this.byIdStmt.get(workspaceId, id) as LabelRef | undefined
  }

  count(workspaceId: number): number {
    return this.countStmt.get(workspaceId) as number
  }

  insert(workspaceId: number, name: string, color: string, now: number): LabelRef {
    return this.insertStmt.get(workspaceId, name, color, now) as LabelRef
  }

  /** Undefined when the label is not in this workspace. */
  update(workspaceId: number, id: number, set: { name: string; color: string }): LabelRef | undefined {
    return this.updateStmt.get({ ws: workspaceId, id, ...set }) as LabelRef | undefined
  }

  /** Deletes the label and takes it off every conversation; false when it is not in this workspace. */
  delete(workspaceId: number, id: number): boolean {
    if (!this.byId(workspaceId, id)) return false
    this.unlinkAllStmt.run(id)
    return this.deleteStmt.run(workspaceId, id).changes > 0
  }

  /** The ids of the conversation's labels. */
  idsOf(conversationId: number): number[] {
    return this.idsOfStmt.all(conversationId) as number[]
  }

  /**
   * Makes the conversation carry exactly these labels (already checked to be its
   * workspace's). Returns whether anything changed.
   */
  setForConversation(conversationId: number, labelIds: readonly number[], now: number): boolean {
    const want = new Set(labelIds)
    const have = new Set(this.idsOf(conversationId))
    let changed = false
    for (const id of have) if (!want.has(id)) changed = this.unlinkStmt.run(conversationId, id).changes > 0 || changed
    for (const id of want) if (!have.has(id)) changed = this.linkStmt.run(conversationId, id, now).changes > 0 || changed
    return changed
  }
}
