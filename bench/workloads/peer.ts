// 6. The peer: the same fixed-rate ingest + delivery workload against the socket.io
// server built the naive way (baselines/socketio-peer.ts), and both at saturation:
// closed-loop webhooks with clients connected, counting the events each client gets.
import path from 'node:path'
import { Child, sleep, type CpuUse } from '../lib/proc.ts'
import { login, split, startParley, startPeer, startReceivers, type Running } from '../lib/servers.ts'
import { OUTBOUND_POOL, customer, ingestOutbound } from '../lib/wa.ts'
import { peerToken } from '../lib/peer-token.ts'
import { num, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'
import { DELIVERY_HEAD, deliveryRow, lastParleyDelivery, lossFree, runDelivery, type DeliveryResult } from './delivery.ts'

interface Saturation {
  system: string
  webhooksPerSec: number
  eventsPerClientPerSec: number
  minPerClient: number
  maxPerClient: number
  closed: number
  cpu: CpuUse | undefined
}

async function saturate(ctx: Ctx, system: 'parley' | 'peer'): Promise<Saturation> {
  const o = ctx.sizes.peer
  const server: Running =
    system === 'parley'
      ? await startParley('parley-saturation', { profileDir: ctx.profileDir && path.join(ctx.profileDir, 'saturation') })
      : await startPeer()
  const children: Child[] = []
  let cpu: CpuUse | undefined
  try {
    const targets = Array.from({ length: OUTBOUND_POOL }, (_, i) => ({ wamid: ingestOutbound(i), to: customer(i % 5000) }))
    await server.child.call('seedOutbound', { targets }, 120_000)
    const tokens = system === 'parley' ? await login(server.url, 2) : [peerToken(1, 1), peerToken(2, 1)]
    // Warm-up before any client connects: a running server is warm.
    const cannon = await Child.start({ name: 'autocannon', module: 'gen/cannon.ts' })
    children.push(cannon)
    await cannon.call('run', { url: server.url, connections: 32, seconds: o.warmSeconds, tag: `warm${system}` }, 60_000)
    const receivers = await startReceivers(system === 'parley' ? 'sse' : 'sio', o.clients, o.clients)
    children.push(...receivers)
    await Promise.all(
      receivers.map((r, i) =>
        r.call(
          'open',
          {
            url: system === 'parley' ? `${server.url}/stream` : server.url,
            tokens,
            count: split(o.clients, receivers.length, i),
            mode: 'count',
          },
          60_000,
        ),
      ),
    )
    ctx.log(`peer: ${system} saturated by ${o.connections} connections with ${o.clients} clients`)
    const r = await cannon.call<{ rps: number; seconds: number }>(
      'run',
      { url: server.url, connections: o.connections, seconds: o.seconds, tag: `sat${system}` },
      (o.seconds + 60) * 1000,
    )
    // Let the last events reach the clients: wait until the counts stop moving.
    let prev = -1
    let counts = { clients: 0, min: 0, max: 0, sum: 0, closed: 0 }
    for (let i = 0; i < 100; i++) {
      const parts = await Promise.all(receivers.map((x) => x.call<typeof counts>('counts')))
      counts = parts.reduce((a, b) => ({
        clients: a.clients + b.clients,
        min: Math.min(a.min, b.min),
        max: Math.max(a.max, b.max),
        sum: a.sum + b.sum,
        closed: a.closed + b.closed,
      }))
      if (counts.sum === prev) break
      prev = counts.sum
      await sleep(200)
    }
    return {
      system,
      webhooksPerSec: r.rps,
      eventsPerClientPerSec: counts.sum / counts.clients / r.seconds,
      minPerClient: counts.min,
      maxPerClient: counts.max,
      closed: counts.closed,
      cpu,
    }
  } finally {
    for (const c of children) c.kill()
    cpu = await server.stop()
  }
}

export async function peer(ctx: Ctx): Promise<Section> {
  const o = ctx.sizes.delivery
  const parleyDelivery: DeliveryResult = lastParleyDelivery() ?? (await runDelivery(ctx, 'parley', o))
  const peerDelivery = await runDelivery(ctx, 'peer', o)
  const p = await saturate(ctx, 'parley')
  const q = await saturate(ctx, 'peer')
  const satRatio = p.eventsPerClientPerSec / q.eventsPerClientPerSec
  const c = ctx.sizes.peer
  return {
    title: '6. The socket.io peer (webhook → verify → SQLite FULL, one commit per webhook → io.to(room).emit)',
    head: DELIVERY_HEAD,
    rows: [
      deliveryRow(parleyDelivery),
      deliveryRow(peerDelivery),
      [
        `saturation: ${c.connections} webhook connections, ${c.clients} clients, ${c.seconds} s`,
        'Parley / peer',
        `${num(p.webhooksPerSec)} / ${num(q.webhooksPerSec)} webhooks/s`,
        '',
        '',
        `${num(p.eventsPerClientPerSec)} / ${num(q.eventsPerClientPerSec)} (${ratio(satRatio)})`,
        `per-client counts Parley ${p.minPerClient}…${p.maxPerClient}, peer ${q.minPerClient}…${q.maxPerClient}; closed ${p.closed} / ${q.closed}`,
      ],
    ],
    targets: [
      {
        name: 'throughput against the socket.io peer at equal durability',
        target: "≥ 3× the peer's delivered events/s",
        value: `${num(p.eventsPerClientPerSec)} vs ${num(q.eventsPerClientPerSec)} events/s to each client = ${ratio(satRatio)}`,
        met: satRatio >= 3,
      },
    ],
    notes: [
      `At the fixed rate (${o.rate}/s, ${o.streams} clients) Parley ${lossFree(parleyDelivery) ? 'lost nothing' : 'LOST events'}; the peer ${lossFree(peerDelivery) ? 'lost nothing' : 'did not deliver everything'} (it has no replay: a client that was not connected at the emit never gets it).`,
      'Saturation: the mixed signed webhook stream of workload 1 from autocannon (closed loop), clients connected live; events per client per second = all events the clients received / clients / load seconds. The peer’s clients use socket.io-client over websocket only (no polling), its most favourable transport.',
      'Equal durability: both WAL + synchronous=FULL and answer 200 only after the commit; the peer commits once per webhook, Parley once per group of webhooks.',
    ],
  }
}
