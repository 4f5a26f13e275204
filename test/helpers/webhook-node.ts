// One Parley process's outgoing-webhook delivery on PostgreSQL, as a child process for the
// multi-process test (issue 17): its own pool, event log (the tailer wakes the workers on
// every process's events) and dispatcher. It reports how many attempts it claimed, so the
// parent sees that the processes shared the work. The parent kills it with SIGKILL, or asks it
// to stop.
import { PgEventLog } from '../../src/events/pg-event-log.ts'
import { WebhookDispatcher } from '../../src/domain/webhooks/dispatcher.ts'
import { openPgPool } from '../../src/store/pg/db.ts'
import { PgRunner, type UnitRunner } from '../../src/store/runner.ts'
import { SecretBox } from '../../src/store/secret-box.ts'
import { WebhookEndpointsRepo } from '../../src/store/webhook-endpoints.ts'

const url = process.env.PG_URL!
const nodeId = process.env.NODE_ID!
const send = (m: unknown) => process.send!(m)

const pool = openPgPool(url, { nodeId, max: 4 })
const log = new PgEventLog(pool, {
  url,
  nodeId,
  pollMs: 100,
  clock: { now: () => Date.now() },
  onError: (err, what) => send({ error: `${what}: ${String(err)}` }),
})
const runner = new PgRunner(pool)
let claimed = 0
// The dispatcher's own runner, counting the attempts it claimed (a claim unit answers 'send').
const units: UnitRunner = {
  dialect: 'postgres',
  read: (unit) => runner.read(unit),
  transact: async (unit) => {
    const out = await runner.transact(unit)
    if ((out as { kind?: string } | undefined)?.kind === 'send') claimed++
    return out
  },
}
const dispatcher = new WebhookDispatcher({
  repo: new WebhookEndpointsRepo(),
  units,
  events: log,
  secrets: new SecretBox(Buffer.alloc(32, 7)),
  clock: { now: () => Date.now() },
  retryBaseMs: 10,
  retryCapMs: 200,
  retryForMs: 3600_000,
  timeoutMs: Number(process.env.TIMEOUT_MS),
  claimMs: Number(process.env.CLAIM_MS),
  allowPrivate: true,
  log: {
    warn: () => {},
    error: (obj, msg) => send({ error: `${msg}: ${String((obj as { err?: unknown }).err)}` }),
  },
})
log.onPublished((events) => dispatcher.observe(events))
await log.start()
dispatcher.start()
send({ ready: true })

process.on('message', async (m: { cmd: string }) => {
  if (m.cmd === 'stop') {
    await dispatcher.stop(1000)
    send({ stopped: true, claimed })
    await log.stop()
    await pool.end()
    process.exit(0)
  }
})
