// Issue 17, proof 3 ("Rate"), as a benchmark: a backlog of replies for one WhatsApp number
// while the number's ownership is forced to move mid-run. Two real Parley processes
// (`node --import tsx src/main.ts`, lib/cluster-procs.ts) on one fresh PostgreSQL database,
// the Meta emulator in its own process (lib/rate-emulator.ts) with its throughput rule at the
// number's rate. Queued as a user queues thousands of messages at once: a CSV import of N
// contacts, a template campaign to them, "send now" (a reply per conversation through the API
// runs at a few dozen per second on this loaded 2-core machine, slower than the sending, so no
// backlog would build). Once 40% are out, the number's owner is stopped: SIGTERM (it finishes
// its sends in flight and releases its leases) in one variant, SIGKILL (the leases must
// expire) in the other.
//
// Everything measured is the emulator's own record: its per-second request counts for the
// number (max vs the rate: the workload FAILS if any second exceeds it), the moment it accepted
// each message (throughput over the run, the longest pause around the move, duplicates: the
// workload fails on any). The lease row is polled to time how long the number had no owner.
// The correctness half lives in test/ownership-sending-pg.test.ts; nothing here is a test.
import pg from 'pg'
import { Child, sleep } from '../lib/proc.ts'
import { openPgServer } from '../lib/pg-cluster.ts'
import { login } from '../lib/servers.ts'
import { startParleys } from '../lib/cluster-procs.ts'
import { median, num, type Section, type Target } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

// 40/s by default: the rate this 2-core machine sustains with two Parley processes, PostgreSQL,
// the emulator and its two status webhooks per message all on it. At Meta's default 80/s the
// same run sends a median 62–65/s with no move at all (quiet machine, 2026-12-07), so its
// throughput figure measures the machine, not the move; the no-move run below shows which
// one a figure measures. 5,000 messages at 40/s is about two minutes, so a move (a few
// seconds after SIGTERM, the lease's 15 s after SIGKILL) is a small part of the run.
// `--ownership-rate=80` (or Meta's higher tiers) on a larger machine.
const RATE = Number(process.argv.find((a) => a.startsWith('--ownership-rate='))?.slice('--ownership-rate='.length) ?? 40)
const TARGET = 0.95
const TITLE = `Several processes (issue 17, proof 3): one number's backlog at ${RATE}/s, ownership moved mid-run`

interface Sizes {
  messages: number
}
const sizesOf = (quick: boolean): Sizes => (quick ? { messages: 1000 } : { messages: 5000 })

interface EmuStats {
  sendRequests: number
  accepted: number
  rejected: Record<string, number>
  perSecond: Record<string, number>
  webhooksPending: number
}

interface LeaseSample {
  at: number
  owner: string | null
  live: boolean
}

interface VariantResult {
  variant: string
  messages: number
  queueSeconds: number
  movedAt: number
  sends: number
  distinct: number
  duplicates: number
  firstAt: number
  lastAt: number
  maxPerSecond: number
  perSecond: number[]
  rejected: number
  /** From the signal until another process held a live lease. */
  toNewOwnerMs: number
  /** Time within that with no live lease at all (released or expired, not yet taken). */
  noLiveLeaseMs: number
  /** Longest pause between two consecutive accepted sends (the move's cost at the emulator). */
  longestPauseMs: number
  owners: string
  outbox: Record<string, number>
}

/** Polls the number's lease row (who holds it and whether it is live on the database's clock). */
function leasePoller(url: string, name: string) {
  const samples: LeaseSample[] = []
  const client = new pg.Client({ connectionString: url })
  let running = true
  const done = (async () => {
    await client.connect()
    while (running) {
      const r = await client.query<{ owner: string; live: boolean }>(
        `SELECT owner, expires_at > (floor(extract(epoch from clock_timestamp()) * 1000))::bigint AS live FROM leases WHERE name = $1`,
        [name],
      )
      const row = r.rows[0]
      samples.push({ at: Date.now(), owner: row?.owner ?? null, live: row?.live ?? false })
      await sleep(10)
    }
    await client.end()
  })()
  return {
    samples,
    async stop() {
      running = false
      await done
    },
  }
}

async function api<T = any>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T }
}

async function until<T>(fn: () => Promise<T | undefined | null | false>, what: string, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`ownership-rate: timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** `none`: the same run without a move, side by side — what the machine sends at this rate. */
type Move = 'none' | 'SIGTERM' | 'SIGKILL'

async function runVariant(ctx: Ctx, o: Sizes, databaseUrl: string, signal: Move): Promise<VariantResult> {
  const tag = signal === 'none' ? 'rate-none' : signal === 'SIGTERM' ? 'rate-term' : 'rate-kill'
  const emu = await Child.start({ name: `${tag}-emulator`, module: 'lib/rate-emulator.ts', env: { RATE_EMULATOR_RATE: String(RATE) } })
  const graph = (emu.info as { graphUrl: string }).graphUrl
  let poller: ReturnType<typeof leasePoller> | undefined
  ctx.log(`ownership-rate: ${signal}: starting 2 processes at ${RATE}/s`)
  const set = await startParleys(tag, 2, databaseUrl, {
    GRAPH_API_URL: graph,
    WHATSAPP_SEND_RATE_PER_SECOND: String(RATE),
  })
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    // The number's owner: the lease `channel:<id>` (the only channel).
    const lease = await until(
      async () =>
        (
          await db.query<{ name: string; owner: string }>(
            `SELECT name, owner FROM leases WHERE name LIKE 'channel:%' AND expires_at > (floor(extract(epoch from clock_timestamp()) * 1000))::bigint`,
          )
        ).rows[0],
      'an owner of the number',
      60_000,
    )
    // Meta's webhooks (the statuses) go to nginx in production; here to the process that does
    // not own the number at the start (if the owner changes before the move, the statuses sent
    // to it while it is down are retried by the emulator, as Meta does).
    const first = set.procs.find((p) => p.name !== lease.owner)!
    await emu.call('webhookUrl', { url: `${first.url}/webhooks/whatsapp` })
    poller = leasePoller(databaseUrl, lease.name)

    // The audience: N customers Meta knows, imported into Parley as a CSV with a tag.
    const phones = Array.from({ length: o.messages }, (_, i) => String(4915110000000 + i))
    await emu.call('customers', { phones }, 60_000)
    const [token] = await login(first.url, 1)
    const call = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
      const r = await api<T>(first.url, token!, method, path, body)
      if (r.status >= 300) throw new Error(`ownership-rate: ${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
      return r.body
    }
    const q0 = Date.now()
    const csv = ['phone,name,order', ...phones.map((p, i) => `+${p},Customer ${i},#${100_000 + i}`)].join('\n')
    await call('POST', '/api/contacts/import', { csv, tags: ['rate'] })
    const { campaign } = await call<{ campaign: { id: number } }>('POST', '/api/campaigns', {
      name: 'Rate under a move',
      template: { name: 'order_update', language: 'en' },
      params: {
        body: { '1': { from: 'first_name' }, '2': { from: 'attribute', key: 'order' }, '3': { from: 'fixed', value: 'Friday' } },
        header: {},
      },
      audience: { kind: 'tags', tags: ['rate'], match: 'any' },
    })
    // "Send now": from here every recipient waits for the number.
    await call('POST', `/api/campaigns/${campaign.id}/start`, {})
    const queueSeconds = (Date.now() - q0) / 1000
    ctx.log(`ownership-rate: ${signal}: a campaign to ${num(o.messages)} recipients queued in ${queueSeconds.toFixed(1)} s`)

    // Mid-run: 40% out. The owner then, not at the start: the leases may have been rebalanced.
    await until(async () => (await emu.call<number>('acceptedTexts')) >= o.messages * 0.4, '40% sent', 120_000)
    const ownerNow = (await db.query<{ owner: string }>('SELECT owner FROM leases WHERE name = $1', [lease.name])).rows[0]?.owner
    const owner = set.procs.find((p) => p.name === ownerNow)
    const survivor = set.procs.find((p) => p.name !== ownerNow)!
    if (!owner) throw new Error(`ownership-rate: the number's owner ${ownerNow} is none of ${set.procs.map((p) => p.name)}`)
    const movedAt = Date.now()
    if (signal !== 'none') {
      await emu.call('webhookUrl', { url: `${survivor.url}/webhooks/whatsapp` })
      ctx.log(`ownership-rate: ${signal}: ${signal} to the owner ${owner.name}`)
      await owner.signal(signal)
    }
    const deadline = (o.messages / RATE) * 3000 + 90_000
    await until(async () => (await emu.call<number>('acceptedTexts')) >= o.messages, 'every reply sent', deadline, 200)
    // A duplicate would come late (a resend after an ambiguous outcome): give it a moment.
    await sleep(2000)
    const samples = poller.samples
    await poller.stop()
    poller = undefined

    const sends = await emu.call<Array<{ customer: string; text: string; at: number }>>('sends', {}, 60_000)
    const stats = await emu.call<EmuStats>('stats')
    const outbox: Record<string, number> = {}
    for (const r of (await db.query<{ state: string; n: string }>('SELECT state, COUNT(*) AS n FROM outbox GROUP BY state')).rows)
      outbox[r.state] = Number(r.n)
    const count = new Map<string, number>()
    // One campaign message per recipient: a recipient messaged twice is a duplicate.
    for (const s of sends) count.set(s.customer, (count.get(s.customer) ?? 0) + 1)
    const times = sends.map((s) => s.at).sort((a, b) => a - b)
    let longestPauseMs = 0
    for (let i = 1; i < times.length; i++) longestPauseMs = Math.max(longestPauseMs, times[i]! - times[i - 1]!)
    const secs = Object.keys(stats.perSecond)
      .map(Number)
      .sort((a, b) => a - b)
    const perSecond = secs.length
      ? Array.from({ length: secs.at(-1)! - secs[0]! + 1 }, (_, i) => stats.perSecond[String(secs[0]! + i)] ?? 0)
      : []
    // Lease: from the signal until a live lease of the survivor; and the part of it with no live lease.
    const after = samples.filter((s) => s.at >= movedAt)
    const taken = after.find((s) => s.live && s.owner === survivor.name)
    let noLive = 0
    for (let i = 1; i < after.length && after[i - 1] !== taken; i++) if (!after[i - 1]!.live) noLive += after[i]!.at - after[i - 1]!.at
    return {
      variant: signal,
      messages: o.messages,
      queueSeconds,
      movedAt,
      sends: sends.length,
      distinct: count.size,
      duplicates: sends.length - count.size,
      firstAt: times[0] ?? NaN,
      lastAt: times.at(-1) ?? NaN,
      maxPerSecond: Math.max(...perSecond),
      perSecond,
      rejected: Object.values(stats.rejected).reduce((a, b) => a + b, 0),
      toNewOwnerMs: taken ? taken.at - movedAt : NaN,
      noLiveLeaseMs: noLive,
      longestPauseMs,
      owners: signal === 'none' ? `${owner.name} kept it` : `${owner.name} → ${taken ? survivor.name : '?'}`,
      outbox,
    }
  } finally {
    await poller?.stop()
    await db.end()
    await set.stop()
    await emu.stop()
  }
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–')
const secs = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '–')
/** Accepted sends per second over the run, first to last (the emulator's acceptance times). */
const throughput = (r: VariantResult) => (r.distinct - 1) / ((r.lastAt - r.firstAt) / 1000)

export async function ownershipRate(ctx: Ctx): Promise<Section> {
  const o = sizesOf(ctx.quick)
  const server = await openPgServer(ctx.log)
  if ('skipped' in server) {
    ctx.log(`ownership-rate: skipped: ${server.skipped}`)
    return { title: `${TITLE} — skipped: no PostgreSQL`, head: [], rows: [], targets: [], notes: [`skipped: ${server.skipped}`] }
  }
  const results: VariantResult[] = []
  try {
    results.push(await runVariant(ctx, o, await server.createDatabase('rate_none'), 'none'))
    results.push(await runVariant(ctx, o, await server.createDatabase('rate_term'), 'SIGTERM'))
    results.push(await runVariant(ctx, o, await server.createDatabase('rate_kill'), 'SIGKILL'))
  } finally {
    await server.close()
  }
  const rows = results.map((r) => [
    r.variant === 'none' ? `no move (${r.owners}): the baseline` : `${r.variant} to the owner (${r.owners})`,
    `${num(r.distinct)} / ${num(r.messages)}`,
    `${r.maxPerSecond} (${num(r.rejected)} refused with 130429)`,
    `${throughput(r).toFixed(1)} /s = ${pct(throughput(r) / RATE)}`,
    // The machine's sending pace apart from the move: it separates the two costs.
    `${median(r.perSecond.slice(1, -1))}`,
    r.duplicates ? `**${num(r.duplicates)}**` : '0',
    secs(r.toNewOwnerMs),
    secs(r.noLiveLeaseMs),
    secs(r.longestPauseMs),
    `${r.queueSeconds.toFixed(1)} s`,
    Object.entries(r.outbox)
      .map(([k, v]) => `${k} ${num(v)}`)
      .join(', '),
  ])
  const head = [
    'move',
    'sent (distinct at the emulator)',
    `max sends in one second at the emulator (rate ${RATE})`,
    'throughput, first to last send',
    'median sends per second (full seconds)',
    'duplicates',
    'signal → the other process holds the lease',
    'of which no live lease',
    'longest pause between two sends',
    'queueing (CSV import, campaign, start)',
    'outbox rows at the end',
  ]
  for (const r of results)
    ctx.log(`ownership-rate: ${r.variant}: per second at the emulator: ${r.perSecond.join(' ')}; ${rows[results.indexOf(r)]!.join(' | ')}`)
  // Loud failures: above the rate in any second, a message twice or not at all.
  const broken = results.flatMap((r) => [
    ...(r.maxPerSecond > RATE
      ? [`${r.variant}: ${r.maxPerSecond} sends in one second, above the rate ${RATE} (${r.perSecond.join(' ')})`]
      : []),
    ...(r.duplicates ? [`${r.variant}: ${r.duplicates} messages sent twice`] : []),
    ...(r.distinct !== r.messages ? [`${r.variant}: ${r.distinct} of ${r.messages} messages sent`] : []),
  ])
  if (broken.length) throw new Error(`ownership-rate: ${broken.join('; ')}`)
  const baseline = results.find((r) => r.variant === 'none')
  const targets: Target[] = results.flatMap((r): Target[] => {
    const what = r.variant === 'none' ? 'no move' : `owner stopped with ${r.variant}`
    const rows: Target[] = [
      {
        name: `${num(r.messages)}-message backlog, ${what}: never above the rate`,
        target: `≤ ${RATE} sends in every second at the emulator`,
        value: `max ${r.maxPerSecond}`,
        met: r.maxPerSecond <= RATE,
      },
    ]
    // The issue's proof 3: a move forced mid-run (a process stopped, as a deploy or a scale-down
    // stops it) keeps ≥ 95% of the rate. A process killed -9 cannot hand over: its lease must
    // run out (15 s, the issue's design), which is proof 2's "owned elsewhere within 20 s".
    if (r.variant === 'SIGKILL')
      rows.push({
        name: `${num(r.messages)}-message backlog, owner killed -9: the number owned by the other process`,
        target: '≤ 20 s after the kill',
        value: secs(r.toNewOwnerMs),
        met: r.toNewOwnerMs <= 20_000,
      })
    else
      rows.push({
        name: `${num(r.messages)}-message backlog, ${what}: throughput`,
        target: `≥ ${TARGET * 100}% of ${RATE}/s over the run`,
        value: `${pct(throughput(r) / RATE)}${baseline && r !== baseline ? ` (${pct(throughput(r) / throughput(baseline))} of no move)` : ''}`,
        met: throughput(r) / RATE >= TARGET,
      })
    return rows
  })
  return {
    title: TITLE,
    head,
    rows,
    targets,
    notes: [
      `Two real Parley processes (\`node --import tsx src/main.ts\`) on one fresh PostgreSQL database (${server.describe}), WHATSAPP_SEND_RATE_PER_SECOND=${RATE}, Parley's default pacing margin; the Meta emulator in its own process refuses a send past ${RATE} accepted in a calendar second (130429) and sends each message's sent and delivered statuses back.`,
      `The backlog, as a user queues ${num(o.messages)} messages at once: a CSV import of ${num(o.messages)} contacts (all known to the emulator), a template campaign to them, "send now". The campaign runner keeps half a second of the rate queued in the outbox and the number's owner sends them; the campaign itself is advanced by whichever process owns its lease. Once 40% are out, the number's owner gets the signal: SIGTERM (it finishes its sends in flight and releases its leases) or SIGKILL (its leases must expire, 15 s), and the emulator's webhooks go to the other process; the first run has no move, side by side, so that each throughput can be read against what this machine sends at the rate without one.`,
      "All figures are the emulator's own record: its request count per calendar second for the number (the workload fails if any exceeds the rate) and the moment it accepted each message (throughput = messages after the first ÷ time from the first to the last; duplicates: a recipient messaged twice). The median of the full seconds is the pace without the move: the throughput's shortfall beyond it is the move's cost. The lease row is polled every ~10 ms for the ownership figures. One run on this machine, not best-of.",
    ],
  }
}
