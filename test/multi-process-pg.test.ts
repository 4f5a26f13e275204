// Three real Parley processes on one PostgreSQL database (issue 17, "Proven by" 6, 7, a lite 1
// and 2 (300 streams, one process killed -9), and the load balancer of deploy/nginx/parley-several.conf). Every process is
// `node --import tsx src/main.ts` with its own PARLEY_NODE_ID, port and DATA_DIR, the same
// secrets, one shared MEDIA_DIR, and a WhatsApp number on the Graph emulator. The subtests run
// in order on the same three processes; the last one kills one of them.
// Without PARLEY_TEST_PG_URL the file is skipped with a comment (PARLEY_TEST_PG=required: it fails).
// Scaled for a 2-core CI: hundreds of webhooks, not the 20,000 events (bench does that).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { type Emu, startEmulator, until } from './helpers/emulator.ts'
import {
  type Cluster,
  type ClusterNode,
  postSigned,
  signIn,
  startCluster,
  startNginxSeveral,
  type StoredMessage,
  storedMessages,
} from './helpers/pg-cluster.ts'
import { freshPgDatabase } from './helpers/pg.ts'
import { apiCall } from './helpers/server.ts'
import { connectSse, type SseClient, type SseEvent } from './helpers/sse.ts'
import { textWebhook } from './helpers/wa.ts'

const ROOT = path.resolve(import.meta.dirname, '..')
// Generous deadlines for states on a busy 2-core machine; nothing is asserted about time.
const EVENTS_MS = 120_000
// The streams open during proof 2 (the figure): 100 on each of the three processes.
const STREAMS = 300

const databaseUrl = await freshPgDatabase(t)
let emu: Emu | undefined
let cluster: Cluster | undefined

/** The numeric part of an `epoch:n` event id. */
const seqOf = (id: string | undefined) => Number(id!.split(':')[1])

interface Created {
  eventId: string
  messageId: number
  text: string
}

/** The message.created events of `events` whose text starts with `label`. */
function created(events: SseEvent[], label: string): Created[] {
  const out: Created[] = []
  for (const e of events) {
    if (e.event !== 'message.created') continue
    const data = JSON.parse(e.data) as { message: { id: number; text?: string | null } }
    const text = data.message.text ?? ''
    if (text.startsWith(label)) out.push({ eventId: e.id!, messageId: data.message.id, text })
  }
  return out
}

/** Whether every event that carries an id has a greater one than the event before it. */
function strictlyIncreasing(events: SseEvent[]): boolean {
  const ids = events.filter((e) => e.id !== undefined).map((e) => seqOf(e.id))
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!)
}

type Answer = { i: number; node: string; status: number; text: string }

/**
 * Posts the webhooks `0..n-1` built by `make`, `concurrency` at a time, the i-th to
 * `target(i)`. As Meta does, a 503 (the store refused for now) is sent again, the same
 * payload to the same process, a few times; `refusals` lists those 503s, `answers` the
 * last answer of each webhook (status 0: no answer, the process died).
 */
async function postAll(
  n: number,
  concurrency: number,
  target: (i: number) => ClusterNode,
  make: (i: number) => unknown,
): Promise<{ answers: Answer[]; refusals: Answer[] }> {
  const answers: Answer[] = []
  const refusals: Answer[] = []
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      const node = target(i)
      const payload = make(i)
      for (let attempt = 1; ; attempt++) {
        let answer: Answer
        try {
          answer = { i, node: node.name, ...(await postSigned(node.url, payload)) }
        } catch (err) {
          // A process killed mid-request: no answer, so not acknowledged.
          answer = { i, node: node.name, status: 0, text: String((err as Error).cause ?? err) }
        }
        if (answer.status !== 503 || attempt === 5) {
          answers.push(answer)
          break
        }
        refusals.push(answer)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { answers: answers.sort((a, b) => a.i - b.i), refusals }
}

/**
 * A 503 under contention: nothing is lost (Meta retries, and so does postAll), but the
 * issue's group commit should not refuse webhooks because processes write at once. Found
 * here first: two processes' group commits deadlock (40P01) in the report_message_counts
 * trigger (one hourly row every inbound message upserts, locked mid-transaction) against
 * each other's conversation and message rows; the ingest queue now runs such a group again.
 */
function noRefusals(t: Test, refusals: Answer[]): void {
  t.same(
    refusals.map((r) => `${r.node} #${r.i}: ${r.status} ${r.text}`),
    [],
    'no webhook refused with 503 while three processes write at once',
  )
}

/** The owners of the live leases whose names start with `prefix` (issue 17: PgOwnership's rows). */
async function ownersOf(url: string, prefix: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    const r = await c.query<{ owner: string }>(
      `SELECT owner FROM leases WHERE starts_with(name, $1) AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint`,
      [prefix],
    )
    return r.rows.map((row) => row.owner)
  } finally {
    await c.end()
  }
}

function needCluster(t: Test): Cluster | undefined {
  if (!cluster) t.fail('the processes did not start (see the first subtest)')
  return cluster
}

/** On a failed subtest, every process's log: the line that explains a 500 or a missing event. */
function logsOnFailure(t: Test): void {
  t.teardown(() => {
    if (!t.passing() && cluster) t.comment(cluster.logs())
  })
}

if (!databaseUrl) {
  t.comment('skipped: PostgreSQL is needed for several processes (set PARLEY_TEST_PG_URL)')
} else {
  const dbUrl = databaseUrl

  t.test('proof 6: three processes start together on an empty database; one migrates, all serve', async (tt) => {
    logsOnFailure(tt)
    emu = await startEmulator(t)
    // Registered on the file's test: the processes outlive this subtest.
    cluster = await startCluster(t, dbUrl, emu, 3)
    for (const node of cluster.nodes) {
      const res = await fetch(`${node.url}/api/health`)
      tt.equal(res.status, 200, `${node.name} answers /api/health`)
      tt.same(await res.json(), { status: 'ok' })
    }
    const journal = JSON.parse(readFileSync(path.join(ROOT, 'migrations/pg/meta/_journal.json'), 'utf8')) as { entries: unknown[] }
    const c = new pg.Client({ connectionString: dbUrl })
    await c.connect()
    try {
      const applied = await c.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations')
      tt.equal(
        applied.rowCount,
        journal.entries.length,
        'every migration recorded once: one process applied them, the others found them done',
      )
      tt.equal(new Set(applied.rows.map((r) => r.hash)).size, applied.rowCount, 'no migration twice')
      const seq = await c.query('SELECT epoch FROM event_seq')
      tt.equal(seq.rowCount, 1, 'one event counter (one epoch)')
    } finally {
      await c.end()
    }
    // One session, signed in on one process, holds on all of them; all show the same log.
    const token = await signIn(cluster.nodes[0]!.url)
    const epochs = new Set<string>()
    for (const node of cluster.nodes) {
      const list = await apiCall(node.url, token)('GET', '/api/conversations')
      tt.equal(list.status, 200, `${node.name} serves a session made on ${cluster.nodes[0]!.name}`)
      epochs.add(String(list.body.eventId).split(':')[0]!)
    }
    tt.equal(epochs.size, 1, 'every process hands out cursors of the same epoch')
  })

  t.test('proof 7: the same webhook posted to two processes at once is stored once', async (tt) => {
    logsOnFailure(tt)
    const c = needCluster(tt)
    if (!c) return
    const [a, b, reader] = c.nodes as [ClusterNode, ClusterNode, ClusterNode]
    const rounds = 10
    for (let r = 0; r < rounds; r++) {
      const { payload } = textWebhook(`1555700${1000 + r}`, `Twice ${r}`, `twice ${r}`, `wamid.twice-${r}-${Date.now()}`)
      const [x, y] = await Promise.all([postSigned(a.url, payload), postSigned(b.url, payload)])
      tt.equal(x.status, 200, `round ${r}: ${a.name} answered 200 ${x.status === 200 ? '' : x.text}`)
      tt.equal(y.status, 200, `round ${r}: ${b.name} answered 200 ${y.status === 200 ? '' : y.text}`)
    }
    // Acknowledged means committed: read at once, through the third process.
    const token = await signIn(reader.url)
    const stored = await storedMessages(apiCall(reader.url, token))
    for (let r = 0; r < rounds; r++) {
      const copies = stored.filter((m) => m.text === `twice ${r}`)
      tt.equal(copies.length, 1, `round ${r}: stored once (read through ${reader.name})`)
    }
  })

  t.test('proof 1 (lite): webhooks spread over three processes reach a stream on each exactly once, in id order', async (tt) => {
    logsOnFailure(tt)
    const c = needCluster(tt)
    if (!c) return
    const total = 300
    const label = 'burst '
    const token = await signIn(c.nodes[0]!.url)
    // The cursor comes from one process's page and is used on every process (no stickiness).
    const page = await apiCall(c.nodes[1]!.url, token)('GET', '/api/conversations')
    const cursor = String(page.body.eventId)
    const clients: Array<{ on: string; sse: SseClient }> = []
    for (const node of c.nodes) clients.push({ on: node.name, sse: await connectSse(`${node.url}/stream`, { token, lastEventId: cursor }) })
    tt.teardown(() => {
      for (const { sse } of clients) sse.close()
    })
    for (const { on, sse } of clients) tt.equal(sse.status, 200, `stream open on ${on}`)

    const half = Math.floor(total / 2)
    let late: Promise<void> | undefined
    const { answers, refusals } = await postAll(
      total,
      12,
      (i) => c.nodes[i % c.nodes.length]!,
      (i) => {
        // Halfway, one more client opens on the third process from the first cursor: it
        // replays what is committed and goes on live, with no seam.
        if (i === half)
          late = connectSse(`${c.nodes[2]!.url}/stream`, { token, lastEventId: cursor }).then((sse) => {
            clients.push({ on: `${c.nodes[2]!.name} (opened halfway)`, sse })
          })
        return textWebhook(`1555800${1000 + (i % 10)}`, `Burst ${i % 10}`, `${label}${i}`).payload
      },
    )
    await late
    noRefusals(tt, refusals)
    tt.same(
      answers.filter((a) => a.status !== 200),
      [],
      'every webhook answered 200 (after retries of a 503, as Meta retries)',
    )

    const stored = (await storedMessages(apiCall(c.nodes[2]!.url, token))).filter((m) => m.text?.startsWith(label))
    tt.equal(stored.length, total, 'every webhook stored')
    tt.equal(new Set(stored.map((m) => m.text)).size, total, 'each once')
    const storedIds = stored.map((m) => m.id).sort((x, y) => x - y)

    for (const { on, sse } of clients) {
      try {
        await sse.waitFor((events) => new Set(created(events, label).map((e) => e.messageId)).size >= total, EVENTS_MS)
      } catch (err) {
        tt.fail(`the client on ${on} did not receive every message: ${String(err)}`)
      }
      const got = created(sse.events, label)
      tt.equal(got.length, total, `the client on ${on} received ${total} message.created events, none twice`)
      tt.same(
        got.map((e) => e.messageId).sort((x, y) => x - y),
        storedIds,
        `the client on ${on} received exactly the stored messages`,
      )
      tt.ok(strictlyIncreasing(sse.events), `the client on ${on} saw ids strictly increasing`)
      tt.equal(new Set(sse.events.filter((e) => e.id).map((e) => e.id)).size, sse.events.filter((e) => e.id).length, 'no id twice')
    }
    // Up to the last id every client has, all clients saw the same events.
    const upTo = Math.min(...clients.map(({ sse }) => seqOf(sse.lastId())))
    const seen = clients.map(({ sse }) => sse.events.filter((e) => e.id && seqOf(e.id) <= upTo).map((e) => e.id))
    for (let i = 1; i < seen.length; i++) tt.same(seen[i], seen[0], `${clients[i]!.on} saw the same events as ${clients[0]!.on}`)
  })

  t.test('replies posted to every process at once: each sent to Meta exactly once, by the number’s owner', async (tt) => {
    logsOnFailure(tt)
    const c = needCluster(tt)
    if (!c) return
    const token = await signIn(c.nodes[0]!.url)
    // The customers of proof 1 wrote within the last 24 hours: free text may be sent to them.
    const list = await apiCall(c.nodes[0]!.url, token)('GET', '/api/conversations?limit=10')
    const convs = (list.body.conversations as Array<{ id: number }>).slice(0, 5)
    tt.ok(convs.length > 0, 'conversations to answer')
    const before = (await emu!.stats()).sendRequests
    const replies = 30
    // Each reply is posted to two processes at once (a browser's retry landing elsewhere).
    const answers = await Promise.all(
      Array.from({ length: replies }, async (_, i) => {
        const body = { text: `reply ${i}`, clientMessageId: `multi-reply-${i}` }
        const path = `/api/conversations/${convs[i % convs.length]!.id}/messages`
        const [x, y] = await Promise.all([
          apiCall(c.nodes[i % 3]!.url, token)('POST', path, body),
          apiCall(c.nodes[(i + 1) % 3]!.url, token)('POST', path, body),
        ])
        return { i, statuses: [x.status, y.status], ids: [x.body?.message?.id, y.body?.message?.id] }
      }),
    )
    tt.same(
      answers.filter((a) => a.statuses.some((s) => s !== 202) || a.ids[0] !== a.ids[1]),
      [],
      'both posts of each reply answered 202 with the same message',
    )
    // Sent means Meta accepted it: the message has its wamid, whichever process sent it.
    const call = apiCall(c.nodes[2]!.url, token)
    await until(
      async () => {
        const mine: Array<{ text: string | null; status: string }> = []
        for (const conv of convs) {
          const page = await call('GET', `/api/conversations/${conv.id}/messages?limit=200`)
          for (const m of page.body.messages as Array<{ text: string | null; status: string }>)
            if (m.text?.startsWith('reply ')) mine.push(m)
        }
        return mine.length === replies && mine.every((m) => m.status !== 'queued' && m.status !== 'sending')
      },
      'every reply settled at Meta',
      EVENTS_MS,
    )
    const stats = await emu!.stats()
    tt.equal(stats.sendRequests - before, replies, `${replies} replies, ${replies} send requests at the emulator: none twice`)
    const owners = await ownersOf(dbUrl, 'channel:')
    tt.equal(owners.length, 1, 'the number has one owner')
    tt.ok(
      c.nodes.some((n) => n.name === owners[0]),
      `owned by one of the three (${owners.join(', ')})`,
    )
  })

  t.test('nginx with deploy/nginx/parley-several.conf in front of the three: sign in, stream, webhook, event', async (tt) => {
    logsOnFailure(tt)
    const c = needCluster(tt)
    if (!c) return
    const nginx = await startNginxSeveral(
      tt,
      c.nodes.map((n) => n.port),
    )
    tt.teardown(() => {
      if (!tt.passing()) tt.comment(nginx.log())
    })
    const token = await signIn(nginx.url)
    // Three streams through nginx: least_conn puts them on different processes.
    const streams: SseClient[] = []
    for (let i = 0; i < 3; i++) streams.push(await connectSse(`${nginx.url}/stream`, { token }))
    tt.teardown(() => {
      for (const s of streams) s.close()
    })
    for (const s of streams) {
      tt.equal(s.status, 200)
      tt.match(s.headers['content-type'], /^text\/event-stream/)
    }
    for (let i = 1; i <= 6; i++) {
      const { payload } = textWebhook('15559990001', 'Via Nginx', `through nginx ${i}`)
      const res = await postSigned(nginx.url, payload)
      tt.equal(res.status, 200, `webhook ${i} through nginx answered 200`)
      for (const [k, s] of streams.entries()) {
        try {
          await s.waitFor((events) => created(events, `through nginx ${i}`).length === 1, EVENTS_MS)
          tt.pass(`webhook ${i} reached stream ${k + 1} through nginx`)
        } catch (err) {
          tt.fail(`webhook ${i} did not reach stream ${k + 1} through nginx: ${String(err)}`)
        }
      }
    }
    for (const s of streams) tt.ok(strictlyIncreasing(s.events), 'ids strictly increasing through nginx')
    // Where nginx sent the requests: every process served some (no stickiness).
    const served = new Set(nginx.upstreams())
    tt.same([...served].sort(), c.nodes.map((n) => `127.0.0.1:${n.port}`).sort(), 'nginx spread the requests over the three processes')
  })

  t.test('proof 2: kill -9 one of three processes while webhooks are posted, with 300 streams open', async (tt) => {
    logsOnFailure(tt)
    const c = needCluster(tt)
    if (!c) return
    // The victim is the number's owner: after its death another process must take the number over.
    const owner = (await ownersOf(dbUrl, 'channel:'))[0]
    const victim = c.nodes.find((n) => n.name === owner) ?? c.nodes[2]!
    const [n1, n2] = c.nodes.filter((n) => n !== victim) as [ClusterNode, ClusterNode]
    const label = 'kill '
    const total = 150
    // Built once: a retry is the same webhook (the same wamid), as Meta resends it.
    const payloads = Array.from(
      { length: total },
      (_, i) => textWebhook(`1555600${1000 + (i % 10)}`, `Kill ${i % 10}`, `${label}${i}`).payload,
    )
    // The 300 streams: 100 on each process, from 60 sessions of five streams each (the
    // default per-session limit), as sixty signed-in browsers and API clients would hold them.
    const tokens: string[] = []
    for (let k = 0; k < STREAMS / 5; k++) tokens.push(await signIn(c.nodes[k % 3]!.url))
    const cursor = String((await apiCall(n2.url, tokens[0]!)('GET', '/api/conversations')).body.eventId)
    interface Held {
      name: string
      node: ClusterNode
      token: string
      sse: SseClient
    }
    const held: Held[] = []
    tt.teardown(() => {
      for (const h of held) h.sse.close()
    })
    for (let j = 0; j < STREAMS; j++) {
      const node = c.nodes[j % 3]!
      const token = tokens[Math.floor(j / 5)]!
      held.push({
        name: `stream ${j} on ${node.name}`,
        node,
        token,
        sse: await connectSse(`${node.url}/stream`, { token, lastEventId: cursor }),
      })
    }
    tt.equal(held.filter((h) => h.sse.status === 200).length, STREAMS, `${STREAMS} streams open, ${STREAMS / 3} on each process`)
    let killed: Promise<void> | undefined
    let answeredBeforeKill = 0
    let killedAt = 0
    const { answers, refusals } = await postAll(
      total,
      9,
      (i) => c.nodes[i % 3]!,
      (i) => {
        // A third of the way in, with requests in flight on every process, the victim dies.
        if (i === Math.floor(total / 3) && !killed) {
          answeredBeforeKill = i
          killedAt = Date.now()
          killed = victim.proc.kill('SIGKILL')
        }
        return payloads[i]
      },
    )
    await killed
    noRefusals(
      tt,
      refusals.filter((r) => r.node !== victim.name),
    )
    tt.ok(answeredBeforeKill > 0, 'the victim was killed mid-run')
    const acked = answers.filter((a) => a.status === 200)
    const unanswered = answers.filter((a) => a.status !== 200)
    tt.ok(
      unanswered.every((a) => a.node === victim.name),
      'only the killed process left webhooks unanswered',
    )
    tt.comment(`${acked.length} answered 200, ${unanswered.length} unanswered (sent to ${victim.name})`)

    const call = apiCall(n1.url, tokens[0]!)
    const stored = (await storedMessages(call)).filter((m) => m.text?.startsWith(label))
    const count = (text: string) => stored.filter((m) => m.text === text).length
    tt.ok(
      acked.every((a) => count(`${label}${a.i}`) === 1),
      'every webhook answered 200 is stored exactly once',
    )
    tt.equal(new Set(stored.map((m) => m.text)).size, stored.length, 'nothing stored twice')

    // Meta retries what was not answered; here to a survivor: then everything is stored once.
    for (const a of unanswered) {
      const retry = await postSigned(n2.url, payloads[a.i])
      tt.equal(retry.status, 200, `retry of webhook ${a.i} answered 200`)
    }
    // One the victim stored before it died, without answering, is not stored again by its retry.
    const after: StoredMessage[] = (await storedMessages(call)).filter((m) => m.text?.startsWith(label))
    tt.equal(after.length, total, 'after the retries every webhook is stored')
    tt.equal(new Set(after.map((m) => m.text)).size, total, 'each exactly once')

    // The victim's clients: their streams ended with the process; each reconnects to a survivor
    // (alternately) with its own Last-Event-ID and session, and gets the rest: nothing lost,
    // nothing twice. A client's events are what it saw before plus what the new stream sends.
    const onVictim = held.filter((h) => h.node === victim)
    await until(async () => onVictim.every((h) => h.sse.isClosed()), "the killed process's streams to end", EVENTS_MS)
    const views: Array<{ name: string; events: () => SseEvent[] }> = held
      .filter((h) => h.node !== victim)
      .map((h) => ({ name: h.name, events: () => h.sse.events }))
    for (const [k, h] of onVictim.entries()) {
      const to = k % 2 === 0 ? n1 : n2
      const before = h.sse.events.slice()
      const resumed = await connectSse(`${to.url}/stream`, { token: h.token, lastEventId: h.sse.lastId() ?? cursor })
      held.push({ name: `${h.name}, resumed on ${to.name}`, node: to, token: h.token, sse: resumed })
      views.push({ name: `${h.name}, resumed on ${to.name}`, events: () => [...before, ...resumed.events] })
    }
    const afterIds = after.map((m) => m.id).sort((x, y) => x - y)
    const complete = (v: (typeof views)[number]) => new Set(created(v.events(), label).map((e) => e.messageId)).size >= afterIds.length
    try {
      await until(async () => views.every(complete), `every message on all ${STREAMS} clients`, EVENTS_MS)
    } catch (err) {
      tt.fail(
        `${String(err)}; incomplete: ${views
          .filter((v) => !complete(v))
          .map((v) => v.name)
          .slice(0, 10)
          .join(', ')}`,
      )
    }
    const wrong = views.filter((v) => {
      const got = created(v.events(), label)
        .map((e) => e.messageId)
        .sort((x, y) => x - y)
      return got.length !== afterIds.length || got.some((id, i) => id !== afterIds[i])
    })
    tt.same(
      wrong.map((v) => v.name),
      [],
      `each of the ${views.length} clients (${onVictim.length} of them resumed on a survivor) received every stored message once`,
    )
    tt.same(
      views.filter((v) => !strictlyIncreasing(v.events())).map((v) => v.name),
      [],
      'every client saw ids strictly increasing',
    )

    // The dead owner's number: a survivor takes it once the lease runs out (15 s), and sends on it.
    const survivors = [n1.name, n2.name]
    await until(
      async () => {
        const now = await ownersOf(dbUrl, 'channel:')
        return now.length === 1 && survivors.includes(now[0]!)
      },
      "the killed owner's number owned by a survivor",
      EVENTS_MS,
    )
    // Logged, not asserted (a busy machine's figure): the issue expects it within 20 s.
    tt.comment(`the number owned by a survivor ${Date.now() - killedAt} ms after the kill (lease 15 s)`)
    const survivor = apiCall(n2.url, tokens[1]!)
    const conv = ((await survivor('GET', '/api/conversations?limit=1')).body.conversations as Array<{ id: number }>)[0]!
    const sent = await survivor('POST', `/api/conversations/${conv.id}/messages`, {
      text: 'after the owner died',
      clientMessageId: 'after-kill',
    })
    tt.equal(sent.status, 202, 'a reply through a survivor is accepted')
    await until(
      async () => {
        const page = await survivor('GET', `/api/conversations/${conv.id}/messages?limit=50`)
        const m = (page.body.messages as Array<{ text: string | null; status: string }>).find((x) => x.text === 'after the owner died')
        return m && m.status !== 'queued' && m.status !== 'sending'
      },
      'the reply sent by the new owner',
      EVENTS_MS,
    )
    tt.pass(`the number moved to ${(await ownersOf(dbUrl, 'channel:'))[0]} and its reply went out`)
  })
}
