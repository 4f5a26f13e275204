// Reports (issue 15): campaigns' replies as a share of what was delivered, from a real
// campaign sent through the Graph API emulator — four customers get it, one answers by
// quoting it and one writes something unrelated before it arrived. The figure belongs to
// the campaign's author (by agent) and its number (by channel), on the day it was queued.
import t from 'tap'
import { startPair } from './helpers/emulator.ts'
import { action, createCampaign, importCsv, waitCampaign } from './helpers/campaigns.ts'
import type { ReportRow } from '../src/domain/reports/reports.ts'

t.test("a campaign's replies as a share of delivered, by agent, by channel and in the totals", async (t) => {
  const p = await startPair(t)
  const phones = { ana: '15550009001', ben: '15550009002', cai: '15550009003', dia: '15550009004' }
  for (const [name, phone] of Object.entries(phones)) await p.emu.customer(name, phone)
  await importCsv(p, ['phone,name,order,tags', ...Object.entries(phones).map(([n, ph]) => `+${ph},${n},#1,vip`)].join('\n'))
  // Dia wrote before the campaign: not a reply to it.
  await p.emu.say(phones.dia, 'Do you deliver on Sundays?')
  const c = await createCampaign(p, { name: 'Winter' })
  await action(p, c.id, 'start', {})
  await waitCampaign(p, c.id, (x) => x.status === 'completed' && x.counts.delivered === 4, 'delivered to all four')
  const wamid = (await p.emu.messages(phones.ana)).find((m) => m.direction === 'out')!.id
  await p.emu.say(phones.ana, 'Yes please!', { contextId: wamid })
  await waitCampaign(p, c.id, (x) => x.counts.replied === 1, 'one reply attributed')

  const today = new Date().toISOString().slice(0, 10)
  const report = async (groupBy: string) => {
    const res = await p.call('GET', `/api/reports/summary?from=${today}&to=${today}&groupBy=${groupBy}&hours=all`)
    t.equal(res.status, 200)
    return res.body as { rows: ReportRow[]; totals: ReportRow }
  }
  const expected = { delivered: 4, replied: 1, replyRate: 0.25 }
  const byAgent = await report('agent')
  t.same(byAgent.totals.campaigns, expected, 'the totals')
  const me = (await p.call('GET', '/api/me')).body.user as { id: number }
  t.same(byAgent.rows.find((r) => r.key === String(me.id))!.campaigns, expected, "the author's row")
  t.notOk(
    byAgent.rows.some((r) => r.key !== String(me.id) && r.campaigns.delivered > 0),
    'no one else sent it',
  )
  const byChannel = await report('channel')
  t.same(
    byChannel.rows.filter((r) => r.campaigns.delivered > 0).map((r) => r.campaigns),
    [expected],
    'one channel sent it',
  )
  const byDay = await report('day')
  t.same(
    byDay.rows.map((r) => [r.key, r.campaigns.replyRate]),
    [[today, 0.25]],
  )
  const csv = await fetch(`${p.parley.url}/api/reports/summary.csv?from=${today}&to=${today}&groupBy=day&hours=all`, {
    headers: { authorization: `Bearer ${p.token}` },
  })
  t.match(await csv.text(), /,4,1,0\.25\r?\n/, 'the CSV carries the figures')
})
