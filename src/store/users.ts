// Workspaces and users. Emails are stored trimmed and lower-cased; callers pass them so.
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import { users } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export type UserRow = typeof users.$inferSelect
export type NewUser = typeof users.$inferInsert

const userCodec = new TableCodec<UserRow>(users)
const USER_COLUMNS = userCodec.selectQuoted('u')

const FIRST_WORKSPACE = `SELECT id FROM workspaces ORDER BY id LIMIT 1`
const INSERT_WORKSPACE = `INSERT INTO workspaces (name) VALUES (?) RETURNING id`
const WORKSPACE_NAME = `SELECT name FROM workspaces WHERE id = ?`

const COUNT = `SELECT count(*) AS n FROM users`
const BY_ID = `SELECT ${USER_COLUMNS} FROM users u WHERE u.id = ?`
const BY_EMAIL = `SELECT ${USER_COLUMNS} FROM users u WHERE u.email = ?`
const ACTIVE_BY_EMAIL = `SELECT ${USER_COLUMNS} FROM users u WHERE u.email = ? AND u.disabled_at IS NULL`
const ALL = `SELECT ${USER_COLUMNS} FROM users u ORDER BY u.id`
const NAME_IN_WORKSPACE = `SELECT name FROM users WHERE workspace_id = ? AND id = ?`
const SET_PASSWORD = `UPDATE users SET password_hash = ? WHERE id = ?`
const OF_WORKSPACE = `SELECT ${USER_COLUMNS} FROM users u WHERE u.workspace_id = ? ORDER BY u.id`
const ACTIVE_ADMINS = `SELECT count(*) AS n FROM users WHERE workspace_id = ? AND role = 'admin' AND disabled_at IS NULL`
const LOCK_ACTIVE_ADMINS = `SELECT id FROM users WHERE workspace_id = ? AND role = 'admin' AND disabled_at IS NULL FOR UPDATE`

export class WorkspacesRepo {
  /** The first workspace's id; one named `name` is created when there is none. */
  *firstOrCreate(name: string): Q<number> {
    const ws = yield* get<{ id: number }>(FIRST_WORKSPACE)
    if (ws) return ws.id
    return (yield* get<{ id: number }>(INSERT_WORKSPACE, [name]))!.id
  }

  *name(id: number): Q<string | undefined> {
    return (yield* get<{ name: string }>(WORKSPACE_NAME, [id]))?.name
  }
}

export class UsersRepo {
  *count(): Q<number> {
    return Number((yield* get<{ n: number }>(COUNT))!.n)
  }

  *insert(values: NewUser): Q<UserRow> {
    return (yield* insertRow(userCodec, values))!
  }

  *byId(id: number): Q<UserRow | undefined> {
    return yield* one(BY_ID, [id])
  }

  /** Whoever has this email, disabled or not. */
  *byEmail(email: string): Q<UserRow | undefined> {
    return yield* one(BY_EMAIL, [email])
  }

  /** The user who may sign in with this email: not disabled. */
  *activeByEmail(email: string): Q<UserRow | undefined> {
    return yield* one(ACTIVE_BY_EMAIL, [email])
  }

  /** Every user, oldest first. */
  *all(): Q<UserRow[]> {
    return (yield* all<unknown>(ALL)).map((r) => userCodec.decodeAny(r))
  }

  /** The name a system line gives an agent ("Ana resolved this"): their own workspace's users only. */
  *nameInWorkspace(workspaceId: number, userId: number): Q<string | undefined> {
    return (yield* get<{ name: string }>(NAME_IN_WORKSPACE, [workspaceId, userId]))?.name
  }

  *setPasswordHash(userId: number, passwordHash: string): Q<void> {
    yield* run(SET_PASSWORD, [passwordHash, userId])
  }

  /** Every user of the workspace, oldest first. */
  *ofWorkspace(workspaceId: number): Q<UserRow[]> {
    return (yield* all<unknown>(OF_WORKSPACE, [workspaceId])).map((r) => userCodec.decodeAny(r))
  }

  /** Changes what is given; the row after the change (undefined when there is no such user). */
  *update(userId: number, set: Partial<Pick<UserRow, 'name' | 'role' | 'disabledAt' | 'availability'>>): Q<UserRow | undefined> {
    return yield* updateRowById(userCodec, userId, set)
  }

  /** Admins who can sign in: the last one may not be demoted or deactivated. */
  *activeAdmins(workspaceId: number): Q<number> {
    return Number((yield* get<{ n: number }>(ACTIVE_ADMINS, [workspaceId]))!.n)
  }

  /**
   * Before counting them to demote or deactivate one, in a writing transaction: on PostgreSQL
   * the active admins' rows are locked until it ends (FOR UPDATE), so two admins demoting each
   * other at once on two processes are serialized and the second sees the first's change — as
   * on SQLite, where writing transactions are serialized already.
   */
  *lockActiveAdmins(workspaceId: number): Q<void> {
    if ((yield* dialect()) === 'postgres') yield* all(LOCK_ACTIVE_ADMINS, [workspaceId])
  }
}

function* one(sql: string, params: unknown[]): Q<UserRow | undefined> {
  const row = yield* get<unknown>(sql, params)
  return row === undefined ? undefined : userCodec.decodeAny(row)
}
