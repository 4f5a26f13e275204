// Issue 17, proof 5 with real processes: the listening connection of one Parley process is
// terminated (pg_terminate_backend), several times, also while webhooks are being posted.
// Two processes A and B on one fresh database, an SSE client on each; webhooks go to A, so
// B hears of them only through the shared log (a NOTIFY hint, its poll, or the catch-up read
// when its listener comes back). Nothing may be lost or doubled on B's stream, B's listener
// must come back (a new LISTEN backend in pg_stat_activity), and B must say in its log that
// the connection dropped, without the database URL or its password.
// The event-log level of the same proof is in pg-event-log.test.ts.
// Without PARLEY_TEST_PG_URL the file is skipped with a comment (PARLEY_TEST_PG=required: it fails).
import pg from 'pg'
import t from 'tap'
import { type Emu, startEmulator, until } from './helpers/emulator.ts'
import { type Cluster, type ClusterNode, postSigned, signIn, startCluster, storedMessages } from './helpers/pg-cluster.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { apiCall } from './helpers/server.ts'
import { connectSse, type SseEvent } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'

// Generous deadlines for states on a busy 2-core machine; nothing is asserted about time.
const EVENTS_MS = 120_000
const TERMINATIONS = 4
// In the URL both processes get: the log must never show it. The test server trusts local
// connections, so the password is carried but never asked for.
const DB_PASSWORD = 'listen-pw-9c41e7b2d05f'
const LABEL = 'listen '

const seqOf = (id: string | undefined) => Number(id!.split(':')[1])

/** The message ids of the message.created events of `events` whose text starts with `label`. */
function createdIds(events: SseEvent[], label: string): number[] {
  const out: number[] = []
  for (const e of events) {
    if (e.event !== 'message.created') continue
    const data = JSON.parse(e.data) as { message: { id: number; text?: string | null } }
    if ((data.message.text ?? '').startsWith(label)) out.push(data.message.id)
  }
  return out
}

/** Whether a message.created event of `events` carries exactly `text`. */
function hasText(events: SseEvent[], text: string): boolean {
  return events.some((e) => e.event === 'message.created' && (JSON.parse(e.data) as { message: { text?: string } }).message.text === text)
}

function strictlyIncreasing(events: SseEvent[]): boolean {
  const ids = events.filter((e) => e.id !== undefined).map((e) => seqOf(e.id))
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!)
}

/** The backends of `applicationName` that hold a LISTEN (pg_stat_activity shows the last statement). */
async function listenBackends(admin: pg.Client, applicationName: string): Promise<number[]> {
  const r = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query LIKE 'LISTEN %'`,
    [applicationName],
  )
  return r.rows.map((row) => row.pid)
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const freshUrl = await freshPgDatabase(t)
let emu: Emu | undefined
let cluster: Cluster | undefined

if (!freshUrl) {
  t.comment('skipped: PostgreSQL is needed for several processes (set PARLEY_TEST_PG_URL)')
} else {
  const u = new URL(freshUrl)
  u.password = DB_PASSWORD
  const dbUrl = u.toString()

  t.test('proof 5: the listening connection of a process terminated, several times: nothing lost, it comes back', async (tt) => {
    tt.teardown(() => {
      if (!tt.passing() && cluster) tt.comment(cluster.logs())
    })
    emu = await startEmulator(t)
    cluster = await startCluster(t, dbUrl, emu, 2)
    const [a, b] = cluster.nodes as [ClusterNode, ClusterNode]
    const bListen = `parley-listen:${b.name}`
    const admin = new pg.Client({ connectionString: freshUrl, application_name: 'test-admin' })
    await admin.connect()
    tt.teardown(() => admin.end())

    const token = await signIn(a.url)
    const cursor = String((await apiCall(b.url, token)('GET', '/api/conversations')).body.eventId)
    const onB = await connectSse(`${b.url}/stream`, { token, lastEventId: cursor })
    const onA = await connectSse(`${a.url}/stream`, { token, lastEventId: cursor })
    tt.teardown(() => {
      onB.close()
      onA.close()
    })
    tt.equal(onB.status, 200, `stream open on ${b.name}`)
    tt.equal(onA.status, 200, `stream open on ${a.name}`)

    let n = 0
    /** One webhook to A (a new customer text each); its text. */
    const postToA = async (): Promise<string> => {
      const i = n++
      const text = `${LABEL}${i}`
      for (let attempt = 1; ; attempt++) {
        const res = await postSigned(a.url, textWebhook(`1555400${1000 + (i % 10)}`, `Listen ${i % 10}`, text).payload)
        if (res.status === 200) return text
        // A 503 is retried as Meta would; anything else, or 503 five times, fails the test.
        if (res.status !== 503 || attempt === 5) throw new Error(`webhook ${text} to ${a.name}: ${res.status} ${res.text}`)
      }
    }
    /** POST to A → the message.created on B's stream, in ms (a figure for the log, not an assertion). */
    const roundTrip = async (): Promise<number> => {
      const start = Date.now()
      const text = await postToA()
      await onB.waitFor((events) => hasText(events, text), EVENTS_MS)
      return Date.now() - start
    }

    // Before: the listener is up and events reach B.
    await until(async () => (await listenBackends(admin, bListen)).length === 1, `${b.name}'s listening backend`, EVENTS_MS)
    const before: number[] = []
    for (let i = 0; i < 5; i++) before.push(await roundTrip())

    // During: webhooks keep going to A while B's listening backend is terminated, again and
    // again; each time a new one must appear, and an event posted on A must reach B.
    let terminating = true
    const posted: string[] = []
    const poster = async () => {
      while (terminating) posted.push(await postToA())
    }
    const posters = Promise.all([poster(), poster(), poster()])
    const terminated: number[] = []
    try {
      for (let k = 0; k < TERMINATIONS; k++) {
        const [pid] = await until(
          async () => {
            const pids = (await listenBackends(admin, bListen)).filter((p) => !terminated.includes(p))
            return pids.length === 1 ? pids : undefined
          },
          `${b.name}'s listening backend before termination ${k + 1}`,
          EVENTS_MS,
        )
        const killed = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid])
        tt.same(
          killed.rows.map((r) => r.ok),
          [true],
          `termination ${k + 1}: ${b.name}'s listening backend ${pid} terminated`,
        )
        terminated.push(pid!)
        // Back: a new backend of B's, holding the LISTEN (the old one is gone).
        const back = await until(
          async () => {
            const pids = await listenBackends(admin, bListen)
            return pids.length === 1 && !terminated.includes(pids[0]!) ? pids : undefined
          },
          `a new listening backend of ${b.name} after termination ${k + 1}`,
          EVENTS_MS,
        )
        tt.pass(`termination ${k + 1}: ${b.name} listens again on backend ${back[0]}`)
        const text = await postToA()
        await onB.waitFor((events) => hasText(events, text), EVENTS_MS)
        tt.pass(`termination ${k + 1}: after it came back, an event posted on ${a.name} reached ${b.name}'s stream`)
      }
    } finally {
      terminating = false
      await posters
    }
    tt.ok(posted.length > 0, `${posted.length} webhooks posted to ${a.name} while the terminations went on`)

    // After: the latency as before, the hints flowing again.
    const after: number[] = []
    for (let i = 0; i < 5; i++) after.push(await roundTrip())
    tt.comment(
      `POST on ${a.name} → event on ${b.name}: median ${median(before)} ms (max ${Math.max(...before)}) before, ` +
        `${median(after)} ms (max ${Math.max(...after)}) after ${TERMINATIONS} terminations`,
    )

    // Every stored message reached each stream exactly once, in id order.
    const stored = (await storedMessages(apiCall(b.url, token))).filter((m) => m.text?.startsWith(LABEL))
    tt.equal(stored.length, n, `every webhook stored (${n})`)
    tt.equal(new Set(stored.map((m) => m.text)).size, n, 'each once')
    const storedIds = stored.map((m) => m.id).sort((x, y) => x - y)
    for (const [name, sse] of [
      [b.name, onB],
      [a.name, onA],
    ] as const) {
      try {
        await sse.waitFor((events) => new Set(createdIds(events, LABEL)).size >= n, EVENTS_MS)
      } catch (err) {
        tt.fail(`the client on ${name} did not receive every message: ${String(err)}`)
      }
      const got = createdIds(sse.events, LABEL)
      tt.equal(got.length, n, `the client on ${name} received ${n} message.created events, none twice`)
      tt.same(
        [...got].sort((x, y) => x - y),
        storedIds,
        `the client on ${name} received exactly the stored messages`,
      )
      tt.ok(strictlyIncreasing(sse.events), `the client on ${name} saw ids strictly increasing`)
      tt.notOk(sse.isClosed(), `the stream on ${name} stayed open throughout`)
    }

    // B said so in its log, at warn or error, without the URL or its password.
    const lines = b.proc
      .output()
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg?: string })
    const drops = lines.filter((l) => l.level >= 40 && /listening connection/.test(l.msg ?? ''))
    tt.ok(
      drops.length >= TERMINATIONS,
      `${b.name} logged each lost listening connection at warn or error (${drops.length} lines: ${[...new Set(drops.map((d) => d.msg))].join('; ')})`,
    )
    for (const node of cluster.nodes) {
      const out = node.proc.output()
      tt.notOk(out.includes(DB_PASSWORD), `${node.name}'s log does not show the database password`)
      tt.notOk(out.includes(freshUrl) || out.includes(dbUrl), `${node.name}'s log does not show the database URL`)
    }
    tt.equal((await listenBackends(admin, bListen)).length, 1, `${b.name} holds one listening backend, no leftover`)
  })
}
