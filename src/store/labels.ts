// Labels (issue 14): the workspace's labels and which conversations carry them. Written as
// units of work (store/unit.ts), the same SQL on SQLite and PostgreSQL (issue 17): callers
// run the writes inside their transaction. Every read that serves a user takes the
// workspace id, which comes from the session.
import type { LabelRef } from '../events/types.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

// By name, as a conversation's labels are ordered (store/conversations.ts labelsOf). SQLite
// compares text by code point; PostgreSQL by the database's locale (en_US would put 'a'
// before 'B'), so it is told to compare by code point too: one order on both.
const LIST_SQLITE = 'SELECT id, name, color FROM labels WHERE workspace_id = ? ORDER BY name, id'
const LIST_PG = 'SELECT id, name, color FROM labels WHERE workspace_id = ? ORDER BY name COLLATE "C", id'
const BY_ID = 'SELECT id, name, color FROM labels WHERE workspace_id = ? AND id = ?'
const COUNT = 'SELECT count(*) AS n FROM labels WHERE workspace_id = ?'
const INSERT = 'INSERT INTO labels (workspace_id, name, color, created_at) VALUES (?, ?, ?, ?) RETURNING id, name, color'
const UPDATE = 'UPDATE labels SET name = ?, color = ? WHERE workspace_id = ? AND id = ? RETURNING id, name, color'
const UNLINK_ALL = 'DELETE FROM conversation_labels WHERE label_id = ?'
const DELETE = 'DELETE FROM labels WHERE workspace_id = ? AND id = ?'
// Ordered: PostgreSQL returns rows in no set order (SQLite walked the primary key's order).
const IDS_OF = 'SELECT label_id AS "labelId" FROM conversation_labels WHERE conversation_id = ? ORDER BY label_id'
const LINK = 'INSERT INTO conversation_labels (conversation_id, label_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'
const UNLINK = 'DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id = ?'

export class LabelsRepo {
  /** The workspace's labels, by name. */
  *list(workspaceId: number): Q<LabelRef[]> {
    return yield* all<LabelRef>((yield* dialect()) === 'postgres' ? LIST_PG : LIST_SQLITE, [workspaceId])
  }

  *byId(workspaceId: number, id: number): Q<LabelRef | undefined> {
    return yield* get<LabelRef>(BY_ID, [workspaceId, id])
  }

  *count(workspaceId: number): Q<number> {
    return Number((yield* get<{ n: number }>(COUNT, [workspaceId]))!.n)
  }

  *insert(workspaceId: number, name: string, color: string, now: number): Q<LabelRef> {
    return (yield* get<LabelRef>(INSERT, [workspaceId, name, color, now]))!
  }

  /** Undefined when the label is not in this workspace. */
  *update(workspaceId: number, id: number, set: { name: string; color: string }): Q<LabelRef | undefined> {
    return yield* get<LabelRef>(UPDATE, [set.name, set.color, workspaceId, id])
  }

  /** Deletes the label and takes it off every conversation; false when it is not in this workspace. */
  *delete(workspaceId: number, id: number): Q<boolean> {
    if (!(yield* this.byId(workspaceId, id))) return false
    yield* run(UNLINK_ALL, [id])
    return (yield* run(DELETE, [workspaceId, id])).changes > 0
  }

  /** The ids of the conversation's labels. */
  *idsOf(conversationId: number): Q<number[]> {
    return (yield* all<{ labelId: number }>(IDS_OF, [conversationId])).map((r) => r.labelId)
  }

  /**
   * Makes the conversation carry exactly these labels (already checked to be its
   * workspace's). Returns whether anything changed.
   */
  *setForConversation(conversationId: number, labelIds: readonly number[], now: number): Q<boolean> {
    const want = new Set(labelIds)
    const have = new Set(yield* this.idsOf(conversationId))
    let changed = false
    for (const id of have) if (!want.has(id)) changed = (yield* run(UNLINK, [conversationId, id])).changes > 0 || changed
    for (const id of want) if (!have.has(id)) changed = (yield* run(LINK, [conversationId, id, now])).changes > 0 || changed
    return changed
  }
}
