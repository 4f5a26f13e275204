// Secrets at rest at start (issue 16) on both databases (issue 17): the same unit checks the
// key, writes its check value on first use, seals every clear secret once, and refuses a
// key that is not the database's — on a fresh SQLite and a fresh PostgreSQL database.
import t from 'tap'
import { checkSecretKeyUnit, KEY_CHECK_META, SecretKeyMismatchError, sealSecretsUnit } from '../src/domain/secrets/at-rest.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { metaValue } from '../src/store/meta.ts'
import { all } from '../src/store/unit.ts'
import { insertId, onBoth } from './helpers/dialects.ts'

const box = new SecretBox(SecretBox.keyFrom('a'.repeat(64))!)
const otherBox = new SecretBox(SecretBox.keyFrom('b'.repeat(64))!)

t.test('sealing at start: once, idempotent, the wrong key refused', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    // A database from before encryption at rest: secrets in clear.
    await insertId(
      db,
      `INSERT INTO channels (workspace_id, kind, external_id, name, access_token, app_secret, verify_token, enabled, created_at)
       VALUES (1, 'whatsapp', '1001', 'Shop', 'clear-token', 'clear-secret', NULL, ?, 1)`,
      [true],
    )
    const first = await db.runner.transact(() => sealSecretsUnit(box))
    const second = await db.runner.transact(() => sealSecretsUnit(box))
    const rows = await db.runner.read(() =>
      all<{ access_token: string; app_secret: string }>('SELECT access_token, app_secret FROM channels'),
    )
    const check = await db.runner.read(() => metaValue(KEY_CHECK_META))
    let refused = ''
    try {
      await db.runner.transact(() => sealSecretsUnit(otherBox))
    } catch (err) {
      refused = err instanceof SecretKeyMismatchError ? 'mismatch' : String(err)
    }
    let readRefused = ''
    try {
      await db.runner.read(() => checkSecretKeyUnit(otherBox))
    } catch (err) {
      readRefused = err instanceof SecretKeyMismatchError ? 'mismatch' : String(err)
    }
    return {
      first,
      second,
      sealed: rows.map((r) => [SecretBox.isSealed(r.access_token), SecretBox.isSealed(r.app_secret)]),
      opened: rows.map((r) => [box.open(r.access_token), box.open(r.app_secret)]),
      checkOpens: check !== undefined && box.open(check).length > 0,
      refused,
      readRefused,
    }
  })
  t.same(
    sqlite,
    {
      first: 2,
      second: 0,
      sealed: [[true, true]],
      opened: [['clear-token', 'clear-secret']],
      checkOpens: true,
      refused: 'mismatch',
      readRefused: 'mismatch',
    },
    'SQLite: two values sealed, then none; the other key refused',
  )
  if (pg) t.same(pg, sqlite, 'PostgreSQL: the same')
})
