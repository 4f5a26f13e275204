// Presence's memory across restarts (issue 13): who held an open stream and when Parley
// last saw them. Written only when a person's first stream opens or last one closes.
// Units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
//
// Across processes (issue 17): table presence_nodes, one row per process and person. Each
// process writes only its own rows (a stream opened or closed, and its heartbeat refreshing
// seen_at of the people it holds streams of); anyone sweeps the rows that are long stale.
// A person is online while any of their rows was seen within the grace.
import { all, dialect, type Q, run } from './unit.ts'

const MARK = 'UPDATE users SET streaming = ?, seen_at = ? WHERE id = ?'
const RECENT = `SELECT id AS "userId", workspace_id AS "workspaceId" FROM users
  WHERE disabled_at IS NULL AND (streaming = ? OR seen_at >= ?) ORDER BY id`

/** One process's row for one person. */
export interface NodeRow {
  userId: number
  workspaceId: number
  streaming: boolean
  seenAt: number
}

const UPSERT_HEAD = 'INSERT INTO presence_nodes (node_id, user_id, workspace_id, streaming, seen_at) VALUES '
const UPSERT_TAIL = ` ON CONFLICT (node_id, user_id) DO UPDATE SET
  workspace_id = excluded.workspace_id, streaming = excluded.streaming, seen_at = excluded.seen_at`
/** Rows per upsert: 5 parameters each, far below either database's limit. */
const UPSERT_CHUNK = 200
// The heartbeat's second half: this process's rows it no longer refreshed are not streaming.
const UNREFRESHED = 'UPDATE presence_nodes SET streaming = ? WHERE node_id = ? AND streaming = ? AND seen_at < ?'
// A process starting under the id of one that stopped (PARLEY_NODE_ID set): what that one held
// is not held any more; seen_at stays its last heartbeat, so its people get the grace from there.
const RELEASE_KEEP = 'UPDATE presence_nodes SET streaming = ? WHERE node_id = ? AND streaming = ?'
const RELEASE_AT = 'UPDATE presence_nodes SET streaming = ?, seen_at = ? WHERE node_id = ? AND streaming = ?'
// Rows nobody refreshed for long: any process sweeps them (a dead process's rows included).
// On PostgreSQL the rows another process is writing or sweeping are skipped, never waited for.
const SWEEP_SQLITE = 'DELETE FROM presence_nodes WHERE seen_at < ?'
const SWEEP_PG = `DELETE FROM presence_nodes WHERE (node_id, user_id) IN
  (SELECT node_id, user_id FROM presence_nodes WHERE seen_at < ? FOR UPDATE SKIP LOCKED)`
const ONLINE = `SELECT u.id AS "userId", u.workspace_id AS "workspaceId" FROM users u
  WHERE u.disabled_at IS NULL AND EXISTS (SELECT 1 FROM presence_nodes p WHERE p.user_id = u.id AND p.seen_at > ?)
  ORDER BY u.id`

export class PresenceRepo {
  *mark(userId: number, streaming: boolean, at: number): Q<void> {
    yield* run(MARK, [streaming, at, userId])
  }

  /** Active people who were streaming when the process stopped, or seen since `since`. */
  *recent(since: number): Q<{ userId: number; workspaceId: number }[]> {
    return yield* all<{ userId: number; workspaceId: number }>(RECENT, [true, since])
  }

  /** This process's rows for these people, as given (a stream opened or closed; the heartbeat). */
  *putNodeRows(nodeId: string, rows: readonly NodeRow[]): Q<void> {
    for (let i = 0; i < rows.length; i += UPSERT_CHUNK) {
      const chunk = rows.slice(i, i + UPSERT_CHUNK)
      const params: unknown[] = []
      for (const r of chunk) params.push(nodeId, r.userId, r.workspaceId, r.streaming, r.seenAt)
      yield* run(UPSERT_HEAD + chunk.map(() => '(?, ?, ?, ?, ?)').join(', ') + UPSERT_TAIL, params)
    }
  }

  /**
   * The heartbeat: the people this process holds streams of are streaming and seen `at`; any
   * other row of this process still marked streaming (a close whose write failed) is not.
   */
  *heartbeat(nodeId: string, holding: readonly { userId: number; workspaceId: number }[], at: number): Q<void> {
    yield* this.putNodeRows(
      nodeId,
      holding.map((h) => ({ ...h, streaming: true, seenAt: at })),
    )
    yield* run(UNREFRESHED, [false, nodeId, true, at])
  }

  /** This process holds no stream any more (its start, its stop): seen `at`, or at its last heartbeat. */
  *releaseNode(nodeId: string, at?: number): Q<void> {
    if (at === undefined) yield* run(RELEASE_KEEP, [false, nodeId, true])
    else yield* run(RELEASE_AT, [false, at, nodeId, true])
  }

  /** Removes every process's rows not seen since `before`. */
  *sweepNodeRows(before: number): Q<void> {
    yield* run((yield* dialect()) === 'postgres' ? SWEEP_PG : SWEEP_SQLITE, [before])
  }

  /** Active people with a row of any process seen after `after` (strictly), ascending. */
  *onlineAcrossNodes(after: number): Q<{ userId: number; workspaceId: number }[]> {
    return yield* all<{ userId: number; workspaceId: number }>(ONLINE, [after])
  }
}
