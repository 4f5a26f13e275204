// TOTP two-factor rows (issue 16): the sealed secret (or the one pending confirmation),
// the last time step accepted, and the hashes of the unused recovery codes; and each
// workspace's "required for everyone" switch. Sealing and hashing are the caller's
// (domain/accounts/two-factor.ts): this file stores what it is given.
//
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
// Every statement on a person's row also takes their workspace id (from the session or the
// user row), so a row is never read or changed through another workspace. The writes that
// must happen once (a code used, 2FA turned on or off) are conditional updates, so two
// requests racing on PostgreSQL's READ COMMITTED (several processes) cannot both win.
import { TableCodec } from './prepared.ts'
import { twoFactor } from './schema.ts'
import { get, type Q, run } from './unit.ts'

export type TwoFactorRow = typeof twoFactor.$inferSelect

const codec = new TableCodec<TwoFactorRow>(twoFactor)

const GET = `SELECT ${codec.selectQuoted('t')} FROM two_factor t WHERE t.user_id = ? AND t.workspace_id = ?`
// A restart of setup replaces only the pending secret: an enabled one is kept. The WHERE keeps
// a row of another workspace (there is none: a person has one) from being touched.
const SET_PENDING = `INSERT INTO two_factor (user_id, workspace_id, pending_secret) VALUES (?, ?, ?)
  ON CONFLICT (user_id) DO UPDATE SET pending_secret = excluded.pending_secret WHERE two_factor.workspace_id = excluded.workspace_id`
// Only the pending secret that was checked, and only while 2FA is off: a setup restarted (a new
// pending secret) or an enable that won in between makes this one change nothing.
const ENABLE = `UPDATE two_factor SET secret = pending_secret, pending_secret = NULL, enabled_at = ?, last_step = ?, recovery_codes = ?
  WHERE user_id = ? AND workspace_id = ? AND enabled_at IS NULL AND pending_secret = ?`
const ADVANCE_STEP = `UPDATE two_factor SET last_step = ?
  WHERE user_id = ? AND workspace_id = ? AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)`
const SET_RECOVERY = `UPDATE two_factor SET recovery_codes = ? WHERE user_id = ? AND workspace_id = ? AND enabled_at IS NOT NULL`
const RECOVERY_TEXT = `SELECT recovery_codes AS "codes" FROM two_factor WHERE user_id = ? AND workspace_id = ? AND enabled_at IS NOT NULL`
// Compare-and-set on the list's text: on PostgreSQL a second transaction that read the same list
// waits for the first's row lock, then finds the text changed and writes nothing.
const SWAP_RECOVERY = `UPDATE two_factor SET recovery_codes = ? WHERE user_id = ? AND workspace_id = ? AND recovery_codes = ?`
const REMOVE_ENABLED = `DELETE FROM two_factor WHERE user_id = ? AND workspace_id = ? AND enabled_at IS NOT NULL`
const REQUIRED = `SELECT required FROM two_factor_policy WHERE workspace_id = ?`
const SET_REQUIRED = `INSERT INTO two_factor_policy (workspace_id, required, updated_at) VALUES (?, ?, ?)
  ON CONFLICT (workspace_id) DO UPDATE SET required = excluded.required, updated_at = excluded.updated_at`

// Another person's change to the list between our read and our swap (two codes used at once):
// read again and retry; each retry follows a committed change, so a few are plenty.
const RECOVERY_SWAP_TRIES = 5

export class TwoFactorRepo {
  *get(workspaceId: number, userId: number): Q<TwoFactorRow | undefined> {
    const row = yield* get<Record<string, unknown>>(GET, [userId, workspaceId])
    return row === undefined ? undefined : codec.decodeAny(row)
  }

  /** Starts (or restarts) setup: a new pending secret; an enabled secret is kept. */
  *setPending(workspaceId: number, userId: number, pendingSecret: string): Q<void> {
    yield* run(SET_PENDING, [userId, workspaceId, pendingSecret])
  }

  /**
   * Turns 2FA on with the pending secret that was checked (`pendingSecret`): false when that
   * is no longer the pending secret or 2FA is already on.
   */
  *enable(workspaceId: number, userId: number, pendingSecret: string, at: number, lastStep: number, recoveryCodes: string[]): Q<boolean> {
    const r = yield* run(ENABLE, [at, lastStep, JSON.stringify(recoveryCodes), userId, workspaceId, pendingSecret])
    return r.changes === 1
  }

  /**
   * Records an accepted time step, only if it is later than the last one: false when
   * another request took this step (or a later one) first.
   */
  *advanceStep(workspaceId: number, userId: number, step: number): Q<boolean> {
    const r = yield* run(ADVANCE_STEP, [step, userId, workspaceId, step])
    return r.changes === 1
  }

  /** Replaces the recovery codes of an enabled 2FA: false when it is not on. */
  *setRecoveryCodes(workspaceId: number, userId: number, recoveryCodes: string[]): Q<boolean> {
    const r = yield* run(SET_RECOVERY, [JSON.stringify(recoveryCodes), userId, workspaceId])
    return r.changes === 1
  }

  /** Removes one unused recovery code by its hash: false when it was not there (unknown or used). */
  *useRecoveryCode(workspaceId: number, userId: number, hash: string): Q<boolean> {
    for (let i = 0; i < RECOVERY_SWAP_TRIES; i++) {
      const row = yield* get<{ codes: string | null }>(RECOVERY_TEXT, [userId, workspaceId])
      if (!row?.codes) return false
      const codes = JSON.parse(row.codes) as string[]
      if (!codes.includes(hash)) return false
      const swapped = yield* run(SWAP_RECOVERY, [JSON.stringify(codes.filter((c) => c !== hash)), userId, workspaceId, row.codes])
      if (swapped.changes === 1) return true
    }
    throw new Error('two-factor recovery codes kept changing while one was being used; try again')
  }

  /** Turns an enabled 2FA off (its row goes): false when it was not on. */
  *removeEnabled(workspaceId: number, userId: number): Q<boolean> {
    const r = yield* run(REMOVE_ENABLED, [userId, workspaceId])
    return r.changes === 1
  }

  *required(workspaceId: number): Q<boolean> {
    const row = yield* get<{ required: boolean | number }>(REQUIRED, [workspaceId])
    return Boolean(row?.required)
  }

  *setRequired(workspaceId: number, required: boolean, at: number): Q<void> {
    yield* run(SET_REQUIRED, [workspaceId, required, at])
  }
}
