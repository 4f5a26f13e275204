// Issue 14's benchmark: N agents with open streams (their own, members of the webhooks'
// channel), each sending a typing signal every 3 s while webhooks arrive at a fixed rate.
// Two delivery runs back to back in the same bench run, identical but for the typing:
// message-event delivery p99 with presence against without, as a ratio; and the event
// log's growth, which must be the webhooks' events only (the same in both runs) with not
// one presence row.
import { runDelivery, lossFree, lossText, type DeliveryResult } from './delivery.ts'
import { ms, num, pcts, ratio, type Section } from '../lib/report.ts'
import type { Ctx } from '../lib/context.ts'
import { loadavg } from 'node:os'

const TYPING_EVERY_MS = 3000

export async function presence(ctx: Ctx): Promise<Section> {
  const z = ctx.sizes.presence
  const base = { streams: z.agents, rate: z.rate, seconds: z.seconds, perProcess: z.agents, warmWebhooks: z.warmWebhooks }
  ctx.log(`presence: ${z.agents} agents, ${z.rate} webhooks/s for ${z.seconds} s, without then with typing`)
  const without = await runDelivery(ctx, 'parley', { ...base, team: { agents: z.agents } })
  const withTyping = await runDelivery(ctx, 'parley', { ...base, team: { agents: z.agents, typingEveryMs: TYPING_EVERY_MS } })
  const p99 = (r: DeliveryResult) => r.latency.pct(99)
  const p99Ratio = p99(withTyping) / p99(without)
  const grew = (r: DeliveryResult) => (r.team ? r.team.rowsAfter - r.team.rowsBefore : NaN)
  const typing = withTyping.team?.typing
  const framesPerAgent = typing ? withTyping.team!.frames / Math.max(1, z.agents) : 0
  const row = (label: string, r: DeliveryResult) => [
    label,
    `${num(r.acked)} / ${num(r.webhooks)}`,
    pcts(r.latency),
    num(grew(r)),
    num(r.team?.presenceRows ?? NaN),
    num(r.team?.frames ?? 0),
    `${(r.window.serverMs / 1000).toFixed(2)} s in ${(r.window.wallMs / 1000).toFixed(1)} s`,
    r.window.machineBusy === undefined ? '?' : `${(100 * r.window.machineBusy).toFixed(0)}%`,
    lossText(r),
  ]
  const sameGrowth = grew(withTyping) === grew(without)
  const noPresenceRows = (withTyping.team?.presenceRows ?? 1) === 0 && (without.team?.presenceRows ?? 1) === 0
  return {
    title: `14. Presence: ${z.agents} agents typing every ${TYPING_EVERY_MS / 1000} s while ${z.rate} webhooks/s arrive`,
    head: [
      'run',
      'webhooks answered',
      'message event delivery p50 / p99 / max',
      'event log rows added',
      'presence rows',
      'presence frames received',
      'server CPU while sending',
      'machine busy',
      'loss',
    ],
    rows: [row('without presence', without), row(`with presence (${z.agents} agents typing)`, withTyping)],
    targets: [
      {
        name: `message-event delivery p99 with ${z.agents} agents typing`,
        target: 'within 10% of the same run without presence (≤ 1.10×), nothing lost',
        value: `${ms(p99(withTyping))} vs ${ms(p99(without))} = ${ratio(p99Ratio)}${lossFree(withTyping) ? '' : `; ${lossText(withTyping)}`}`,
        met: p99Ratio <= 1.1 && lossFree(withTyping) && lossFree(without),
      },
      {
        name: 'event log growth under presence',
        target: 'the webhooks’ events only: the same as without presence, no presence row',
        value: `${num(grew(withTyping))} rows with, ${num(grew(without))} without; ${num(withTyping.team?.presenceRows ?? NaN)} presence rows`,
        met: sameGrowth && noPresenceRows,
      },
    ],
    notes: [
      typing
        ? `The typing agents sent ${num(typing.sent)} signals (${num(typing.status204)} answered 204, ${num(typing.other)} otherwise, ${num(typing.errors)} errors; answer p50 ${ms(typing.answerP50)}, p99 ${ms(typing.answerP99)}); the ${num(z.agents)} streams received ${num(withTyping.team!.frames)} presence frames (${framesPerAgent.toFixed(0)} each): every typing signal fanned out to every agent of the channel, after the server's 3 s throttle. Frames after the last webhook (idle as the typing lapses) are counted too.`
        : 'The typing generator did not report.',
      `Each run is a fresh Parley: ${num(z.warmWebhooks)} warm-up webhooks, then ${num(z.agents)} agents (sessions minted in the server, all members of the webhooks' channel), one stream each; the typing agents spread their first signal over the first 3 s and type in the conversations the warm-up made (agent i in the i-th). Latency is from each webhook's due time to each stream's receipt of each of its events, as in workload 2; the streams' ids are not range-checked (an agent's stream carries its channel's events only).`,
      `Reading the ratio: both runs share the machine with whatever else runs on it (its load average was ${loadavg()
        .map((x) => x.toFixed(1))
        .join(
          ' / ',
        )} at the end), so a p99 in seconds is time spent waiting for a CPU, not Parley's work. The server CPU column is the steadier measure of what presence costs the server: the extra HTTP requests (${typing ? num(typing.sent) : '–'} signals) and the presence frames, gathered per stream (hub ephemeralCoalesceMs, 250 ms) so that each stream gets at most about four writes a second of them, however many agents type.`,
      `"Rows added": the events table counted from just before the streams opened to after the last webhook settled; presence rows: rows of type 'presence' (the hub writes presence frames to the streams only, with no id).`,
    ],
  }
}
