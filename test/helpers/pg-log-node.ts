// One Parley process's event log on PostgreSQL, as a child process for the multi-process
// tests (issue 17): it migrates (under the advisory lock, like a starting Parley), starts
// the log, runs writers whose transactions each hold a random delay before their commit,
// and records everything its tailer publishes. The parent drives it over IPC.
import { setTimeout as delay } from 'node:timers/promises'
import { PgEventLog } from '../../src/events/pg-event-log.ts'
import { migratePg, openPgPool } from '../../src/store/pg/db.ts'
import { step } from '../../src/store/unit.ts'

type Msg = { cmd: 'write'; writers: number; events: number; maxDelayMs: number } | { cmd: 'received-through'; id: number } | { cmd: 'stop' }

const url = process.env.PG_URL!
const nodeId = process.env.NODE_ID!
const send = (m: unknown) => process.send!(m)

const { applied } = await migratePg(url, nodeId)
const pool = openPgPool(url, { nodeId, max: 40 })
const log = new PgEventLog(pool, {
  url,
  nodeId,
  pollMs: 250,
  clock: { now: () => Date.now() },
  onError: (err, what) => send({ error: `${what}: ${String(err)}` }),
})
const received: Array<[number, string]> = []
log.onPublished((events) => {
  for (const e of events) received.push([e.id, e.data])
})
await log.start()
send({ ready: true, applied, epoch: log.epoch, head: log.head })

let seed = Number.parseInt(nodeId.replace(/\D/g, '') || '1', 10) * 7919
const rnd = (n: number) => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return (seed >>> 8) % n
}

async function write(writers: number, total: number, maxDelayMs: number): Promise<Array<[number, string]>> {
  const committed: Array<[number, string]> = []
  let left = total
  let seq = 0
  log.onCommitted((events) => {
    for (const e of events) committed.push([e.id, e.data])
  })
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (left > 0) {
        const n = Math.min(left, 1 + rnd(3))
        left -= n
        const wait = rnd(maxDelayMs + 1)
        await log.transact(function* (batch) {
          // Inside the transaction, before the ids are taken: transactions overlap and
          // finish in a different order than they began.
          yield* step(() => delay(wait))
          for (let i = 0; i < n; i++) batch.emit(1, 'message.created', { node: nodeId, writer: w, seq: seq++ } as never, { channelId: 1 })
        })
      }
    }),
  )
  return committed
}

process.on('message', async (m: Msg) => {
  if (m.cmd === 'write') {
    const committed = await write(m.writers, m.events, m.maxDelayMs)
    send({ committed })
  } else if (m.cmd === 'received-through') {
    while (log.head < m.id) await delay(20)
    send({ received: received.filter(([id]) => id <= m.id), wakes: log.wakes })
  } else if (m.cmd === 'stop') {
    await log.stop()
    await pool.end()
    process.exit(0)
  }
})
