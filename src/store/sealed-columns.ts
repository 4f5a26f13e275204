// Which SecretBox seals a database's secret columns (issue 16, secrets at rest). The app
// binds its box to the database once at start (app.ts), before any repository reads a
// secret; a repository that stores secrets (channels.ts) asks for it here, so every place
// that constructs one — the inbox store, the channel directory, start-up, the team — seals
// and opens the same way without each being handed the box.
import type { Db } from './db.ts'
import type { SecretBox } from './secret-box.ts'

const boxes = new WeakMap<object, SecretBox>()

export function bindSecretBox(db: Db, box: SecretBox): void {
  boxes.set(db.$client, box)
}

export function secretBoxOf(db: Db): SecretBox {
  const box = boxes.get(db.$client)
  if (!box) throw new Error('no secret box is bound to this database (bindSecretBox at start)')
  return box
}
