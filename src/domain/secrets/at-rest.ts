// Secrets at rest, at start (issue 16): proves the configured key is the one this
// database's secrets were sealed with, then seals every secret still stored in clear (a
// database from before encryption at rest, or a restored old backup). One transaction,
// idempotent: the second start finds nothing to seal.
//
// A wrong key (PARLEY_SECRET_KEY changed, or DATA_DIR/secret-key lost or replaced) stops
// the start with a clear message instead of Parley running with tokens it cannot read.
import type { Db } from '../../store/db.ts'
import { ChannelsRepo } from '../../store/channels.ts'
import { sqliteConn } from '../../store/conn.ts'
import { metaValue, setMeta } from '../../store/meta.ts'
import type { UnitRunner } from '../../store/runner.ts'
import { runSync, type Q } from '../../store/unit.ts'
import type { SecretBox } from '../../store/secret-box.ts'

/** meta key: a known text sealed with the key, written on the first start with one. */
export const KEY_CHECK_META = 'secret_key_check'
const KEY_CHECK_TEXT = 'parley-secret-key-check'

export class SecretKeyMismatchError extends Error {
  constructor() {
    super(
      'The secret key does not open the secrets in this database: PARLEY_SECRET_KEY (or DATA_DIR/secret-key) is not ' +
        'the key they were sealed with. Set the key this database was used with (a backup holds it as secret-key); ' +
        'without it the saved channel tokens and app secrets cannot be read.',
    )
    this.name = 'SecretKeyMismatchError'
  }
}

/** Whether `box` opens `sealed` (false: another key, or the value is damaged). */
function opens(box: SecretBox, sealed: string): boolean {
  try {
    box.open(sealed)
    return true
  } catch {
    return false
  }
}

/** Throws SecretKeyMismatchError when `box` is not this database's key. Reads only. */
export function* checkSecretKeyUnit(box: SecretBox): Q<void> {
  const check = yield* metaValue(KEY_CHECK_META)
  if (check !== undefined) {
    if (!opens(box, check) || box.open(check) !== KEY_CHECK_TEXT) throw new SecretKeyMismatchError()
    return
  }
  // A database sealed before the check value existed: one sealed secret tells.
  const sample = yield* new ChannelsRepo(box).anySealed()
  if (sample !== undefined && !opens(box, sample)) throw new SecretKeyMismatchError()
}

/** On a SQLite file (a backup being restored). */
export function checkSecretKey(db: Db, box: SecretBox): void {
  runSync(checkSecretKeyUnit(box), sqliteConn(db.$client))
}

/** The key checked, its check value written on first use, every clear secret sealed: how many (one unit). */
export function* sealSecretsUnit(box: SecretBox): Q<number> {
  yield* checkSecretKeyUnit(box)
  if ((yield* metaValue(KEY_CHECK_META)) === undefined) yield* setMeta(KEY_CHECK_META, box.seal(KEY_CHECK_TEXT))
  return yield* new ChannelsRepo(box).sealClearSecrets()
}

/**
 * PostgreSQL (issue 17): the same check and sealing in one transaction. The clear values
 * stay in dead row versions until autovacuum reclaims them (there is no secure_delete).
 */
export function sealSecretsAtRestOn(units: UnitRunner, box: SecretBox): Promise<number> {
  return units.transact(() => sealSecretsUnit(box))
}

/**
 * Checks the key and seals every clear secret; returns how many values were sealed. The
 * database must have the box bound (bindSecretBox) already.
 */
export function sealSecretsAtRest(db: Db, box: SecretBox): number {
  const c = db.$client
  const sealed = c.transaction(() => runSync(sealSecretsUnit(box), sqliteConn(c)))
  // secure_delete: the clear bytes are overwritten, not just freed, so they do not linger
  // in the database file's free space.
  const before = c.pragma('secure_delete', { simple: true }) as number
  let n = 0
  try {
    c.pragma('secure_delete = ON')
    n = sealed.immediate()
  } finally {
    c.pragma(`secure_delete = ${before ? 'ON' : 'OFF'}`)
  }
  // The old pages (with the clear values) leave the WAL and the main file now, not at
  // some later checkpoint.
  if (n > 0) c.pragma('wal_checkpoint(TRUNCATE)')
  return n
}
