// Secrets at rest, at start (issue 16): proves the configured key is the one this
// database's secrets were sealed with, then seals every secret still stored in clear (a
// database from before encryption at rest, or a restored old backup). One transaction,
// idempotent: the second start finds nothing to seal.
//
// A wrong key (PARLEY_SECRET_KEY changed, or DATA_DIR/secret-key lost or replaced) stops
// the start with a clear message instead of Parley running with tokens it cannot read.
import type { Db } from '../../store/db.ts'
import { readMeta, writeMeta } from '../../store/db.ts'
import { ChannelsRepo } from '../../store/channels.ts'
import { sqliteConn } from '../../store/conn.ts'
import { runSync } from '../../store/unit.ts'
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
export function checkSecretKey(db: Db, box: SecretBox): void {
  const check = readMeta(db, KEY_CHECK_META)
  if (check !== undefined) {
    if (!opens(box, check) || box.open(check) !== KEY_CHECK_TEXT) throw new SecretKeyMismatchError()
    return
  }
  // A database sealed before the check value existed: one sealed secret tells.
  const sample = runSync(new ChannelsRepo(box).anySealed(), sqliteConn(db.$client))
  if (sample !== undefined && !opens(box, sample)) throw new SecretKeyMismatchError()
}

/**
 * Checks the key and seals every clear secret; returns how many values were sealed. The
 * database must have the box bound (bindSecretBox) already.
 */
export function sealSecretsAtRest(db: Db, box: SecretBox): number {
  const c = db.$client
  const sealed = c.transaction(() => {
    checkSecretKey(db, box)
    if (readMeta(db, KEY_CHECK_META) === undefined) writeMeta(db, KEY_CHECK_META, box.seal(KEY_CHECK_TEXT))
    return runSync(new ChannelsRepo(box).sealClearSecrets(), sqliteConn(db.$client))
  })
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
