// Sending with several processes on one PostgreSQL database (issue 17): two outbox workers,
// each with its own pool, event log and rate limiter (two "processes"), each with a real
// PgOwnership over `channel:<id>` for two WhatsApp numbers of Parley's Graph emulator. Every
// message is sent exactly once; each number's sends come from one worker at a time (runs, one
// per ownership, each after its worker gained the number); a handOver() moves a number and the
// other worker finishes it, and the ownership's rebalancing then moves the other number too; and
// no second at the emulator holds more sends for a number than its rate, across the moves. Every
// wait is for a state; the rate is read from the emulator's own per-second counts of requests.
import http from 'node:http'
import pino from 'pino'
import t, { type Test } from 'tap'
import { GraphHttp } from '../src/channels/graph-http.ts'
import { ChannelProviders } from '../src/channels/index.ts'
import { InboxWriter } from '../src/domain/inbox/writer.ts'
import { channelName, parseOwnedName } from '../src/domain/ownership/ownership.ts'
import { PgOwnership } from '../src/domain/ownership/pg-ownership.ts'
import { Outbox } from '../src/domain/sending/outbox.ts'
import { SendRateLimiter } from '../src/domain/sending/outbox-rate.ts'
import { OutboxWorker } from '../src/domain/sending/outbox-worker.ts'
import { PgEventLog } from '../src/events/pg-event-log.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { inboxRepos } from '../src/store/inbox-store.ts'
import { migratePg, openPgPool } from '../src/store/pg/db.ts'
import { PgRunner } from '../src/store/runner.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { all, get } from '../src/store/unit.ts'
import { startEmulator, until } from './helpers/emulator.ts'
import { freshPgDatabase } from './helpers/pg.ts'

t.setTimeout(180_000)

const WS = 1
// Low, so that a few dozen messages take seconds and a window's excess would show.
const RATE = 10
const PER_CHANNEL = 40
const TTL_MS = 3000
const RENEW_MS = 500
const NUMBERS = [
  { phoneNumberId: '200000000000001', displayPhoneNumber: '15550002001', wabaId: '300000000000001', accessToken: 'token-one' },
  { phoneNumberId: '200000000000002', displayPhoneNumber: '15550002002', wabaId: '300000000000002', accessToken: 'token-two' },
]

/**
 * PgOwnership's preference for a name (rendezvous hashing, FNV-1a of node and name): a process
 * above its share gives up the name it ranks lowest. The node ids are picked so that the moves
 * are known in advance (see the test); a change of the hashing shows as a failed precondition.
 */
function rank(nodeId: string, name: string): number {
  let h = 0x811c9dc5
  const s = `${nodeId}\u0000${name}`
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A node id that ranks `first` above `second`. */
function nodePreferring(prefix: string, first: string, second: string): string {
  for (let i = 0; ; i++) if (rank(`${prefix}-${i}`, first) > rank(`${prefix}-${i}`, second)) return `${prefix}-${i}`
}

interface Sent {
  node: string
  phoneNumberId: string
  text: string
  at: number
}

/** One process's way to the emulator: a loopback proxy that records which process sent what. */
async function recordingProxy(t: Test, node: string, target: string, sent: Sent[]) {
  const to = new URL(target)
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const m = /\/([0-9]+)\/messages$/.exec(req.url ?? '')
      if (req.method === 'POST' && m) {
        const json = JSON.parse(body.toString('utf8')) as { text?: { body?: string } }
        sent.push({ node, phoneNumberId: m[1]!, text: json.text?.body ?? '', at: Date.now() })
      }
      const out = http.request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      out.on('error', () => res.destroy())
      out.end(body)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const { port } = server.address() as { port: number }
  return `http://127.0.0.1:${port}${to.pathname}`
}

/** The belief of one process about one number: from onGained to onLost (wall clock). */
interface Owned {
  node: string
  channelId: number
  fence: number
  start: number
  end: number | null
}

/** One "process": its pool, event log, rate limiter, ownership and outbox worker. */
async function sendingProcess(t: Test, url: string, nodeId: string, graphUrl: string, names: string[], beliefs: Owned[]) {
  const pool = openPgPool(url, { nodeId, max: 4 })
  const log = new PgEventLog(pool, { url, nodeId, pollMs: 50, clock: { now: Date.now }, onError: () => {} })
  await log.start()
  const repos = inboxRepos()
  const channels = new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7)))
  const writer = new InboxWriter(repos, Date.now)
  const providers = new ChannelProviders(new GraphHttp({ baseUrl: () => graphUrl, timeoutMs: 5000 }))
  const outbox = new Outbox({ repos: { messages: repos.messages, channels }, writer, epoch: () => log.epoch, providers, now: Date.now })
  const limiter = new SendRateLimiter(RATE)
  // A wide margin on Meta's second: this test is about the moves, not about the jitter of a
  // loaded CI host (the margin's own adaptation is tested in outbox-rate.test.ts).
  limiter.setMargin(300)
  const errors: string[] = []
  const ownership = new PgOwnership(pool, {
    nodeId,
    names,
    ttlMs: TTL_MS,
    renewMs: RENEW_MS,
    // The wall clock, so that the beliefs compare with the proxy's timestamps.
    now: Date.now,
    onError: (err, what) => errors.push(`${what}: ${String(err)}`),
  })
  const worker = new OutboxWorker({
    channels,
    outbox,
    units: log,
    providers,
    limiter,
    media: { providerIdFor: () => Promise.reject(new Error('no media in this test')) },
    now: Date.now,
    log: pino({ level: 'silent' }),
    options: { retryBaseMs: 20, retryCapMs: 200, maxAttempts: 5, graphTimeoutMs: 5000, ratePerSecond: RATE },
    owns: (channelId) => ownership.owns(channelName(channelId)),
  })
  // What the lead wires in app.ts: a number gained starts with a full window and kicks the worker.
  ownership.onGained((name, fence) => {
    const owned = parseOwnedName(name)
    if (owned?.kind !== 'channel') return
    beliefs.push({ node: nodeId, channelId: owned.id, fence, start: Date.now(), end: null })
    worker.gained(owned.id)
  })
  ownership.onLost((name, info) => {
    const owned = parseOwnedName(name)
    const b = beliefs.find((x) => x.node === nodeId && x.channelId === owned?.id && x.fence === info.fence)
    if (b) b.end = info.at
  })
  t.teardown(async () => {
    await worker.stop(2000)
    await ownership.stop()
    await log.stop()
    await pool.end()
  })
  return { nodeId, ownership, worker, errors, held: () => ownership.held().map((h) => h.name) }
}

t.test('two processes: each number sent on by its owner, every message once, the rate held across a handOver', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  await migratePg(url, 'ownership-sending-test')
  const pool = openPgPool(url, { nodeId: 'ownership-sending-test', max: 2 })
  t.teardown(() => pool.end())
  const db = new PgRunner(pool)
  const id = async (sql: string, params: unknown[]) => (await db.transact(() => get<{ id: number }>(`${sql} RETURNING id`, params)))!.id

  const emu = await startEmulator(t, { numbers: NUMBERS, ratePerSecond: RATE })
  await pool.query(`INSERT INTO workspaces (name) VALUES ('W')`)
  const channelIds: number[] = []
  for (const n of NUMBERS)
    channelIds.push(
      await id(`INSERT INTO channels (workspace_id, kind, external_id, name, access_token) VALUES (?, 'whatsapp', ?, ?, ?)`, [
        WS,
        n.phoneNumberId,
        n.displayPhoneNumber,
        n.accessToken,
      ]),
    )
  const [x, y] = [channelName(channelIds[0]!), channelName(channelIds[1]!)]
  const phoneOf = new Map(channelIds.map((c, i) => [c, NUMBERS[i]!.phoneNumberId]))

  // The moves, known in advance: A starts alone and takes both numbers; when B joins, A gives
  // up the one it ranks lower (Y), and B takes it. A hands X over; B, now above its share with
  // X and Y, gives up the one it ranks lower (Y again), and A takes it. So X moves by hand
  // (A → B) and Y by the rebalancing (A → B → A), both while messages wait.
  const nodeA = nodePreferring('node-a', x, y)
  const nodeB = nodePreferring('node-b', x, y)
  const sent: Sent[] = []
  const beliefs: Owned[] = []
  const a = await sendingProcess(t, url, nodeA, await recordingProxy(t, nodeA, emu.graphUrl, sent), [x, y], beliefs)
  const b = await sendingProcess(t, url, nodeB, await recordingProxy(t, nodeB, emu.graphUrl, sent), [x, y], beliefs)
  // The backlog: PER_CHANNEL replies on each number, each to its own customer.
  const repos = inboxRepos()
  const writer = new InboxWriter(repos, Date.now)
  const outbox = new Outbox({
    repos: { messages: repos.messages, channels: new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7))) },
    writer,
    epoch: () => 'test',
    providers: new ChannelProviders(new GraphHttp({ baseUrl: () => emu.graphUrl, timeoutMs: 5000 })),
    now: Date.now,
  })
  const log = new PgEventLog(pool, { url, nodeId: 'ownership-sending-test', pollMs: 50, clock: { now: Date.now }, onError: () => {} })
  await log.start()
  t.teardown(() => log.stop())
  const texts = new Map<string, number>()
  for (const channelId of channelIds) {
    for (let i = 0; i < PER_CHANNEL; i++) {
      const phone = `49170${channelId}${String(i).padStart(4, '0')}`
      const contact = await id(`INSERT INTO contacts (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, ?)`, [
        WS,
        phone,
        `Customer ${i}`,
      ])
      await id(
        `INSERT INTO conversations (workspace_id, channel_id, contact_id, window_expires_at, last_activity_at) VALUES (?, ?, ?, ?, 1)`,
        [WS, channelId, contact, Date.now() + 3_600_000],
      )
      const text = `channel ${channelId} message ${i}`
      texts.set(text, channelId)
      const now = Date.now()
      await log.transact(function* (batch) {
        const row = (yield* repos.conversations.conversationByChannelContact(channelId, contact))!
        yield* writer.record(
          batch,
          row,
          {
            direction: 'out',
            type: 'text',
            text,
            media: null,
            data: null,
            context: null,
            replyToMessageId: null,
            clientMessageId: `c-${channelId}-${i}`,
            senderUserId: null,
            status: 'queued',
            timestamp: now,
            createdAt: now,
            updatedAt: now,
          },
          {
            by: 'agent',
            now,
            alongside: function* (m) {
              yield* outbox.enqueue(m, 'whatsapp', { to: phone, content: { type: 'text', body: text, previewUrl: false } })
            },
          },
        )
      })
    }
  }
  // The backlog is queued before anyone owns a number: the sending then starts as it does
  // after a move (a window's wait, then evenly paced), not with this process's event loop
  // busy queueing, whose lag would delay requests past the margin (a matter of the host, not
  // of the ownership, and outside this test).
  a.worker.start()
  b.worker.start()
  await a.ownership.start()
  t.same(a.held().sort(), [x, y].sort(), 'A, alone, owns both numbers')
  await b.ownership.start()
  await until(async () => a.held().join() === x && b.held().join() === y, 'A owns X and B owns Y', 20_000)

  const sentOn = (channelId: number) => sent.filter((s) => s.phoneNumberId === phoneOf.get(channelId))
  // A third of X's backlog out, then A hands X over.
  await until(async () => sentOn(channelIds[0]!).length >= PER_CHANNEL / 3, 'a third of X sent by A', 30_000)
  t.ok(await a.ownership.handOver(x), 'A hands X over')
  await until(async () => b.held().sort().join() === x && a.held().join() === y, 'B owns X and A owns Y', 30_000)

  const states = await until(
    async () => {
      const rows = await db.read(() => all<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state'))
      return rows.length === 1 && rows[0]!.state === 'sent' ? rows : undefined
    },
    'every outbox row sent',
    60_000,
  )
  t.equal(Number(states[0]!.n), 2 * PER_CHANNEL, 'all of them')

  // Every message sent exactly once: by the emulator's record and by the two proxies'.
  const out = emu.emulator.state.messages.filter((m) => m.direction === 'out')
  const accepted = new Map<string, number>()
  for (const m of out) accepted.set(m.text ?? '', (accepted.get(m.text ?? '') ?? 0) + 1)
  t.same([...accepted.keys()].sort(), [...texts.keys()].sort(), 'every message reached the emulator')
  t.ok(
    [...accepted.values()].every((n) => n === 1),
    'none twice',
  )
  t.equal(sent.length, 2 * PER_CHANNEL, 'one request per message in total, through the two processes')
  const stats = emu.emulator.stats()
  t.equal(stats.rejected[130429] ?? 0, 0, 'Meta never said 130429')

  // The rate, per number, in every second of the emulator's clock (its own request counts).
  let rateHeld = true
  for (const [channelId, phone] of phoneOf) {
    const perSecond = Object.values(stats.requestsPerSecond[phone] ?? {})
    const ok = Math.max(...perSecond) <= RATE
    rateHeld &&= ok
    t.ok(ok, `channel ${channelId}: at most ${RATE} sends in any second (${perSecond.join(' ')})`)
  }
  if (!rateHeld) {
    // What to look at when it fails: who owned what when, and who sent what when.
    const t0 = Math.min(...sent.map((s) => s.at))
    t.comment(JSON.stringify(beliefs.map((b) => ({ ...b, start: b.start - t0, end: b.end === null ? null : b.end - t0 }))))
    for (const s of [...sent].sort((p, q) => p.at - q.at)) t.comment(`${s.at - t0} ms ${s.node} ${s.phoneNumberId} ${s.text}`)
  }

  // One sender at a time: each number's sends, in the order they reached the emulator, come in
  // runs of one process; each run's process had gained the number before the run's first send,
  // and there are no more runs than gains of that number.
  for (const channelId of channelIds) {
    const seq = sentOn(channelId).sort((p, q) => p.at - q.at)
    const runs: Sent[][] = []
    for (const s of seq) {
      const last = runs.at(-1)
      if (last && last[0]!.node === s.node) last.push(s)
      else runs.push([s])
    }
    const gains = beliefs.filter((g) => g.channelId === channelId)
    t.ok(runs.length <= gains.length, `channel ${channelId}: ${runs.length} runs of one sender, ${gains.length} gains`)
    for (const run of runs) {
      const gained = gains.some((g) => g.node === run[0]!.node && g.start <= run[0]!.at)
      t.ok(gained, `channel ${channelId}: ${run[0]!.node} sent ${run.length} after it gained the number`)
    }
  }
  // The moves happened with messages waiting: X finished by B, Y sent by both.
  const xRuns = sentOn(channelIds[0]!)
  t.ok(
    xRuns.some((s) => s.node === nodeA),
    'A sent part of X',
  )
  t.ok(
    xRuns.some((s) => s.node === nodeB),
    'B finished X after the handOver',
  )
  t.same([...a.errors, ...b.errors], [], 'no ownership errors')
})
