// One Parley process's work ownership on PostgreSQL, as a child process for the lease tests
// (issue 17). It migrates (under the advisory lock, like a starting Parley), owns a share of
// NAMES names through PgOwnership and "works" on them: every 20 ms, for each name, it asks
// owns() and records the act with its fence. It keeps a timeline of what it believed it owned
// (gained → lost) and of its acts, on the wall clock — the same clock as the database's and
// the other processes' on this one machine — so the parent can check that no two processes
// ever believed they owned a name at the same moment. The parent drives it over IPC.
import { PgOwnership } from '../../src/domain/ownership/pg-ownership.ts'
import type { LossReason } from '../../src/domain/ownership/ownership.ts'
import { migratePg, openPgPool } from '../../src/store/pg/db.ts'

export interface Belief {
  node: string
  name: string
  fence: number
  start: number
  /** null: still owned when the log was taken. */
  end: number | null
  reason: LossReason | null
}
/** The first and last moment this process acted on a name under one fence. */
export interface Acts {
  node: string
  name: string
  fence: number
  first: number
  last: number
}
export interface Report {
  node: string
  held: Array<{ name: string; fence: number }>
  liveNodes: number
  share: number
}

type Msg = { cmd: 'report' } | { cmd: 'log' } | { cmd: 'handover'; name: string } | { cmd: 'stop' }

const url = process.env.PG_URL!
const nodeId = process.env.NODE_ID!
const names = Array.from({ length: Number(process.env.NAMES) }, (_, i) => `channel:${i + 1}`)
const send = (m: unknown) => process.send!(m)

await migratePg(url, nodeId)
const pool = openPgPool(url, { nodeId, max: 4 })
const own = new PgOwnership(pool, {
  nodeId,
  names,
  ttlMs: Number(process.env.TTL_MS),
  renewMs: Number(process.env.RENEW_MS),
  // Wall clock for the deadlines, so this process's timeline compares with the others'.
  now: Date.now,
  onError: (err, what) => send({ error: `${what}: ${String(err)}` }),
})

const beliefs: Belief[] = []
const open = new Map<string, Belief>()
own.onGained((name, fence) => {
  const b: Belief = { node: nodeId, name, fence, start: Date.now(), end: null, reason: null }
  open.set(name, b)
  beliefs.push(b)
})
own.onLost((name, info) => {
  const b = open.get(name)
  if (!b || b.fence !== info.fence) send({ error: `onLost(${name}, fence ${info.fence}) without a matching onGained` })
  else {
    b.end = info.at
    b.reason = info.reason
    open.delete(name)
  }
})

const acts = new Map<string, Acts>()
const work = setInterval(() => {
  for (const name of names) {
    // The time is read BEFORE asking: if the process is paused between the two, the act
    // is stamped no later than the moment owns() said yes.
    const at = Date.now()
    const fence = own.fence(name)
    if (fence === undefined) continue
    const key = `${name}#${fence}`
    const a = acts.get(key)
    if (a) a.last = at
    else acts.set(key, { node: nodeId, name, fence, first: at, last: at })
  }
}, 20)

await own.start()
send({ ready: true })

process.on('message', async (m: Msg) => {
  if (m.cmd === 'report') {
    send({ report: { node: nodeId, held: own.held(), ...own.lastRound } satisfies Report })
  } else if (m.cmd === 'log') {
    send({ log: { beliefs, acts: [...acts.values()] } })
  } else if (m.cmd === 'handover') {
    send({ handedOver: await own.handOver(m.name) })
  } else if (m.cmd === 'stop') {
    clearInterval(work)
    await own.stop()
    await pool.end()
    process.exit(0)
  }
})
