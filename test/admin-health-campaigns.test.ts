// Campaigns on /metrics and the health page (issue 16): a running campaign's recipients by
// state and its progress as gauges read at the scrape; one paused by itself for a revoked
// token (190) is a red item on its number with what to do, and the token item turns red.
import t from 'tap'
import { startPair, until } from './helpers/emulator.ts'
import { action, contactsCsv, createCampaign, importCsv, play, waitCampaign } from './helpers/campaigns.ts'
import type { HealthReport } from '../src/domain/health/health.ts'

const TOKEN = 'metrics-token-0123456789abcdef'
const SLOW = { WHATSAPP_SEND_RATE_PER_SECOND: '10', METRICS_TOKEN: TOKEN }

t.test('a running campaign’s progress on /metrics', async (t) => {
  const p = await startPair(t, { env: SLOW, emulator: { ratePerSecond: 10 } })
  const player = play(p)
  await importCsv(p, contactsCsv(40))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  await until(async () => player.tally().messages >= 3, '3 sent')
  // Parley records a send after WhatsApp's answer, in its own transaction (on PostgreSQL a
  // moment later): the scrape waits for Parley's own count, not the emulator's.
  await waitCampaign(p, c.id, (x) => x.counts.total - x.counts.queued - x.counts.sending >= 3, '3 recorded as handed over')
  const text = await (await fetch(`${p.parley.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()
  const progress = new RegExp(`^parley_campaign_progress_ratio\\{campaign="${c.id}"\\} ([\\d.e-]+)$`, 'm').exec(text)
  t.ok(progress, 'the progress gauge of the running campaign')
  t.ok(Number(progress![1]) > 0 && Number(progress![1]) < 1, `progress ${progress![1]}`)
  t.match(text, new RegExp(`^parley_campaign_recipients\\{campaign="${c.id}",state="queued"\\} \\d+$`, 'm'))
  await action(p, c.id, 'cancel')
})

t.test('a campaign paused for a revoked token is red on its number, with what to do', async (t) => {
  const p = await startPair(t)
  play(p)
  await importCsv(p, contactsCsv(20))
  const channel = (await p.call('GET', '/api/channels')).body.channels.find((x: { kind: string }) => x.kind === 'whatsapp')
  const c = await createCampaign(p, { name: 'Autumn' })
  t.equal((await p.call('PATCH', `/api/channels/${channel.id}`, { accessToken: 'revoked-token' })).status, 200)
  await action(p, c.id, 'start', {})
  await waitCampaign(p, c.id, (x) => x.status === 'paused', 'paused by itself')
  const wa = ((await p.call('GET', '/api/admin/health')).body as HealthReport).channels.find((x) => x.id === channel.id)!
  const item = wa.items.find((i) => i.key === `campaign:${c.id}`)
  t.equal(item?.status, 'red')
  t.match(item?.label, /Autumn/)
  t.match(item?.fix, /Renew the channel’s access token.*resume/)
  t.same(
    wa.pauses.campaigns.map((x) => [x.id, x.code]),
    [[c.id, 'token_invalid']],
  )
  t.equal(wa.items.find((i) => i.key === 'token')?.status, 'red', 'the 190s make the token red too')
  t.ok(wa.tokenErrors.count >= 1)
})
