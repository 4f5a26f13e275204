// 4. Replay: a client reconnects with the cursor it held before 10,000 events were
// committed; time from its request until it holds all of them. Baseline: a raw
// node:http server reading the same rows from the same database file and writing the
// same frames (the physical limit of reading and sending them).
import path from 'node:path'
import { Child } from '../lib/proc.ts'
import { cursorOf, login, startBaseline, startParley } from '../lib/servers.ts'
import { median, ms, num, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'

interface ReplayResult {
  ms: number
  firstByteMs: number
  events: number
  bytes: number
}

export async function replay(ctx: Ctx): Promise<Section> {
  const { events, perWebhook, reps } = ctx.sizes.replay
  const parley = await startParley('parley-replay', { profileDir: ctx.profileDir && path.join(ctx.profileDir, 'replay') })
  const raw = await startBaseline('raw-sse', 'baselines/raw-sse.ts')
  const children: Child[] = []
  try {
    const [token] = await login(parley.url, 1)
    const start = await cursorOf(parley.url, token!)
    const sender = await Child.start({ name: 'sender', module: 'gen/sender.ts' })
    children.push(sender)
    ctx.log(`replay: committing ${events} events`)
    const burst = await sender.call<{ ok: number; ms: number }>(
      'burst',
      { url: parley.url, webhooks: Math.ceil(events / perWebhook), perWebhook, concurrency: 8, tag: 'replay' },
      300_000,
    )
    const end = await cursorOf(parley.url, token!)
    const expect = end.id - start.id
    if (expect < events) throw new Error(`only ${expect} events were committed (${burst.ok} webhooks answered 200)`)
    await raw.child.call('openDb', {
      file: path.join(parley.dataDir, 'parley.db'),
      epoch: start.cursor.slice(0, start.cursor.lastIndexOf(':')),
    })

    const client = await Child.start({ name: 'replay-client', module: 'gen/sse-receivers.ts' })
    children.push(client)
    const p: ReplayResult[] = []
    const r: ReplayResult[] = []
    const parleyOnce = () =>
      client.call<ReplayResult>(
        'replay',
        { url: `${parley.url}/stream`, token, lastEventId: start.cursor, expect, timeoutMs: 60_000 },
        90_000,
      )
    const rawOnce = () =>
      client.call<ReplayResult>('replay', { url: `${raw.url}/replay?after=${start.id}`, expect, timeoutMs: 60_000 }, 90_000)
    // One unrecorded round each, then alternate.
    await parleyOnce()
    await rawOnce()
    for (let i = 0; i < reps; i++) {
      p.push(await parleyOnce())
      r.push(await rawOnce())
    }
    const pm = median(p.map((x) => x.ms))
    const rm = median(r.map((x) => x.ms))
    const list = (xs: ReplayResult[]) => xs.map((x) => x.ms.toFixed(0)).join(', ')
    return {
      title: `4. Replay: a client reconnecting after missing ${num(expect)} events`,
      head: ['system', 'time to all events (median)', 'each rep (ms)', 'first byte (median)', 'bytes'],
      rows: [
        ['Parley /stream with Last-Event-ID', ms(pm), list(p), ms(median(p.map((x) => x.firstByteMs))), num(p[0]!.bytes)],
        ['raw node:http reading the same rows', ms(rm), list(r), ms(median(r.map((x) => x.firstByteMs))), num(r[0]!.bytes)],
        ['Parley ÷ raw', ratio(pm / rm), '', '', ''],
      ],
      targets: [
        {
          name: `replay of ${num(expect)} events`,
          target: '≤ 150 ms',
          value: ms(pm),
          met: pm <= 150,
        },
      ],
      notes: [
        `The events are message.created (message + conversation), committed by ${num(Math.ceil(events / perWebhook))} webhooks of ${perWebhook} messages each (${(burst.ms / 1000).toFixed(1)} s); the client (its own process) counts frames with an id until it has them all.`,
      ],
    }
  } finally {
    for (const c of children) c.kill()
    await raw.stop()
    await parley.stop()
  }
}
