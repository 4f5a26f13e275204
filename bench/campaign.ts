// 7. Campaign (issue 7): a broadcast to N recipients at Meta's default throughput of
// 80 messages/s, against the emulator in its own process (counting what it accepted,
// enforcing 130429, playing the audience's statuses and replies). Reported: the time
// from "send now" until every recipient was handed to WhatsApp, against the ideal
// N / 80 s (target: within 3%), Meta's per-second counts, and that every recipient is
// counted exactly once — at the emulator and in Parley's counters and table.
//
// Sizes: 10,000 recipients with `--campaign-full` (the issue's target, ~2 min); the
// default and --quick runs use 1,000 so the default suite stays under ten minutes.
// `--campaign-recipients=N` sets any size; `--campaign-margin=MS` the pacing margin
// (WHATSAPP_RATE_MARGIN_MS; Parley's default when absent).
import path from 'node:path'
import { Child, sleep } from './lib/proc.ts'
import { login, startParley } from './lib/servers.ts'
import { num, type Section } from './lib/report.ts'
import type { Ctx } from './lib/context.ts'
import type { CampaignDTO, CampaignRecipientDTO } from '../src/events/types.ts'
import { BENCH_GRAPH_TOKEN } from './campaign-emulator.ts'
import { WABA_ID } from './lib/wa.ts'
import { DEFAULTS } from '../src/config.ts'

const RATE = 80
const FULL = 10_000
const REDUCED = 1_000
// The issue's bar: finish within 3% of the ideal time.
const TARGET_OVERHEAD = 0.03
const POLL_MS = 100

export function campaignSize(args: string[]): number {
  const n = args.find((a) => a.startsWith('--campaign-recipients='))
  if (n) return Math.max(1, Number(n.slice('--campaign-recipients='.length)) || REDUCED)
  return args.includes('--campaign-full') ? FULL : REDUCED
}

interface Tally {
  repliesWritten: number
  messages: number
  recipients: number
  twice: number
  outcomes: { failed: Record<string, number>; sent: number; delivered: number; read: number; replied: number }
}
interface EmuStats {
  sendRequests: number
  accepted: number
  rejected: Record<string, number>
  perSecond: number[]
  webhooksDelivered: number
  webhooksPending: number
  statusesScheduled: number
}

export async function campaign(ctx: Ctx): Promise<Section> {
  const args = process.argv.slice(2)
  const n = campaignSize(args)
  const marginArg = args.find((a) => a.startsWith('--campaign-margin='))?.slice('--campaign-margin='.length)
  const margin = marginArg !== undefined ? Number(marginArg) : DEFAULTS.WHATSAPP_RATE_MARGIN_MS
  const emu = await Child.start({
    name: 'campaign-emulator',
    module: 'campaign-emulator.ts',
    env: { CAMPAIGN_EMULATOR_RATE: String(RATE) },
  })
  const info = emu.info as { graphUrl: string }
  const parley = await startParley('parley-campaign', {
    profileDir: ctx.profileDir && path.join(ctx.profileDir, 'campaign'),
    env: {
      GRAPH_API_URL: info.graphUrl,
      WHATSAPP_ACCESS_TOKEN: BENCH_GRAPH_TOKEN,
      WHATSAPP_BUSINESS_ACCOUNT_ID: WABA_ID,
      WHATSAPP_SEND_RATE_PER_SECOND: String(RATE),
      WHATSAPP_RATE_MARGIN_MS: String(margin),
      // The request log of 10,000 sends' webhooks is not what is measured.
      LOG_LEVEL: 'warn',
    },
  })
  try {
    await emu.call('webhookUrl', { url: `${parley.url}/webhooks/whatsapp` })
    const [token] = await login(parley.url, 1)
    const call = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(parley.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const json = (await res.json()) as T
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
      return json
    }

    ctx.log(`campaign: importing ${num(n)} contacts`)
    const lines = ['phone,name,order']
    for (let i = 0; i < n; i++) lines.push(`+49151${String(10_000_000 + i)},Customer ${i},#${100_000 + i}`)
    const t0Import = performance.now()
    await call('POST', '/api/contacts/import', { csv: lines.join('\n'), tags: ['bench'] })
    const importMs = performance.now() - t0Import
    const { campaign: draft } = await call<{ campaign: CampaignDTO }>('POST', '/api/campaigns', {
      name: 'Benchmark',
      template: { name: 'order_update', language: 'en' },
      params: {
        body: { '1': { from: 'first_name' }, '2': { from: 'attribute', key: 'order' }, '3': { from: 'fixed', value: 'Friday' } },
        header: {},
      },
      audience: { kind: 'tags', tags: ['bench'], match: 'any' },
    })

    ctx.log(`campaign: sending to ${num(n)} recipients at ${RATE}/s (ideal ${(n / RATE).toFixed(1)} s)`)
    const t0 = performance.now()
    await call('POST', `/api/campaigns/${draft.id}/start`, {})
    // Handed to WhatsApp: Meta accepted (or refused) every recipient's message.
    let handedMs = NaN
    let last: CampaignDTO = draft
    const deadline = t0 + (n / RATE) * 1000 * 3 + 60_000
    const rates: number[] = []
    for (;;) {
      last = (await call<{ campaign: CampaignDTO }>('GET', `/api/campaigns/${draft.id}`)).campaign
      if (last.status === 'running' && last.rate > 0) rates.push(last.rate)
      const k = last.counts
      if (Number.isNaN(handedMs) && k.queued + k.sending === 0) handedMs = performance.now() - t0
      if (!Number.isNaN(handedMs) && last.status === 'completed') break
      if (performance.now() > deadline)
        throw new Error(`campaign did not finish: ${JSON.stringify(last.counts)} (${last.status}, ${last.note ?? ''})`)
      await sleep(POLL_MS)
    }
    // Let the statuses (delivered, read) and replies that are still on their way land.
    let stats = await emu.call<EmuStats>('stats')
    let tally = await emu.call<Tally>('tally')
    for (
      let i = 0;
      i < 150 && (stats.webhooksPending > 0 || stats.statusesScheduled > 0 || tally.repliesWritten < tally.outcomes.replied);
      i++
    ) {
      await sleep(200)
      stats = await emu.call<EmuStats>('stats')
      tally = await emu.call<Tally>('tally')
    }
    // Parley's counters are published a few times a second.
    await sleep(1000)
    const final = (await call<{ campaign: CampaignDTO }>('GET', `/api/campaigns/${draft.id}`)).campaign
    // The per-recipient truth, through the keyset-paginated API.
    const rows: CampaignRecipientDTO[] = []
    let cursor: string | null = null
    do {
      const page: { recipients: CampaignRecipientDTO[]; nextCursor: string | null } = await call(
        'GET',
        `/api/campaigns/${draft.id}/recipients?limit=500${cursor ? `&cursor=${cursor}` : ''}`,
      )
      rows.push(...page.recipients)
      cursor = page.nextCursor
    } while (cursor)
    const table: Record<string, number> = {}
    for (const r of rows) table[r.status] = (table[r.status] ?? 0) + 1
    const k = final.counts
    const counterMatch = ['queued', 'sending', 'unknown', 'sent', 'delivered', 'read', 'failed', 'skipped'].every(
      (s) => (table[s] ?? 0) === k[s as keyof typeof k],
    )
    const uniqueContacts = new Set(rows.map((r) => r.contact.id)).size
    const failedAtMeta = Object.values(tally.outcomes.failed).reduce((a, b) => a + b, 0)
    const exactlyOnce =
      tally.twice === 0 &&
      tally.recipients === n &&
      tally.messages === n &&
      rows.length === n &&
      uniqueContacts === n &&
      k.total === n &&
      counterMatch &&
      k.failed === failedAtMeta &&
      k.replied === tally.outcomes.replied

    const ideal = (n / RATE) * 1000
    const overhead = handedMs / ideal - 1
    const perSecond = stats.perSecond
    const full = perSecond.slice(1, -1)
    const throttled = Object.values(stats.rejected).reduce((a, b) => a + b, 0)
    const medianRate = rates.length ? [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]! : NaN
    return {
      title: `7. Campaign: ${num(n)} recipients at ${RATE} messages/s against the emulator (pacing margin ${margin} ms)`,
      head: ['measure', 'value'],
      rows: [
        ['time from "send now" until every recipient was handed to WhatsApp', `${(handedMs / 1000).toFixed(1)} s`],
        ['ideal (recipients ÷ 80/s)', `${(ideal / 1000).toFixed(1)} s`],
        ['over the ideal', `${(overhead * 100).toFixed(1)}%`],
        ['send rate shown live (median of the running campaign’s updates)', `${medianRate.toFixed(1)} /s`],
        [
          'send requests per second at Meta (full seconds: min / median / max)',
          full.length
            ? `${Math.min(...full)} / ${[...full].sort((a, b) => a - b)[Math.floor(full.length / 2)]} / ${Math.max(...full)}`
            : '–',
        ],
        ['refused by Meta for throughput (130429)', num(throttled)],
        [
          'messages accepted by Meta / numbers messaged / numbers messaged twice',
          `${num(tally.messages)} / ${num(tally.recipients)} / ${num(tally.twice)}`,
        ],
        [
          'Parley counters (sent · delivered · read · failed · skipped · unconfirmed)',
          `${num(k.sent)} · ${num(k.delivered)} · ${num(k.read)} · ${num(k.failed)} · ${num(k.skipped)} · ${num(k.unknown)}`,
        ],
        ['replied (Parley / emulator)', `${num(k.replied)} / ${num(tally.outcomes.replied)}`],
        [
          'per-recipient table rows / distinct contacts / equal to the counters',
          `${num(rows.length)} / ${num(uniqueContacts)} / ${counterMatch ? 'yes' : 'NO'}`,
        ],
        ['CSV import of the audience', `${(importMs / 1000).toFixed(1)} s`],
      ],
      targets: [
        {
          name: `${num(n)}-recipient campaign at ${RATE}/s`,
          target: `finishes within ${TARGET_OVERHEAD * 100}% of the ideal ${(ideal / 1000).toFixed(0)} s`,
          value: `${(handedMs / 1000).toFixed(1)} s (${overhead >= 0 ? '+' : ''}${(overhead * 100).toFixed(1)}%)`,
          met: overhead <= TARGET_OVERHEAD,
        },
        {
          name: 'every recipient counted exactly once',
          target: 'once at Meta, once in the table, counters = table',
          value: exactlyOnce ? 'yes' : 'no',
          met: exactlyOnce,
        },
      ],
      notes: [
        'Parley and the emulator are separate processes on loopback; the emulator refuses a send past 80 accepted in a calendar second (130429), sends signed status webhooks back and plays the audience: 2% undeliverable (131026), 1% marketing limit (131049), 97% of the rest delivered, half of those read, 5% of the readers reply.',
        `Parley paces a number's sends evenly with a safety margin on Meta's one-second window, starting at its floor (WHATSAPP_RATE_MARGIN_MS, default ${DEFAULTS.WHATSAPP_RATE_MARGIN_MS} ms; this run ${margin} ms): the best possible time is the ideal × (1000 + margin) / 1000, here ${((ideal * (1000 + margin)) / 1000 / 1000).toFixed(1)} s. Each 130429 from Meta (apart from echoes of the same burst) doubles the number's margin, up to 200 ms, and pauses it about a second; a calm minute narrows it back one step.`,
        'The finish time runs from the "send now" request until no recipient is waiting or in flight (every message accepted or refused by Meta); the statuses and replies that follow are then awaited before counting.',
      ],
    }
  } finally {
    await parley.stop()
    await emu.stop()
  }
}
