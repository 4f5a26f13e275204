// Canned replies (issue 14): a workspace's shared replies (owner_id NULL, managed by
// admins) and each person's own. The rules (who may change what, the shortcut's
// uniqueness, the variables) live in domain/canned/. Written as units of work
// (store/unit.ts): one SQL text per statement for SQLite and PostgreSQL (issue 17), two
// only where the dialects differ (reading a contact's JSON attributes, sort order, locking).
import type { CannedContact } from '../domain/canned/variables.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export interface CannedReplyRow {
  id: number
  workspaceId: number
  /** Null: shared with the whole workspace. */
  ownerId: number | null
  shortcut: string
  text: string
  createdBy: number | null
  createdAt: number
  updatedAt: number
}

/** The contact of a conversation, as the variables read it, with the conversation's channel (for the caller's scope). */
export interface CannedContactOf {
  channelId: number
  contact: CannedContact
}

const COLUMNS = `id, workspace_id AS "workspaceId", owner_id AS "ownerId", shortcut, text, created_by AS "createdBy",
  created_at AS "createdAt", updated_at AS "updatedAt"`

// What one person sees: the shared ones and their own, by shortcut (case-insensitively).
// PostgreSQL sorts text by the database's collation (en_US ignores '-' and '_' at first
// level); COLLATE "C" gives SQLite's byte order, so both list in the same order.
const VISIBLE_WHERE = 'FROM canned_replies WHERE workspace_id = ? AND (owner_id IS NULL OR owner_id = ?)'
const VISIBLE = {
  sqlite: `SELECT ${COLUMNS} ${VISIBLE_WHERE} ORDER BY lower(shortcut), owner_id IS NOT NULL, id`,
  postgres: `SELECT ${COLUMNS} ${VISIBLE_WHERE} ORDER BY lower(shortcut) COLLATE "C", owner_id IS NOT NULL, id`,
}
const BY_ID = `SELECT ${COLUMNS} FROM canned_replies WHERE workspace_id = ? AND id = ?`
// A shortcut taken among the shared ones and this person's own (case-insensitively), other than `id`.
const CLASH = `SELECT 1 AS "taken" FROM canned_replies WHERE workspace_id = ? AND (owner_id IS NULL OR owner_id = ?)
  AND lower(shortcut) = lower(?) AND id != ? LIMIT 1`
const INSERT = `INSERT INTO canned_replies (workspace_id, owner_id, shortcut, text, created_by, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`
// Scoped by workspace too, so a caller's mistake cannot reach another workspace's reply.
const UPDATE = `UPDATE canned_replies SET owner_id = ?, shortcut = ?, text = ?, updated_at = ?
  WHERE workspace_id = ? AND id = ? RETURNING ${COLUMNS}`
const DELETE = 'DELETE FROM canned_replies WHERE workspace_id = ? AND id = ?'
// Whether some contact of the workspace has this attribute: stops at the first one. The
// attributes are JSON text on both databases; jsonb_exists is PostgreSQL's `?` operator,
// spelled as a function because `?` is a placeholder here.
const ATTRIBUTE_USED = {
  sqlite: `SELECT 1 AS "used" FROM contacts c, json_each(c.attributes) j
    WHERE c.workspace_id = ? AND c.attributes IS NOT NULL AND j.key = ? LIMIT 1`,
  postgres: `SELECT 1 AS "used" FROM contacts c
    WHERE c.workspace_id = ? AND c.attributes IS NOT NULL AND jsonb_exists(c.attributes::jsonb, ?) LIMIT 1`,
}
// The attribute keys of the workspace's contacts, in byte order on both (see VISIBLE).
// jsonb_object_keys throws on anything but an object, where json_each would list an
// array's indexes: a non-object reads as no keys.
const ATTRIBUTE_KEYS = {
  sqlite: `SELECT DISTINCT j.key AS "key" FROM contacts c, json_each(c.attributes) j
    WHERE c.workspace_id = ? AND c.attributes IS NOT NULL ORDER BY j.key LIMIT ?`,
  postgres: `SELECT DISTINCT k.key COLLATE "C" AS "key" FROM contacts c,
      jsonb_object_keys(CASE WHEN jsonb_typeof(c.attributes::jsonb) = 'object' THEN c.attributes::jsonb ELSE '{}'::jsonb END) AS k(key)
    WHERE c.workspace_id = ? AND c.attributes IS NOT NULL ORDER BY 1 LIMIT ?`,
}
// What a reply's variables read of the conversation's contact, and the conversation's channel.
const CONTACT = `SELECT v.channel_id AS "channelId", ct.name, ct.profile_name AS "profileName", ct.phone, ct.kind,
    ct.external_id AS "externalId", ct.attributes
  FROM conversations v JOIN contacts ct ON ct.id = v.contact_id WHERE v.workspace_id = ? AND v.id = ?`
// The agent's name for `{{agent.name}}`: their own workspace's users only (as UsersRepo.nameInWorkspace).
const USER_NAME = 'SELECT name FROM users WHERE workspace_id = ? AND id = ?'
// Serializes the writes of one workspace's canned replies on PostgreSQL, where READ
// COMMITTED would let two concurrent requests both find a shortcut free and both insert
// it (no unique index can say "case-insensitively, among the shared ones and one
// person's own"). Two int4 keys: this constant and the workspace; the two-key space does
// not meet the one-bigint key of the migrations' lock. Released at COMMIT/ROLLBACK.
// SQLite needs nothing: a writing unit runs in BEGIN IMMEDIATE, one writer at a time.
const CANNED_LOCK_CLASS = 0x4361_6e64 // "Cand"
const LOCK = 'SELECT pg_advisory_xact_lock(?::int, ?::int) AS "locked"'

export class CannedRepliesRepo {
  *visibleTo(workspaceId: number, userId: number): Q<CannedReplyRow[]> {
    return yield* all<CannedReplyRow>(VISIBLE[yield* dialect()], [workspaceId, userId])
  }

  *byId(workspaceId: number, id: number): Q<CannedReplyRow | undefined> {
    return yield* get<CannedReplyRow>(BY_ID, [workspaceId, id])
  }

  /** Whether the shortcut is taken among the shared replies and `userId`'s own, leaving out reply `exceptId`. */
  *shortcutTaken(workspaceId: number, userId: number, shortcut: string, exceptId = 0): Q<boolean> {
    return (yield* get(CLASH, [workspaceId, userId, shortcut, exceptId])) !== undefined
  }

  /** Taken first by every writing unit, before it reads what it checks (see CANNED_LOCK_CLASS). */
  *lockWorkspace(workspaceId: number): Q<void> {
    if ((yield* dialect()) === 'postgres') yield* get(LOCK, [CANNED_LOCK_CLASS, workspaceId])
  }

  *insert(v: {
    workspaceId: number
    ownerId: number | null
    shortcut: string
    text: string
    createdBy: number
    now: number
  }): Q<CannedReplyRow> {
    const row = yield* get<CannedReplyRow>(INSERT, [v.workspaceId, v.ownerId, v.shortcut, v.text, v.createdBy, v.now, v.now])
    return row!
  }

  /** The updated row; undefined when the workspace has no such reply. */
  *update(
    workspaceId: number,
    id: number,
    v: { ownerId: number | null; shortcut: string; text: string; now: number },
  ): Q<CannedReplyRow | undefined> {
    return yield* get<CannedReplyRow>(UPDATE, [v.ownerId, v.shortcut, v.text, v.now, workspaceId, id])
  }

  /** Whether a row was deleted. */
  *delete(workspaceId: number, id: number): Q<boolean> {
    return (yield* run(DELETE, [workspaceId, id])).changes > 0
  }

  *attributeInUse(workspaceId: number, key: string): Q<boolean> {
    return (yield* get(ATTRIBUTE_USED[yield* dialect()], [workspaceId, key])) !== undefined
  }

  /** The attribute keys the workspace's contacts have, sorted (for the help line). */
  *attributeKeys(workspaceId: number, limit: number): Q<string[]> {
    const rows = yield* all<{ key: string }>(ATTRIBUTE_KEYS[yield* dialect()], [workspaceId, limit])
    return rows.map((r) => r.key)
  }

  /** The contact of a conversation in this workspace, as the variables read it, and the conversation's channel. */
  *contactOf(workspaceId: number, conversationId: number): Q<CannedContactOf | undefined> {
    const row = yield* get<CannedContact & { channelId: number; attributes: string | null }>(CONTACT, [workspaceId, conversationId])
    if (!row) return undefined
    const { channelId, attributes, ...contact } = row
    return {
      channelId,
      contact: { ...contact, attributes: attributes === null ? null : (JSON.parse(attributes) as Record<string, string>) },
    }
  }

  /** A user's name in this workspace (undefined for another workspace's). */
  *userName(workspaceId: number, userId: number): Q<string | undefined> {
    return (yield* get<{ name: string }>(USER_NAME, [workspaceId, userId]))?.name
  }
}
