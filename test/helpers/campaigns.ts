// Helpers for the campaign tests (issue 7): contacts from CSV, campaigns over HTTP, the
// emulator playing the audience, and the per-recipient truth to compare counters with.
import type { Pair } from './emulator.ts'
import { until } from './emulator.ts'
import { RecipientPlayer, type RecipientShares } from '../../src/sandbox/emulator-campaign.ts'
import type { CampaignCounts, CampaignDTO, CampaignRecipientDTO } from '../../src/events/types.ts'

/** Numbers the emulator's simulator does not know: the player plays them. */
export const recipientPhone = (i: number) => String(4915100000000 + i)

export function contactsCsv(n: number, opts: { from?: number; tag?: string } = {}): string {
  const lines = ['phone,name,order,tags']
  for (let i = 0; i < n; i++) {
    const k = (opts.from ?? 0) + i
    lines.push(`+${recipientPhone(k)},Customer ${k},#${1000 + k},${opts.tag ?? 'vip'}`)
  }
  return lines.join('\n') + '\n'
}

export function play(p: { emu: Pair['emu'] }, shares: Partial<RecipientShares> = {}): RecipientPlayer {
  const player = new RecipientPlayer(
    p.emu.emulator,
    { failures: {}, delivered: 1, read: 0, replied: 0, ...shares },
    { readDelayMs: [10, 50], replyDelayMs: [10, 50] },
  )
  p.emu.emulator.recipients = player
  return player
}

export async function importCsv(p: Pair, csv: string, extra: Record<string, unknown> = {}) {
  const res = await p.call('POST', '/api/contacts/import', { csv, ...extra })
  if (res.status !== 201) throw new Error(`import: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.report
}

/** order_update: "Hi {{1}}, your order {{2}} has shipped and should arrive by {{3}}." */
export const ORDER_UPDATE = {
  template: { name: 'order_update', language: 'en' },
  params: {
    body: { '1': { from: 'first_name' }, '2': { from: 'attribute', key: 'order' }, '3': { from: 'fixed', value: 'Friday' } },
    header: {},
  },
}

export async function createCampaign(p: Pair, body: Record<string, unknown> = {}): Promise<CampaignDTO> {
  const res = await p.call('POST', '/api/campaigns', {
    name: 'Spring',
    ...ORDER_UPDATE,
    audience: { kind: 'tags', tags: ['vip'], match: 'any' },
    ...body,
  })
  if (res.status !== 201) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.campaign
}

export async function action(p: Pair, id: number, what: 'start' | 'pause' | 'resume' | 'cancel', body: unknown = {}): Promise<CampaignDTO> {
  const res = await p.call('POST', `/api/campaigns/${id}/${what}`, body)
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.campaign
}

export async function campaign(p: { call: Pair['call'] }, id: number): Promise<CampaignDTO> {
  const res = await p.call('GET', `/api/campaigns/${id}`)
  if (res.status !== 200) throw new Error(`get: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.campaign
}

export function waitCampaign(
  p: { call: Pair['call'] },
  id: number,
  pred: (c: CampaignDTO) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<CampaignDTO> {
  return until(
    async () => {
      const c = await campaign(p, id)
      return pred(c) ? c : undefined
    },
    what,
    timeoutMs,
  )
}

/** Every recipient, through the keyset-paginated API. */
export async function recipients(p: { call: Pair['call'] }, id: number, status?: string): Promise<CampaignRecipientDTO[]> {
  const out: CampaignRecipientDTO[] = []
  let cursor: string | null = null
  for (;;) {
    const q: string = `?limit=137${cursor ? `&cursor=${cursor}` : ''}${status ? `&status=${status}` : ''}`
    const res = await p.call('GET', `/api/campaigns/${id}/recipients${q}`)
    if (res.status !== 200) throw new Error(`recipients: ${res.status} ${JSON.stringify(res.body)}`)
    out.push(...res.body.recipients)
    cursor = res.body.nextCursor
    if (!cursor) return out
  }
}

/** The counters as the per-recipient table says they are. */
export function truth(rs: CampaignRecipientDTO[]): CampaignCounts {
  const c: CampaignCounts = {
    total: 0,
    queued: 0,
    sending: 0,
    unknown: 0,
    sent: 0,
    delivered: 0,
    read: 0,
    failed: 0,
    skipped: 0,
    replied: 0,
  }
  for (const r of rs) {
    c.total++
    c[r.status]++
    if (r.repliedAt !== null) c.replied++
  }
  return c
}

/** Finished: nothing waits, nothing in flight or in doubt, and the statuses have arrived. */
export const settled = (c: CampaignDTO) =>
  c.status === 'completed' && c.counts.queued === 0 && c.counts.sending === 0 && c.counts.unknown === 0 && c.counts.sent === 0
