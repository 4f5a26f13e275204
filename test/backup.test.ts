// `npm run backup` while the server runs: a consistent copy with a new epoch.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import path from 'node:path'
import Database from 'better-sqlite3'
import { startServer } from './helpers/server.ts'
import { textWebhook } from './helpers/wa.ts'
import { connectSse } from './helpers/sse.ts'

const run = promisify(execFile)

t.test('online backup is complete, verified, and detected as another database after restore', async (t) => {
  const s = await startServer(t)
  for (let i = 0; i < 20; i++) await s.webhook(textWebhook('15550001111', 'Alice', `m${i}`).payload)
  const out = path.join(s.dataDir, 'my-backup')
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/backup.ts', out], {
    env: { ...process.env, DATA_DIR: s.dataDir },
  })
  t.match(stdout, /Backup written to/)
  const copy = new Database(path.join(out, 'parley.db'), { readonly: true })
  t.equal((copy.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n, 20)
  const epoch = (copy.prepare(`SELECT value FROM meta WHERE key='epoch'`).get() as { value: string }).value
  copy.close()
  t.not(epoch, s.app.services.events.epoch, 'the copy has its own epoch')

  // A cursor from the copy's id space is refused by the live server (and vice versa).
  const { token } = await s.login()
  const sse = await connectSse(`${s.url}/stream`, { token, lastEventId: `${epoch}:5` })
  t.teardown(() => sse.close())
  await sse.waitFor((ev) => ev.length >= 1)
  t.equal(sse.events[0]!.event, 'reset')
  t.equal(JSON.parse(sse.events[0]!.data).reason, 'other_epoch')
})
